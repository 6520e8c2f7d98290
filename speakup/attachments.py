"""Checking uploaded files, removing what could identify the sender or attack the reader.

Only PDF, PNG and JPEG are accepted, recognised by their content, not their name.

Images: the size a file claims is checked before anything is decoded (a 39 KB PNG can claim
40 million pixels and cost 400 MiB to decode): at most `MAX_PIXELS`. Accepted images are
decoded and re-encoded from their pixels alone, which drops EXIF (camera, GPS position, time),
XMP, ICC and text chunks.

PDFs are rewritten with pikepdf (qpdf) without their active content: document and page open
actions, additional actions, JavaScript anywhere, launch/submit/import/remote actions,
embedded and attached files, XFA forms and rich media; and without their metadata (the document
information dictionary and XMP, which name the author and software). Encrypted PDFs are refused,
because they cannot be checked. Guardians are still told to open originals with care.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageOps

ALLOWED = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
MAX_PIXELS = 24_000_000
"""About 6000 x 4000: a phone photo fits; decoding costs at most about 100 MiB."""
# Pillow's own guard: an error beyond twice our limit (ours, checked first, is the one people see).
Image.MAX_IMAGE_PIXELS = 2 * MAX_PIXELS

_ACTIVE_KEYS = ("/OpenAction", "/AA", "/AF", "/JS", "/JavaScript", "/EmbeddedFiles", "/EmbeddedFile",
                "/XFA", "/RichMedia", "/RichMediaContent", "/Launch", "/URI")
_ACTIVE_ACTIONS = ("/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE",
                   "/RichMediaExecute", "/ResetForm", "/Sound", "/Movie", "/Rendition", "/URI")


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
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice it; the size is checked just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
        with image:
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
    except AttachmentError:
        raise
    # Pillow raises many kinds of error on damaged files (SyntaxError for a broken PNG among
    # them): any of them means "could not be read", never a lost concern.
    except Exception as e:
        raise AttachmentError("This picture could not be read. Try saving it again, or "
                              "send a different file.") from e
    out = io.BytesIO()
    if content_type == "image/png":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _strip_pdf(content: bytes) -> bytes:
    """The PDF rewritten without active content or metadata (see the module)."""
    try:
        pdf = pikepdf.open(io.BytesIO(content))
    except pikepdf.PasswordError as e:
        raise AttachmentError("This PDF is protected by a password, so it cannot be checked. "
                              "Save a copy without the password, or take a screenshot.") from e
    except Exception as e:  # a damaged file, in any of the ways qpdf can report it
        raise AttachmentError("This PDF could not be read. Try saving it again, or send a "
                              "screenshot instead.") from e
    with pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and obj.get("/Type") == "/EmbeddedFile":
                obj.write(b"")
                del obj["/Type"]
                continue
            if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                continue
            if obj.get("/S") in _ACTIVE_ACTIONS or obj.get("/Type") == "/Filespec" or obj.get(
                    "/Subtype") in ("/FileAttachment",
                                                                           "/RichMedia",
                                                                           "/Screen", "/Movie"):
                for key in list(obj.keys()):
                    del obj[key]
                continue
            for key in _ACTIVE_KEYS:
                if key in obj:
                    del obj[key]
        if "/Metadata" in pdf.Root:
            del pdf.Root["/Metadata"]
        if "/Names" in pdf.Root:
            names = pdf.Root["/Names"]
            for key in ("/JavaScript", "/EmbeddedFiles"):
                if key in names:
                    del names[key]
        pdf.docinfo = pdf.make_indirect(pikepdf.Dictionary())
        out = io.BytesIO()
        # No object streams: what was kept stays plain to inspect.
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable)
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
    if content_type == "application/pdf":
        return CleanFile(_safe_name(filename, content_type), content_type, _strip_pdf(content),
                         sanitised=True)
    content = _strip_image(content, content_type)
    return CleanFile(_safe_name(filename, content_type), content_type, content)
