"""Evidence files attached to field reports: receiving, checking and storing uploads.

An upload is streamed to a temporary file (size-limited, SHA-256 as it goes), its type is
detected from its content and must agree with the extension of the original name, and Office
files are checked as ZIP packages before anything inside them is parsed.  Accepted types:
PDF, Word (.docx), Excel (.xlsx), JPEG and PNG.  Every rejection raises :class:`UploadRejected`
with a Chinese message naming the file, and leaves no temporary file behind.

Typical use::

    checked = receive_upload(file.stream, file.filename or "", temp_dir=upload_dir / ".tmp",
                             max_bytes=20 * 1024 * 1024)
    stored_name = store(checked, upload_dir)   # or discard(checked) if the form fails

The original name is kept for display only; files are stored under a random name whose
extension comes from the detected type (see :func:`stored_path`).
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET

from feedback.filing.scanning import scan_upload
from feedback.filing.text import nfc

__all__ = [
    "ALLOWED_TYPES",
    "CheckedFile",
    "UploadRejected",
    "ZipLimits",
    "check_zip_safety",
    "clean_original_name",
    "discard",
    "is_stored_name",
    "receive_upload",
    "remove_stored",
    "store",
    "stored_path",
]

ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jpg": "image/jpeg",
    "png": "image/png",
}

ALLOWED_LIST: Final = "只能上传 PDF、Word（.docx）、Excel（.xlsx）、JPEG 或 PNG 文件。"
FALLBACK_STEM: Final = "附件"
MAX_NAME_LENGTH: Final = 200

_CHUNK: Final = 64 * 1024
_MIB: Final = 1024 * 1024
# Tiny XML parts legitimately compress 100:1 or better; only large entries can be bombs.
_RATIO_FLOOR: Final = _MIB
# [Content_Types].xml is a few KB even in big workbooks; anything larger is not Office output.
_MAX_CONTENT_TYPES_BYTES: Final = _MIB
# Central directory records are ~80 bytes in Office files; this bounds what zipfile loads.
_MAX_CENTRAL_DIRECTORY_PER_ENTRY: Final = 1024

_PDF: Final = b"%PDF-"
_PNG: Final = b"\x89PNG\r\n\x1a\n"
_JPEG: Final = b"\xff\xd8\xff"
_ZIP: Final = b"PK\x03\x04"
_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Extension of the original name -> detected type it must have.
_CLAIMED: Final[dict[str, str]] = {
    "pdf": "pdf",
    "docx": "docx",
    "xlsx": "xlsx",
    "jpg": "jpg",
    "jpeg": "jpg",
    "png": "png",
}
# Legacy and macro-enabled Office extensions -> the format to save as instead.
_LEGACY: Final[dict[str, str]] = {"doc": "docx", "xls": "xlsx"}
_MACRO_ENABLED: Final[dict[str, str]] = {"docm": "docx", "xlsm": "xlsx"}

_NOUNS: Final[dict[str, str]] = {
    "pdf": "PDF 文件",
    "docx": "Word 文档",
    "xlsx": "Excel 表格",
    "jpg": "JPEG 图片",
    "png": "PNG 图片",
}

_CT_NAMESPACE: Final = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_CONTENT_TYPES: Final = "[Content_Types].xml"
# Detected type -> (main part name, lower-cased, as in [Content_Types].xml; its content type).
_MAIN_PARTS: Final[dict[str, tuple[str, str]]] = {
    "docx": (
        "/word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    "xlsx": (
        "/xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
}
_MACRO_PARTS: Final = frozenset({"vbaproject.bin", "vbadata.xml"})
_MACRO_TYPE_MARKERS: Final = ("macroenabled", "vbaproject")

_STORED_NAME: Final = re.compile(r"[0-9a-f]{32}\.(?:" + "|".join(ALLOWED_TYPES) + ")")

_EOCD: Final = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR: Final = struct.Struct("<4sLQL")
_EOCD64: Final = struct.Struct("<4sQ2H2L4Q")


class UploadRejected(Exception):
    """An upload refused for a reason the user can act on; ``message`` is shown to them.

    ``audit`` holds the details of a refusal the audit trail must keep (a malware finding);
    the view writes it with :func:`feedback.filing.scanning.audit_rejection`.
    """

    message: str
    audit: dict[str, str] | None

    def __init__(self, message: str, *, audit: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.audit = audit


@dataclass(frozen=True)
class ZipLimits:
    """Bounds an Office (ZIP) package must respect before anything in it is parsed."""

    max_entries: int = 2000
    max_total_bytes: int = 200 * _MIB
    max_ratio: int = 100


@dataclass
class CheckedFile:
    """An accepted upload waiting in a temporary file for :func:`store` or :func:`discard`."""

    original_name: str
    extension: str
    media_type: str
    size: int
    sha256: str
    temp_path: Path


def clean_original_name(raw: str) -> str:
    """Return ``raw`` made safe for display: NFC, no control characters, last path component
    only, trimmed, at most 200 characters (keeping the extension); "" if nothing is left."""
    name = nfc(raw)  # file names arrive in multipart parts, not through a form field
    # Cc/Cf hide or reorder text (NUL, U+202E right-to-left override); lone surrogates (Cs)
    # cannot be encoded as UTF-8 and would fail later in the database or the response.
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf", "Cs"})
    name = re.split(r"[/\\]", name)[-1].strip()
    if name in {".", ".."}:
        return ""
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) < 20:
            keep = MAX_NAME_LENGTH - len(extension) - 1
            name = stem[:keep].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name


def check_zip_safety(path: Path, display_name: str, limits: ZipLimits = ZipLimits()) -> None:
    """Raise :class:`UploadRejected` unless the ZIP at ``path`` is safe to open: few entries,
    bounded declared size and compression ratio, plain relative names, nothing encrypted.

    Only the central directory is read; no entry is decompressed.
    """
    damaged = f"“{display_name}”已损坏或不是有效的 Office 文件，请重新保存后上传。"
    odd = f"“{display_name}”的内部结构异常，出于安全原因不能上传。"
    too_many = (
        f"“{display_name}”包含的内部文件过多（超过 {limits.max_entries} 个），"
        "出于安全原因不能上传。"
    )
    try:
        with path.open("rb") as handle:
            if handle.read(len(_ZIP)) != _ZIP:
                raise UploadRejected(damaged)
            shape = _central_directory_shape(handle)
    except OSError as error:
        raise UploadRejected(damaged) from error
    if shape is None:
        raise UploadRejected(damaged)
    # zipfile loads the whole central directory into memory, one object per record, so it
    # is bounded here from the end record before zipfile is allowed to read it.
    declared_entries, directory_size = shape
    if declared_entries > limits.max_entries:
        raise UploadRejected(too_many)
    if directory_size > limits.max_entries * _MAX_CENTRAL_DIRECTORY_PER_ENTRY:
        raise UploadRejected(odd)

    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
        raise UploadRejected(damaged) from error

    if len(infos) > limits.max_entries:
        raise UploadRejected(too_many)
    # Part names are case-insensitive in OOXML; two entries with one name let different
    # readers see different content.
    if len({info.filename.casefold() for info in infos}) != len(infos):
        raise UploadRejected(odd)
    if sum(info.file_size for info in infos) > limits.max_total_bytes:
        raise UploadRejected(
            f"“{display_name}”解压后超过 {_format_size(limits.max_total_bytes)}，"
            "出于安全原因不能上传。"
        )
    for info in infos:
        if _unsafe_member_name(info.filename):
            raise UploadRejected(f"“{display_name}”包含不安全的内部路径，出于安全原因不能上传。")
        if info.flag_bits & 0x1:
            raise UploadRejected(f"“{display_name}”已加密或设置了密码，请取消密码保护后重新上传。")
        if info.file_size > _RATIO_FLOOR and info.file_size > info.compress_size * limits.max_ratio:
            raise UploadRejected(
                f"“{display_name}”的压缩比例异常（疑似“压缩炸弹”），出于安全原因不能上传。"
            )


def receive_upload(
    stream: BinaryIO,
    original_name: str,
    *,
    temp_dir: Path,
    max_bytes: int,
    limits: ZipLimits = ZipLimits(),
) -> CheckedFile:
    """Copy ``stream`` to a temporary file in ``temp_dir`` and check it.

    Returns the accepted file; raises :class:`UploadRejected` (with no temporary file left)
    if it is too large, empty, of a type not allowed, not what its extension says, an
    unsafe or macro-enabled Office file, or refused by the malware scanner.
    """
    cleaned = clean_original_name(original_name)
    display = cleaned or FALLBACK_STEM
    claimed = _extension(cleaned) if cleaned else None
    if claimed is not None:
        _check_claimed_extension(display, claimed)

    _make_private_dir(temp_dir)
    descriptor, name = tempfile.mkstemp(dir=temp_dir, prefix="upload-", suffix=".part")
    temp_path = Path(name)
    accepted = False
    try:
        size, digest = _copy_limited(descriptor, stream, max_bytes, display)
        if size == 0:
            raise UploadRejected(f"“{display}”是空文件，请检查后重新上传。")
        detected = _detect(temp_path, display, claimed, limits)
        scan_upload(temp_path, display)  # malware scanning, when configured (row 27)
        checked = CheckedFile(
            original_name=cleaned or f"{FALLBACK_STEM}.{detected}",
            extension=detected,
            media_type=ALLOWED_TYPES[detected],
            size=size,
            sha256=digest,
            temp_path=temp_path,
        )
        accepted = True
        return checked
    finally:
        if not accepted:
            temp_path.unlink(missing_ok=True)


def discard(checked: CheckedFile) -> None:
    """Remove the temporary file of ``checked`` if it is still there."""
    checked.temp_path.unlink(missing_ok=True)


def store(checked: CheckedFile, upload_dir: Path) -> str:
    """Move ``checked`` into ``upload_dir`` under a random name and return that name.

    The directory is created 0700 if missing and the file is 0600.  The temporary file must
    be on the same filesystem (``temp_dir`` inside ``upload_dir``) so the move is atomic.
    """
    if checked.extension not in ALLOWED_TYPES:
        raise ValueError(f"not an allowed extension: {checked.extension!r}")
    _make_private_dir(upload_dir)
    stored_name = f"{uuid.uuid4().hex}.{checked.extension}"
    destination = stored_path(upload_dir, stored_name)
    os.chmod(checked.temp_path, 0o600)
    os.replace(checked.temp_path, destination)
    return stored_name


def is_stored_name(name: str) -> bool:
    """True if ``name`` has the shape of a name :func:`store` gives."""
    return _STORED_NAME.fullmatch(name) is not None


def stored_path(upload_dir: Path, stored_name: str) -> Path:
    """Return the path of ``stored_name`` in ``upload_dir``.

    Raises ValueError unless the name is 32 lower-case hex digits, a dot and an allowed
    extension, and the path resolves directly inside ``upload_dir`` (no symlink escape).
    """
    if not is_stored_name(stored_name):
        raise ValueError(f"not a stored file name: {stored_name!r}")
    base = upload_dir.resolve()
    path = (base / stored_name).resolve()
    if path.parent != base:
        raise ValueError(f"stored file outside the upload directory: {stored_name!r}")
    return path


def remove_stored(upload_dir: Path, stored_name: str) -> None:
    """Delete a stored file if present; ValueError for a name :func:`stored_path` refuses."""
    stored_path(upload_dir, stored_name).unlink(missing_ok=True)


# --- helpers -----------------------------------------------------------------------------


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def _mismatch(display: str, expected: str | None) -> UploadRejected:
    if expected is None:
        return UploadRejected(f"“{display}”的文件类型不受支持。{ALLOWED_LIST}")
    return UploadRejected(f"“{display}”不是有效的 {_NOUNS[expected]}（文件内容与扩展名不符）。")


def _macro(display: str, expected: str | None) -> UploadRejected:
    target = f" .{expected}" if expected else " .docx 或 .xlsx"
    return UploadRejected(
        f"“{display}”包含宏，出于安全原因不能上传。请另存为不含宏的{target} 后重新上传。"
    )


def _check_claimed_extension(display: str, claimed: str) -> None:
    if claimed in _CLAIMED:
        return
    if claimed in _LEGACY:
        raise UploadRejected(
            f"“{display}”是旧版 Office 格式，请另存为 .{_LEGACY[claimed]} 后上传。"
        )
    if claimed in _MACRO_ENABLED:
        raise _macro(display, _MACRO_ENABLED[claimed])
    raise UploadRejected(f"“{display}”的文件类型不受支持。{ALLOWED_LIST}")


def _make_private_dir(path: Path) -> None:
    # os.makedirs applies its mode to the last folder only; every folder created here is ours.
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def _copy_limited(
    descriptor: int, stream: BinaryIO, max_bytes: int, display: str
) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(descriptor, "wb") as out:
        while True:
            # Never ask for more than one byte past the limit: that byte proves it too large.
            chunk = stream.read(min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                shown = _format_size(max_bytes)
                gap = " " if shown[-1].isascii() else ""  # "20 MB 的" but "1000 字节的"
                raise UploadRejected(f"“{display}”超过 {shown}{gap}的大小限制。")
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _format_size(size: int) -> str:
    for unit, factor in (("MB", _MIB), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} 字节"


def _detect(path: Path, display: str, claimed: str | None, limits: ZipLimits) -> str:
    expected = _CLAIMED[claimed] if claimed is not None else None
    with path.open("rb") as handle:
        head = handle.read(len(_OLE2))
    if head.startswith(_OLE2):
        # Password-protected .docx/.xlsx are OLE2 containers too, so say both.
        if expected in {"docx", "xlsx"}:
            raise UploadRejected(
                f"“{display}”是旧版 Office 格式或设置了打开密码，"
                f"请取消密码并另存为 .{expected} 后上传。"
            )
        raise _mismatch(display, expected)
    if head.startswith(_ZIP):
        if expected not in {None, "docx", "xlsx"}:
            raise _mismatch(display, expected)
        return _check_ooxml(path, display, expected, limits)
    detected = None
    if head.startswith(_PDF):
        detected = "pdf"
    elif head.startswith(_PNG):
        detected = "png"
    elif head.startswith(_JPEG):
        detected = "jpg"
    if detected is None or (expected is not None and detected != expected):
        raise _mismatch(display, expected)
    return detected


def _check_ooxml(path: Path, display: str, expected: str | None, limits: ZipLimits) -> str:
    check_zip_safety(path, display, limits)
    noun = _NOUNS[expected] if expected else "Office 文件"
    damaged = UploadRejected(f"“{display}”已损坏或不是有效的 {noun}，请重新保存后上传。")
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename.casefold() for info in archive.infolist()}
            if any(name.rsplit("/", 1)[-1] in _MACRO_PARTS for name in names):
                raise _macro(display, expected)
            try:
                info = archive.getinfo(_CONTENT_TYPES)
            except KeyError:
                raise _mismatch(display, expected) from None
            if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                raise damaged
            with archive.open(info) as member:
                # Bounded read: the declared size may lie, and zipfile stops at it anyway.
                data = member.read(_MAX_CONTENT_TYPES_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as error:
        raise damaged from error
    if len(data) > _MAX_CONTENT_TYPES_BYTES:
        raise damaged

    try:
        # OPC forbids DTDs in [Content_Types].xml; refusing them also stops entity bombs.
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except (ParseError, ValueError) as error:  # DefusedXmlException is a ValueError
        raise damaged from error
    if root.tag != f"{_CT_NAMESPACE}Types":
        raise damaged

    content_types = [element.get("ContentType", "") for element in root]
    if any(marker in ct.lower() for ct in content_types for marker in _MACRO_TYPE_MARKERS):
        raise _macro(display, expected)
    overrides = {
        element.get("PartName", "").lower(): element.get("ContentType", "")
        for element in root
        if element.tag == f"{_CT_NAMESPACE}Override"
    }
    found = [
        kind
        for kind, (part, content_type) in _MAIN_PARTS.items()
        if overrides.get(part) == content_type and part.lstrip("/") in names
    ]
    if len(found) != 1 or (expected is not None and found[0] != expected):
        raise _mismatch(display, expected)
    return found[0]


def _unsafe_member_name(name: str) -> bool:
    if not name or "\\" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return True
    return ".." in name.split("/")


def _central_directory_shape(handle: BinaryIO) -> tuple[int, int] | None:
    """Return (entry count, central directory size) from the end record, as zipfile finds it."""
    handle.seek(0, os.SEEK_END)
    file_size = handle.tell()
    search = _EOCD.size + 0xFFFF  # the end record plus the longest archive comment
    prefix = _EOCD64_LOCATOR.size + _EOCD64.size  # room for the ZIP64 records before it
    tail_size = min(file_size, search + prefix)
    handle.seek(file_size - tail_size)
    tail = handle.read(tail_size)

    signature = b"PK\x05\x06"
    start = len(tail) - _EOCD.size
    # Like zipfile: an end record with no comment at the very end wins, else the last one.
    if start < 0 or tail[start : start + 4] != signature or tail[-2:] != b"\x00\x00":
        start = tail.rfind(signature, max(0, len(tail) - search))
        if start < 0 or start + _EOCD.size > len(tail):
            return None
    fields = _EOCD.unpack_from(tail, start)
    entries: int = fields[4]
    directory_size: int = fields[5]

    locator = start - _EOCD64_LOCATOR.size
    record = locator - _EOCD64.size
    if record >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        fields64 = _EOCD64.unpack_from(tail, record)
        # zipfile ignores a locator without its record, so the 32-bit values stand then.
        if fields64[0] == b"PK\x06\x06":
            entries, directory_size = fields64[7], fields64[8]
    return entries, directory_size
