"""Presenter view: large type, high contrast, advanced controls folded away, keyboard shortcuts.

For a teacher in front of a lecture hall. The toggle lives in the sidebar; `?presenter=1`
in the URL turns it on, so a link on a slide opens the page ready to project. Pages wrap
the controls a lecture does not need in `with advanced():`; buttons that a presenter
presses often take `shortcut=shortcut("start")` (Streamlit's own `st.button(shortcut=)`).
"""
from __future__ import annotations

import streamlit as st

from nnviz.figures import style

STATE = "presenter:on"  # non-widget key: the mode survives page switches
TOGGLE = "presenter_toggle"
PARAM = "presenter"  # ?presenter=1
# Single letters a presenter can hit blind; C and R are reserved by Streamlit.
SHORTCUTS = {"start": "S", "stop": "X", "next": "N"}
SHORTCUT_HELP = "Keys: **S** start · **X** stop · **N** next step"

# Every page, presenter view or not: Streamlit's default top padding (6rem) leaves the first
# screen of a 1280x720 projector a hundred pixels short; titles are a lab's label, not its content;
# a disabled button must not look like the enabled one beside it.
_BASE_CSS = """
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem !important; padding-bottom: 3rem !important;
  padding-left: 2.5rem !important; padding-right: 2.5rem !important; }
[data-testid="stMain"] h1 { font-size: 2.1rem !important; padding-top: 0 !important; padding-bottom: 0.25rem !important; }
[data-testid="stMain"] button:disabled { opacity: 0.45; border-style: dashed !important; }
.st-key-lesson_banner { padding: 0.4rem 0.9rem !important; gap: 0.2rem !important; }
[data-testid="stMain"] button[kind="primary"]:disabled { background: transparent !important;
  color: inherit !important; border-color: currentColor !important; }
"""

# Streamlit sizes almost everything in rem, so a larger root font scales text, widgets and
# spacing together. Captions and help text are faded by default: too faint from the back row.
_CSS = """
html {{ font-size: {base}px; }}
[data-testid="stMain"] h1 {{ font-size: 2rem !important; }}
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label,
[data-testid="stCaptionContainer"], [data-testid="stMarkdownContainer"] {{ color: {ink} !important; }}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * {{ color: {ink} !important; }}
[data-testid="stCaptionContainer"] {{ font-size: 1rem !important; opacity: 1 !important; }}
[data-testid="stMetricValue"] {{ font-size: 1.8rem !important; }}
[data-testid="stMetricLabel"] p {{ font-size: 1rem !important; }}
[data-testid="stMain"] button {{ padding-left: 0.5rem !important; padding-right: 0.5rem !important; }}
/* Buttons in nested columns (a lab's Start / Stop / Reset row) are too narrow for a key hint at this
   size: the label would be cut. The sidebar lists the keys. */
[data-testid="stColumn"] [data-testid="stColumn"] button kbd {{ display: none; }}
[data-testid="stMain"] button {{ border-width: 2px !important; font-weight: 600; }}
[data-testid="stMain"] button:disabled {{ opacity: 0.35; border-style: dashed !important; font-weight: 400; }}
[data-testid="stMain"] p {{ font-size: 1rem !important; }}  /* widget labels, captions, buttons: body size */
[data-testid="stTab"] p {{ font-size: 1.05rem !important; font-weight: 600; }}
[data-testid="stMain"] [data-testid="stMetricValue"] p {{ font-size: 1.8rem !important; }}
[data-testid="stMain"] h1 p, [data-testid="stMain"] h2 p, [data-testid="stMain"] h3 p {{ font-size: inherit !important; }}
[data-testid="stAlertContainer"] {{ border: 2px solid currentColor; }}
/* Tables are drawn on a canvas in Streamlit's own pixel size: zoom them with the text, on an element that the
   zoom brings back to its column's width (a stretched table zoomed alone would lose its right-most columns). */
[data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) {{ zoom: {zoom}; width: calc(100% / {zoom}) !important; }}
[data-testid="stTable"] td, [data-testid="stTable"] th {{ font-size: 1rem !important; }}
/* The live views' SVG curves (a 480-unit canvas drawn about 430 px wide) and their status line. */
.nnviz-chart svg text {{ font-size: 21px !important; }}
.nnviz-chart svg text[transform] {{ display: none; }}  /* the rotated y title: the chart's title says it */
.nnviz-progress-text {{ font-size: 1rem !important; }}
.nnviz-tile figcaption {{ font-size: 0.9rem !important; }}
"""


def enabled() -> bool:
    """Whether this session shows the presenter view (first read from `?presenter=1`)."""
    if STATE not in st.session_state:
        st.session_state[STATE] = st.query_params.get(PARAM, "") in ("1", "true", "on")
    return bool(st.session_state[STATE])


def set_enabled(on: bool) -> None:
    """Turn the view on or off, and keep the URL in step so a refresh or a shared link keeps it."""
    st.session_state[STATE] = on
    if on:
        st.query_params[PARAM] = "1"
    else:
        st.query_params.pop(PARAM, None)


def _on_toggle() -> None:
    set_enabled(bool(st.session_state[TOGGLE]))


def toggle() -> None:
    """The sidebar switch, with the shortcut keys listed while it is on."""
    st.session_state[TOGGLE] = enabled()  # the widget's value follows the stored mode across pages
    st.toggle("Presenter view", key=TOGGLE, on_change=_on_toggle,
              help="Large type and high contrast for a projector, advanced settings folded away, keyboard "
                   "shortcuts. Add ?presenter=1 to a link to open a page this way.")
    if enabled():
        st.caption(SHORTCUT_HELP)


def shortcut(action: str) -> str | None:
    """The key for `action` ('start', 'stop', 'next') in presenter view, else None (no key hints)."""
    return SHORTCUTS[action] if enabled() else None


def advanced(label: str = "Advanced settings"):  # noqa: ANN201 (a Streamlit container)
    """A container for controls a lecture does not need: folded in presenter view, plain otherwise.

    The widgets are still rendered inside the folded expander, so their values are kept.
    """
    if enabled():
        return st.expander(label, expanded=False, icon=":material/tune:")
    return st.container()


def base_font_px() -> int:
    """Root font size in presenter view: body text 20 px, and a 1280-px wide projector still fits the labs."""
    return 20


def inject() -> None:
    """Add the house style sheet, and the presenter one when the view is on (call once per script run)."""
    css = _BASE_CSS
    if enabled():
        dark = getattr(st.context.theme, "type", "light") == "dark"
        css += _CSS.format(base=base_font_px(), ink="#ffffff" if dark else "#000000", zoom=base_font_px() / 16)
    st.html(f"<style>{css}</style>")


def figure(fig):  # noqa: ANN001, ANN201 (a plotly figure or its dict)
    """`fig` as it should be drawn in this session: in presenter view a copy with projector-size text
    (nnviz.figures.style.for_projector), else `fig` itself. Wrap every figure given to st.plotly_chart."""
    return style.for_projector(fig) if enabled() else fig
