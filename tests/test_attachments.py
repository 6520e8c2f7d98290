"""Uploads: only PDF/PNG/JPEG, by content; image metadata (EXIF, GPS, text) removed."""

from __future__ import annotations

import io
import tracemalloc

import pikepdf
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from speakup.attachments import AttachmentError, clean_upload
from tests.conftest import tiny_pdf

MB = 1024 * 1024


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "SecretPhone 12"  # Model
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_jpeg_exif_and_gps_are_removed() -> None:
    raw = _jpeg_with_gps()
    assert b"SecretPhone" in raw
    clean = clean_upload("IMG_2024_ward7.jpg", raw, max_bytes=MB)
    assert clean.content_type == "image/jpeg" and b"SecretPhone" not in clean.content
    with Image.open(io.BytesIO(clean.content)) as image:
        assert not image.getexif()
        assert image.size == (40, 20)


def test_png_text_chunks_are_removed() -> None:
    info = PngInfo()
    info.add_text("Author", "Nurse Jane Smith")
    out = io.BytesIO()
    Image.new("RGBA", (4, 4)).save(out, format="PNG", pnginfo=info)
    clean = clean_upload("x.png", out.getvalue(), max_bytes=MB)
    assert b"Jane Smith" not in clean.content and clean.filename == "x.png"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.pdf", b"", "is empty"),
    ("a.exe", b"MZ\x90\x00", "not a PDF, PNG or JPEG"),
    ("looks.pdf", b"<html>", "not a PDF, PNG or JPEG"),
    ("big.pdf", b"%PDF-" + b"0" * MB, "larger than 1 MB"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"junk" * 10, "could not be read"),
])
def test_bad_files_are_refused_with_a_plain_message(name, content, message) -> None:
    with pytest.raises(AttachmentError, match=message):
        clean_upload(name, content, max_bytes=MB)


def test_filename_is_made_safe_and_pdf_rewritten() -> None:
    clean = clean_upload("../../etc/pass<wd>.PDF", tiny_pdf("body text"), max_bytes=MB)
    assert clean.filename == "passwd.pdf" and clean.content.startswith(b"%PDF-")
    assert clean.sanitised
    with pikepdf.open(io.BytesIO(clean.content)) as pdf:
        assert len(pdf.pages) == 1


# --- hostile files (issue 8, finding 10) -------------------------------------------------------


def test_pdf_javascript_and_metadata_are_removed() -> None:
    hostile = tiny_pdf("invoice", javascript="app.alert('pwned')")
    assert b"/JavaScript" in hostile and b"/OpenAction" in hostile and b"Jane Smith" in hostile
    clean = clean_upload("rota.pdf", hostile, max_bytes=MB)
    for marker in (b"/JavaScript", b"/OpenAction", b"pwned", b"/JS", b"Jane Smith"):
        assert marker not in clean.content, marker
    with pikepdf.open(io.BytesIO(clean.content)) as pdf:
        assert "/OpenAction" not in pdf.Root and len(pdf.pages) == 1


def test_pdf_embedded_file_and_launch_action_are_removed() -> None:
    pdf = pikepdf.open(io.BytesIO(tiny_pdf("x")))
    spec = pikepdf.AttachedFileSpec(pdf, b"MZ payload", filename="run.exe")
    pdf.attachments["run.exe"] = spec
    pdf.pages[0].AA = pikepdf.Dictionary(O=pikepdf.Dictionary(
        S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    clean = clean_upload("a.pdf", out.getvalue(), max_bytes=MB).content
    for marker in (b"MZ payload", b"run.exe", b"calc.exe", b"/Launch", b"/EmbeddedFile"):
        assert marker not in clean, marker


def test_password_protected_pdf_is_refused() -> None:
    pdf = pikepdf.open(io.BytesIO(tiny_pdf("x")))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="secret"))
    with pytest.raises(AttachmentError, match="password"):
        clean_upload("a.pdf", out.getvalue(), max_bytes=MB)


def test_png_decompression_bomb_is_refused_before_decoding() -> None:
    """The review's bomb: 39 KB of PNG claiming 6320 x 6320 pixels (about 400 MiB decoded)."""
    image = Image.new("1", (6320, 6320))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    bomb = out.getvalue()
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(AttachmentError, match="too large"):
            clean_upload("bomb.png", bomb, max_bytes=MB)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * MB  # refused from the header, never decoded
