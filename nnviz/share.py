"""Links for students' own devices: this server's address on the room's network (not `localhost`, which
only the presenter's machine can open), a lab following a run (`?regression_run=<id>`), and any link as a
QR code to show on the projector."""
from __future__ import annotations

import base64
import io
import re
import socket
from urllib.parse import urlencode, urlsplit, urlunsplit

import qrcode
import qrcode.image.svg

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def lan_address() -> str:
    """This machine's address on the room's network (no packet is sent: a UDP socket only picks a route)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def room_url(page_url: str) -> str:
    """`page_url` as students' devices can open it: a local host name becomes this machine's LAN address."""
    parts = urlsplit(page_url)
    if (parts.hostname or "") not in LOCAL_HOSTS:
        return page_url
    netloc = lan_address() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme or "http", netloc, parts.path, parts.query, parts.fragment))


def run_link(page_url: str, slot: str, run_id: str) -> str:
    """The address of lab `slot` following `run_id`, on the server `page_url` (any page of the app) was
    opened from, as the room can open it: its scheme, host and base path are kept, the page and query replaced."""
    parts = urlsplit(room_url(page_url))
    base = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/{slot}", urlencode({f"{slot}_run": run_id}), ""))


def is_local(url: str) -> bool:
    """Whether `url` names this machine only (a link students' devices cannot open)."""
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


def qr_svg(text: str) -> str:
    """`text` as a QR code, an SVG that scales to its container (no Pillow needed)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathFillImage, border=2)  # white ground: dark themes
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg"):]  # without the XML declaration: it goes inline into the page
    return re.sub(r'width="[^"]*" height="[^"]*"', 'width="100%"', svg, count=1)  # square: height from viewBox


def qr_data_uri(text: str) -> str:
    """`text` as a QR code in a data: URI, for an <img> (pages sanitise inline SVG away)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text).encode()).decode()
