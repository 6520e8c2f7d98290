"""QR codes of survey links, drawn on the server as inline SVG (segno, pure Python).

Nothing is fetched and no third party sees the link: the code is made here, for the page that
shows it. The SVG has presentation attributes only (no style attribute, for the CSP), is named
for assistive technology, and keeps the standard four-module quiet zone so phones read it from
a screen or a printed poster.
"""

from __future__ import annotations

import io

import segno
from markupsafe import Markup


def qr_svg(text: str, *, label: str, scale: int = 4) -> Markup:
    """``text`` as a QR code (error correction M), an ``<svg role="img">`` named ``label``."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, svgns=True, scale=scale, border=4, dark="#000",
        light="#fff", svgclass="speakup-qr", lineclass=None)
    svg = out.getvalue().decode().strip()
    opening = Markup('<svg role="img" aria-label="{}" focusable="false" ').format(label)
    return Markup(svg.replace("<svg ", str(opening), 1))  # noqa: S704 - segno's own markup
