"""Links that let students follow a run from their own device: the lab's address with the run in its
query (`?regression_run=<id>`), and the same link as a QR code to show on the projector."""
from __future__ import annotations

import io
import re
from urllib.parse import urlencode, urlsplit, urlunsplit

import qrcode
import qrcode.image.svg

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def run_link(page_url: str, slot: str, run_id: str) -> str:
    """The address of lab `slot` following `run_id`, on the server `page_url` (any page of the app) was
    opened from: its scheme, host and base path are kept, the page and query replaced."""
    parts = urlsplit(page_url)
    base = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/{slot}", urlencode({f"{slot}_run": run_id}), ""))


def is_local(url: str) -> bool:
    """Whether `url` names this machine only (a link students' devices cannot open)."""
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


def qr_svg(text: str) -> str:
    """`text` as a QR code, an SVG that scales to its container (no Pillow needed)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg"):]  # without the XML declaration: it goes inline into the page
    return re.sub(r'width="[^"]*" height="[^"]*"', 'width="100%"', svg, count=1)  # square: height from viewBox
