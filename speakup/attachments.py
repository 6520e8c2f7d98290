"""Checking uploaded files and removing what could identify the sender.

Only PDF, PNG and JPEG are accepted, recognised by their content, not their name. Images are
decoded and re-encoded from their pixels alone, which drops EXIF (camera, GPS position, time),
XMP, ICC and text chunks. PDFs cannot be cleaned reliably, so the form tells the reporter that
document metadata (author name, software) may identify them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
MAX_PIXELS = 40_000_000


class AttachmentError(ValueError):
    """A file that cannot be accepted; the message is written for the reporter."""


@dataclass(frozen=True)
class CleanFile:
    filename: str
    content_type: str
    content: bytes
    # True for a PDF whose active content (scripts, launch actions, embedded files) was removed.
    sanitised: bool = False


def sniff(content: bytes) -> str | None:
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _safe_name(filename: str, content_type: str) -> str:
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = "".join(ch for ch in stem if ch.isalnum() or ch in " -_")[:80].strip() or "file"
    return stem + ALLOWED[content_type]


def _strip_image(content: bytes, content_type: str) -> bytes:
    try:
        with Image.open(io.BytesIO(content)) as image:
            # Check the size before decoding: a few kilobytes of PNG can claim billions of pixels.
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AttachmentError(f"This picture is too large ({width} x {height} pixels). "
                                      "Take a screenshot of the part that matters instead.")
            image.load()
            # Apply the EXIF orientation before the EXIF block is dropped.
            upright = ImageOps.exif_transpose(image)
            mode = "RGBA" if upright.mode in ("RGBA", "LA", "P") and content_type == "image/png" \
                else "RGB"
            clean = Image.new(mode, upright.size)
            clean.paste(upright.convert(mode))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise AttachmentError("This picture could not be read. Try saving it again, or "
                              "send a different file.") from e
    out = io.BytesIO()
    if content_type == "image/png":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="JPEG", quality=90)
    return out.getvalue()


def clean_upload(filename: str, content: bytes, *, max_bytes: int) -> CleanFile:
    """Validate one upload and strip image metadata. Raises :class:`AttachmentError`."""
    display = filename.replace("\\", "/").rsplit("/", 1)[-1][:80] or "The file"
    if not content:
        raise AttachmentError(f"{display} is empty.")
    if len(content) > max_bytes:
        raise AttachmentError(
            f"{display} is larger than {max_bytes // (1024 * 1024)} MB. "
            "Send a smaller file, or take a screenshot of the part that matters."
        )
    content_type = sniff(content)
    if content_type is None:
        raise AttachmentError(f"{display} is not a PDF, PNG or JPEG file.")
    if content_type != "application/pdf":
        content = _strip_image(content, content_type)
    return CleanFile(_safe_name(filename, content_type), content_type, content)
