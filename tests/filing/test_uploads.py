"""Tests for evidence uploads: type detection from content, Office package checks, size limits,
name cleaning and storage.  Every file is built here; no binary fixtures."""

from __future__ import annotations

import functools
import hashlib
import io
import re
import stat
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook
from werkzeug.utils import secure_filename

from feedback.filing.uploads import (
    ALLOWED_TYPES,
    CheckedFile,
    UploadRejected,
    ZipLimits,
    check_zip_safety,
    clean_original_name,
    discard,
    receive_upload,
    remove_stored,
    store,
    stored_path,
)

MIB = 1024 * 1024
MAX_BYTES = 20 * MIB
HEX = "0123456789abcdef" * 2
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
DOTX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
ALLOWED_LIST = "只能上传 PDF、Word（.docx）、Excel（.xlsx）、JPEG 或 PNG 文件。"

# --- building real files -------------------------------------------------------------------


def _content_types(main_type: str = DOCX_MAIN, extra_defaults: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Types xmlns="{CT_NS}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{extra_defaults}"
        f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>'
        "</Types>"
    ).encode()


RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.openxmlformats.org'
    b'/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>园区特殊作业专项检查：未发现重大隐患。</w:t></w:r></w:p></w:body>"
    "</w:document>"
).encode()


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx_entries(content_types: bytes | None = None) -> dict[str, bytes]:
    return {
        "[Content_Types].xml": _content_types() if content_types is None else content_types,
        "_rels/.rels": RELS,
        "word/document.xml": DOCUMENT,
    }


def _docx(*, content_types: bytes | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    return _zip(_docx_entries(content_types) | (extra or {}))


@functools.cache
def _xlsx() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["园区", "检查企业数", "发现隐患"])
    sheet.append(["示范化工园区", 12, 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _pdf(size: int | None = None) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    if size is not None:
        # Trailing whitespace after %%EOF is tolerated by readers; it pads to an exact size.
        assert size >= len(out)
        out += b"\n" * (size - len(out))
    return bytes(out)


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte + one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _jpeg() -> bytes:
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def _ole2() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def _html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def _billion_laughs() -> bytes:
    entities = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE Types [{entities}]>'
        f'<Types xmlns="{CT_NS}"><Default Extension="xml" ContentType="&l9;"/></Types>'
    ).encode()


def _patch_central(data: bytes, member: str, offset: int, update: Callable[[int], int]) -> bytes:
    """Rewrite one 16/32-bit field of ``member``'s central directory record."""
    fmt = "<L" if offset in {16, 20, 24, 42} else "<H"
    buffer = bytearray(data)
    position = buffer.find(b"PK\x01\x02")
    while position >= 0:
        (name_length,) = struct.unpack_from("<H", buffer, position + 28)
        if bytes(buffer[position + 46 : position + 46 + name_length]) == member.encode():
            (value,) = struct.unpack_from(fmt, buffer, position + offset)
            struct.pack_into(fmt, buffer, position + offset, update(value))
            return bytes(buffer)
        position = buffer.find(b"PK\x01\x02", position + 46)
    raise AssertionError(f"{member} not in the central directory")


def _forged_size() -> bytes:
    # The entry really holds a few hundred bytes but declares ~4 GiB uncompressed.
    return _patch_central(_docx(), "word/document.xml", 24, lambda _: 0xFFFF_FFF0)


def _encrypted() -> bytes:
    return _patch_central(_docx(), "word/document.xml", 8, lambda flags: flags | 0x1)


def _many_entries(count: int) -> bytes:
    return _zip({f"customXml/item{i}.xml": b"<a/>" for i in range(count)})


def _entry_count_understated(count: int) -> bytes:
    # The end record claims one entry; the central directory really holds ``count``.
    buffer = bytearray(_many_entries(count))
    end = buffer.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", buffer, end + 8, 1, 1)
    return bytes(buffer)


@functools.cache
def _bomb_docx() -> bytes:
    """A genuine docx plus a 50 MB entry of zeros that deflates to ~50 KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _docx_entries().items():
            archive.writestr(name, data)
        with archive.open("word/media/zeros.bin", "w") as member:
            block = bytes(MIB)
            for _ in range(50):
                member.write(block)
    return buffer.getvalue()


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def temp_dir(upload_dir: Path) -> Path:
    return upload_dir / ".tmp"


def _receive(
    data: bytes,
    name: str,
    temp_dir: Path,
    max_bytes: int = MAX_BYTES,
    limits: ZipLimits | None = None,
) -> CheckedFile:
    return receive_upload(
        io.BytesIO(data),
        name,
        temp_dir=temp_dir,
        max_bytes=max_bytes,
        limits=limits or ZipLimits(),
    )


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- constants -----------------------------------------------------------------------------


def test_allowed_types() -> None:
    assert ALLOWED_TYPES == {
        "pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "jpg": "image/jpeg",
        "png": "image/png",
    }


def test_upload_rejected_carries_message() -> None:
    error = UploadRejected("“a.pdf”是空文件，请检查后重新上传。")
    assert error.message == str(error) == "“a.pdf”是空文件，请检查后重新上传。"


def test_zip_limits_defaults() -> None:
    assert ZipLimits() == ZipLimits(max_entries=2000, max_total_bytes=200 * MIB, max_ratio=100)


# --- names ---------------------------------------------------------------------------------


def test_secure_filename_drops_chinese() -> None:
    # Why we do not use werkzeug's secure_filename for display names.
    assert secure_filename("安全检查报告.docx") == "docx"


NAMES: list[tuple[str, str]] = [
    ("../../etc/passwd", "passwd"),
    ("..\\x", "x"),
    ("a\x00b.pdf", "ab.pdf"),
    ("安全检查报告.docx", "安全检查报告.docx"),
    ("文件", "文件"),
    (
        "C:\\Users\\张工\\园区特殊作业专项检查报告（2026年11月）.pdf",
        "园区特殊作业专项检查报告（2026年11月）.pdf",
    ),
    ("/var/www/照片 1.JPG", "照片 1.JPG"),
    ("  \u3000检查报告.pdf \t", "检查报告.pdf"),
    ("e\u0301valuation.pdf", "\u00e9valuation.pdf"),  # NFD -> NFC
    ("报告\u202efdp.exe", "报告fdp.exe"),  # right-to-left override removed
    ("隐患\u200b清单.xlsx", "隐患清单.xlsx"),  # zero-width space (Cf) removed
    ("报" * 300 + ".pdf", "报" * 196 + ".pdf"),
    ("a" * 300, "a" * 200),
    ("x" * 250 + "." + "y" * 30, "x" * 200),  # no sensible extension to keep
    ("", ""),
    ("..", ""),
    ("a/..", ""),
    ("folder/", ""),
    ("\x00\x01\x1f", ""),
    ("\ud800.pdf", ".pdf"),  # lone surrogate removed
]


@pytest.mark.parametrize(("raw", "expected"), NAMES)
def test_clean_original_name(raw: str, expected: str) -> None:
    cleaned = clean_original_name(raw)
    assert cleaned == expected
    assert len(cleaned) <= 200
    assert "/" not in cleaned
    assert "\\" not in cleaned


# --- accepted uploads ----------------------------------------------------------------------

ACCEPTED: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("检查报告.pdf", _pdf, "pdf", "检查报告.pdf"),
    ("现场照片.png", _png, "png", "现场照片.png"),
    ("现场照片.jpg", _jpeg, "jpg", "现场照片.jpg"),
    ("现场照片.jpeg", _jpeg, "jpg", "现场照片.jpeg"),
    ("IMG_0001.JPG", _jpeg, "jpg", "IMG_0001.JPG"),
    ("安全检查报告.docx", _docx, "docx", "安全检查报告.docx"),
    ("隐患统计表.xlsx", _xlsx, "xlsx", "隐患统计表.xlsx"),
    ("C:\\Users\\张工\\报告.PDF", _pdf, "pdf", "报告.PDF"),
    ("", _pdf, "pdf", "附件.pdf"),
    ("../", _xlsx, "xlsx", "附件.xlsx"),
    ("\x00", _png, "png", "附件.png"),
]


@pytest.mark.parametrize(("name", "build", "extension", "display"), ACCEPTED)
def test_receive_upload_accepts(
    temp_dir: Path, name: str, build: Callable[[], bytes], extension: str, display: str
) -> None:
    data = build()
    checked = _receive(data, name, temp_dir)
    assert checked.original_name == display
    assert checked.extension == extension
    assert checked.media_type == ALLOWED_TYPES[extension]
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.temp_path.parent == temp_dir
    assert checked.temp_path.read_bytes() == data
    assert _leftovers(temp_dir) == [checked.temp_path]


def test_limit_is_inclusive(temp_dir: Path) -> None:
    data = _pdf(size=1000)
    assert _receive(data, "刚好.pdf", temp_dir, max_bytes=1000).size == 1000


def test_small_compressible_parts_are_not_bombs(temp_dir: Path) -> None:
    # 512 KiB of zeros compresses ~1000:1 but is under the 1 MiB floor for the ratio check.
    data = _docx(extra={"customXml/item1.xml": bytes(512 * 1024)})
    assert _receive(data, "报告.docx", temp_dir).extension == "docx"


# --- rejected uploads ----------------------------------------------------------------------

REJECTED: list[tuple[str, Callable[[], bytes], str]] = [
    # Content does not match the name.
    ("检查报告.pdf", _html, "“检查报告.pdf”不是有效的 PDF 文件（文件内容与扩展名不符）。"),
    ("检查报告.pdf", _docx, "“检查报告.pdf”不是有效的 PDF 文件（文件内容与扩展名不符）。"),
    ("统计表.docx", _xlsx, "“统计表.docx”不是有效的 Word 文档（文件内容与扩展名不符）。"),
    ("报告.xlsx", _docx, "“报告.xlsx”不是有效的 Excel 表格（文件内容与扩展名不符）。"),
    (
        "统计表.xlsx",
        lambda: _zip({"a.txt": b"hello"}),
        "“统计表.xlsx”不是有效的 Excel 表格（文件内容与扩展名不符）。",
    ),
    ("照片.jpg", _png, "“照片.jpg”不是有效的 JPEG 图片（文件内容与扩展名不符）。"),
    ("照片.png", _jpeg, "“照片.png”不是有效的 PNG 图片（文件内容与扩展名不符）。"),
    ("照片.png", _pdf, "“照片.png”不是有效的 PNG 图片（文件内容与扩展名不符）。"),
    (
        "模板.docx",
        lambda: _docx(content_types=_content_types(DOTX_MAIN)),
        "“模板.docx”不是有效的 Word 文档（文件内容与扩展名不符）。",
    ),
    (
        "缺正文.docx",
        lambda: _zip({"[Content_Types].xml": _content_types(), "_rels/.rels": RELS}),
        "“缺正文.docx”不是有效的 Word 文档（文件内容与扩展名不符）。",
    ),
    # Types not allowed at all.
    ("脚本.exe", _pdf, f"“脚本.exe”的文件类型不受支持。{ALLOWED_LIST}"),
    ("页面.html", _html, f"“页面.html”的文件类型不受支持。{ALLOWED_LIST}"),
    ("文件", _pdf, f"“文件”的文件类型不受支持。{ALLOWED_LIST}"),
    ("", _html, f"“附件”的文件类型不受支持。{ALLOWED_LIST}"),
    ("", _ole2, f"“附件”的文件类型不受支持。{ALLOWED_LIST}"),
    # Legacy Office.
    ("旧表格.xls", _ole2, "“旧表格.xls”是旧版 Office 格式，请另存为 .xlsx 后上传。"),
    ("旧报告.doc", _ole2, "“旧报告.doc”是旧版 Office 格式，请另存为 .docx 后上传。"),
    (
        "加密.xlsx",
        _ole2,
        "“加密.xlsx”是旧版 Office 格式或设置了打开密码，请取消密码并另存为 .xlsx 后上传。",
    ),
    # Macros.
    (
        "统计表.xlsm",
        _xlsx,
        "“统计表.xlsm”包含宏，出于安全原因不能上传。请另存为不含宏的 .xlsx 后重新上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(extra={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}),
        "“报告.docx”包含宏，出于安全原因不能上传。请另存为不含宏的 .docx 后重新上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(extra={"word/vbaData.xml": b"<wne:vbaSuppData/>"}),
        "“报告.docx”包含宏，出于安全原因不能上传。请另存为不含宏的 .docx 后重新上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(extra={"custom/VBAPROJECT.BIN": b"x"}),
        "“报告.docx”包含宏，出于安全原因不能上传。请另存为不含宏的 .docx 后重新上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(content_types=_content_types(DOCM_MAIN)),
        "“报告.docx”包含宏，出于安全原因不能上传。请另存为不含宏的 .docx 后重新上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(
            content_types=_content_types(
                extra_defaults='<Default Extension="bin" '
                'ContentType="application/vnd.ms-office.vbaProject"/>'
            )
        ),
        "“报告.docx”包含宏，出于安全原因不能上传。请另存为不含宏的 .docx 后重新上传。",
    ),
    # Unsafe packages.
    (
        "报告.docx",
        lambda: _docx(extra={"../evil.xml": b"<a/>"}),
        "“报告.docx”包含不安全的内部路径，出于安全原因不能上传。",
    ),
    (
        "报告.docx",
        _encrypted,
        "“报告.docx”已加密或设置了密码，请取消密码保护后重新上传。",
    ),
    (
        "报告.docx",
        _forged_size,
        "“报告.docx”解压后超过 200 MB，出于安全原因不能上传。",
    ),
    (
        "报告.docx",
        _bomb_docx,
        "“报告.docx”的压缩比例异常（疑似“压缩炸弹”），出于安全原因不能上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(content_types=_billion_laughs()),
        "“报告.docx”已损坏或不是有效的 Word 文档，请重新保存后上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(content_types=b"<Types"),
        "“报告.docx”已损坏或不是有效的 Word 文档，请重新保存后上传。",
    ),
    (
        "报告.docx",
        lambda: _docx(content_types=b"<Other/>"),
        "“报告.docx”已损坏或不是有效的 Word 文档，请重新保存后上传。",
    ),
    (
        "报告.docx",
        lambda: _docx()[:-30],
        "“报告.docx”已损坏或不是有效的 Office 文件，请重新保存后上传。",
    ),
    (
        "报告.docx",
        lambda: _many_entries(2001),
        "“报告.docx”包含的内部文件过多（超过 2000 个），出于安全原因不能上传。",
    ),
    # Empty.
    ("空白.pdf", lambda: b"", "“空白.pdf”是空文件，请检查后重新上传。"),
]


@pytest.mark.parametrize(("name", "build", "message"), REJECTED)
def test_receive_upload_rejects(
    temp_dir: Path, name: str, build: Callable[[], bytes], message: str
) -> None:
    data = build()
    with pytest.raises(UploadRejected) as caught:
        _receive(data, name, temp_dir)
    assert caught.value.message == message
    assert _leftovers(temp_dir) == []


def test_zip_bomb_is_rejected_quickly_without_inflating(temp_dir: Path) -> None:
    data = _bomb_docx()
    assert len(data) < 1 * MIB  # 50 MB of zeros, deflated
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(UploadRejected, match="压缩炸弹"):
            _receive(data, "报告.docx", temp_dir)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 20 * MIB
    assert _leftovers(temp_dir) == []


def test_entity_bomb_is_rejected_quickly(temp_dir: Path) -> None:
    data = _docx(content_types=_billion_laughs())
    started = time.perf_counter()
    with pytest.raises(UploadRejected, match="已损坏"):
        _receive(data, "报告.docx", temp_dir)
    assert time.perf_counter() - started < 1.0


# --- size limit while streaming ------------------------------------------------------------


def test_oversize_stream_stops_at_the_limit(temp_dir: Path) -> None:
    stream = io.BytesIO(_pdf(size=5000))
    with pytest.raises(UploadRejected) as caught:
        receive_upload(stream, "大文件.pdf", temp_dir=temp_dir, max_bytes=1000)
    assert caught.value.message == "“大文件.pdf”超过 1000 字节的大小限制。"
    assert stream.tell() == 1001  # one byte past the limit proves it; no more is read
    assert _leftovers(temp_dir) == []


@pytest.mark.parametrize(
    ("max_bytes", "message"),
    [
        (20 * MIB, "“照片.png”超过 20 MB 的大小限制。"),
        (MIB + MIB // 2, "“照片.png”超过 1.5 MB 的大小限制。"),
        (10 * 1024, "“照片.png”超过 10 KB 的大小限制。"),
        (999, "“照片.png”超过 999 字节的大小限制。"),
    ],
)
def test_oversize_message_names_the_limit(temp_dir: Path, max_bytes: int, message: str) -> None:
    data = _png() + bytes(max_bytes)
    with pytest.raises(UploadRejected) as caught:
        _receive(data, "照片.png", temp_dir, max_bytes=max_bytes)
    assert caught.value.message == message
    assert _leftovers(temp_dir) == []


class _BrokenStream(io.BytesIO):
    """A client that disconnects after the first chunk."""

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() > 0:
            raise OSError("connection reset")
        return super().read(size)


def test_stream_error_leaves_no_temp_file(temp_dir: Path) -> None:
    stream = _BrokenStream(_pdf(size=200_000))
    with pytest.raises(OSError, match="connection reset"):
        receive_upload(stream, "报告.pdf", temp_dir=temp_dir, max_bytes=MAX_BYTES)
    assert _leftovers(temp_dir) == []


def test_temp_dir_is_private(temp_dir: Path, upload_dir: Path) -> None:
    checked = _receive(_pdf(), "报告.pdf", temp_dir)
    assert _mode(temp_dir) == 0o700
    assert _mode(upload_dir) == 0o700
    assert _mode(checked.temp_path) == 0o600


# --- check_zip_safety directly (also used by the Excel import) -----------------------------

ZIP_CASES: list[tuple[str, Callable[[], bytes], ZipLimits, str | None]] = [
    ("ok docx", _docx, ZipLimits(), None),
    ("ok xlsx", _xlsx, ZipLimits(), None),
    ("5 of 5 entries", lambda: _many_entries(5), ZipLimits(max_entries=5), None),
    ("6 of 5 entries", lambda: _many_entries(6), ZipLimits(max_entries=5), "内部文件过多"),
    ("2000 entries", lambda: _many_entries(2000), ZipLimits(), None),
    ("2001 entries", lambda: _many_entries(2001), ZipLimits(), "内部文件过多"),
    ("count understated", lambda: _entry_count_understated(2001), ZipLimits(), "内部文件过多"),
    (
        "total at limit",
        lambda: _zip({f"p{i}.bin": bytes(256 * 1024) for i in range(4)}, zipfile.ZIP_STORED),
        ZipLimits(max_total_bytes=MIB),
        None,
    ),
    (
        "total over limit",
        lambda: _zip({f"p{i}.bin": bytes(256 * 1024) for i in range(5)}, zipfile.ZIP_STORED),
        ZipLimits(max_total_bytes=MIB),
        "解压后超过 1 MB",
    ),
    ("forged size", _forged_size, ZipLimits(), "解压后超过 200 MB"),
    ("ratio over", lambda: _zip({"z.bin": bytes(2 * MIB)}), ZipLimits(), "压缩比例异常"),
    ("ratio allowed", lambda: _zip({"z.bin": bytes(2 * MIB)}), ZipLimits(max_ratio=10_000), None),
    ("dot-dot", lambda: _zip({"../evil.xml": b"<a/>"}), ZipLimits(), "不安全的内部路径"),
    ("deep dot-dot", lambda: _zip({"word/../../x.xml": b"<a/>"}), ZipLimits(), "不安全"),
    ("absolute", lambda: _zip({"/etc/cron.d/x": b"x"}), ZipLimits(), "不安全的内部路径"),
    ("backslash", lambda: _zip({"word\\document.xml": b"x"}), ZipLimits(), "不安全的内部路径"),
    ("drive", lambda: _zip({"C:/x.xml": b"x"}), ZipLimits(), "不安全的内部路径"),
    ("dots in a name", lambda: _zip({"word/..x.xml": b"x"}), ZipLimits(), None),
    ("encrypted", _encrypted, ZipLimits(), "已加密"),
    (
        "case duplicates",
        lambda: _zip({"word/document.xml": b"a", "Word/Document.xml": b"b"}),
        ZipLimits(),
        "内部结构异常",
    ),
    ("not a zip", _pdf, ZipLimits(), "已损坏"),
    ("truncated", lambda: _docx()[:-22], ZipLimits(), "已损坏"),
    ("junk before zip", lambda: b"MZ" + _docx(), ZipLimits(), "已损坏"),
]


@pytest.mark.parametrize(
    ("build", "limits", "fragment"),
    [
        pytest.param(build, limits, fragment, id=label)
        for label, build, limits, fragment in ZIP_CASES
    ],
)
def test_check_zip_safety(
    tmp_path: Path, build: Callable[[], bytes], limits: ZipLimits, fragment: str | None
) -> None:
    path = tmp_path / "package.xlsx"
    path.write_bytes(build())
    if fragment is None:
        check_zip_safety(path, "导入表.xlsx", limits)
        return
    with pytest.raises(UploadRejected) as caught:
        check_zip_safety(path, "导入表.xlsx", limits)
    assert caught.value.message.startswith("“导入表.xlsx”")
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        pytest.param(lambda: _many_entries(6), "内部文件过多（超过 5 个）", id="count"),
        pytest.param(lambda: _entry_count_understated(200), "内部结构异常", id="directory size"),
    ],
)
def test_central_directory_is_bounded_before_zipfile_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: Callable[[], bytes], fragment: str
) -> None:
    # zipfile builds one object per central directory record; a huge directory must be
    # refused from the end record alone, before zipfile is asked to read it.
    path = tmp_path / "package.xlsx"
    path.write_bytes(build())

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile.ZipFile opened")

    monkeypatch.setattr(zipfile, "ZipFile", refuse)
    with pytest.raises(UploadRejected, match=re.escape(fragment)):
        check_zip_safety(path, "导入表.xlsx", ZipLimits(max_entries=5))


def test_check_zip_safety_uses_limits_in_upload(temp_dir: Path) -> None:
    with pytest.raises(UploadRejected, match="内部文件过多（超过 2 个）"):
        _receive(_docx(), "报告.docx", temp_dir, limits=ZipLimits(max_entries=2))
    assert _leftovers(temp_dir) == []


# --- storage -------------------------------------------------------------------------------

STORED = re.compile(r"[0-9a-f]{32}\.(pdf|docx|xlsx|jpg|png)")


@pytest.mark.parametrize(
    ("name", "build", "extension"),
    [
        ("报告.pdf", _pdf, "pdf"),
        ("报告.docx", _docx, "docx"),
        ("统计表.xlsx", _xlsx, "xlsx"),
        ("照片.jpeg", _jpeg, "jpg"),
        ("照片.png", _png, "png"),
    ],
)
def test_store(
    temp_dir: Path, upload_dir: Path, name: str, build: Callable[[], bytes], extension: str
) -> None:
    data = build()
    checked = _receive(data, name, temp_dir)
    stored_name = store(checked, upload_dir)
    match = STORED.fullmatch(stored_name)
    assert match is not None
    assert match.group(1) == extension
    path = upload_dir / stored_name
    assert path.read_bytes() == data
    assert _mode(path) == 0o600
    assert _mode(upload_dir) == 0o700
    assert not checked.temp_path.exists()
    assert _leftovers(temp_dir) == []
    assert stored_path(upload_dir, stored_name) == path.resolve()


def test_store_creates_private_dir(temp_dir: Path, tmp_path: Path) -> None:
    checked = _receive(_pdf(), "报告.pdf", temp_dir)
    target = tmp_path / "elsewhere" / "files"
    stored_name = store(checked, target)
    assert _mode(target) == 0o700
    assert _mode(target.parent) == 0o700
    assert _mode(target / stored_name) == 0o600


def test_store_names_are_random(temp_dir: Path, upload_dir: Path) -> None:
    first = store(_receive(_pdf(), "同名.pdf", temp_dir), upload_dir)
    second = store(_receive(_pdf(), "同名.pdf", temp_dir), upload_dir)
    assert first != second
    assert sorted(p.name for p in upload_dir.iterdir() if p.is_file()) == sorted([first, second])


def test_discard(temp_dir: Path) -> None:
    checked = _receive(_pdf(), "报告.pdf", temp_dir)
    discard(checked)
    assert _leftovers(temp_dir) == []
    discard(checked)  # a second call is harmless


@pytest.mark.parametrize(
    "name",
    [
        "../x.pdf",
        "x.pdf",
        f"../{HEX}.pdf",
        f"sub/{HEX}.pdf",
        f"{HEX.upper()}.pdf",
        f"{HEX}.PDF",
        f"{HEX}.exe",
        f"{HEX}.jpeg",
        f"{HEX}.pdf\n",
        f"{HEX}.pdf/..",
        f"{HEX[:-1]}g.pdf",
        f"{HEX}0.pdf",
        HEX,
        "",
    ],
)
def test_stored_path_rejects(upload_dir: Path, name: str) -> None:
    with pytest.raises(ValueError, match="stored file name"):
        stored_path(upload_dir, name)


@pytest.mark.parametrize("extension", sorted(ALLOWED_TYPES))
def test_stored_path_accepts(upload_dir: Path, extension: str) -> None:
    name = f"{HEX}.{extension}"
    assert stored_path(upload_dir, name) == upload_dir.resolve() / name


def test_stored_path_rejects_symlink_escape(tmp_path: Path, upload_dir: Path) -> None:
    upload_dir.mkdir()
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(_pdf())
    (upload_dir / f"{HEX}.pdf").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the upload directory"):
        stored_path(upload_dir, f"{HEX}.pdf")


def test_remove_stored(temp_dir: Path, upload_dir: Path) -> None:
    stored_name = store(_receive(_png(), "照片.png", temp_dir), upload_dir)
    remove_stored(upload_dir, stored_name)
    assert not (upload_dir / stored_name).exists()
    remove_stored(upload_dir, stored_name)  # already gone: no error
    with pytest.raises(ValueError, match="stored file name"):
        remove_stored(upload_dir, "../uploads.db")
