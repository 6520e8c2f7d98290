"""Uploads: only PDF/PNG/JPEG, by content; image metadata (EXIF, GPS, text) removed."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from speakup.attachments import AttachmentError, clean_upload

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


def test_filename_is_made_safe_and_pdf_kept_as_is() -> None:
    clean = clean_upload("../../etc/pass<wd>.PDF", b"%PDF-1.4 body", max_bytes=MB)
    assert clean.filename == "passwd.pdf" and clean.content == b"%PDF-1.4 body"
