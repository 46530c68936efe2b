"""A page's header, sized for the first screen of a 1280x720 projector.

The intro sentence under a page title costs one or two lines. In presenter view, and while a
lesson banner already says what the page is for, it moves into the title's help tooltip so the
picture that matters moves up; with both, the banner replaces the title.
"""
from __future__ import annotations

import streamlit as st

from nnviz.ui import lessons, presenter


def compact() -> bool:
    """Whether pages keep their intro out of the first screen (presenter view or an active lesson)."""
    return presenter.enabled() or lessons.active() is not None


def header(title: str, intro: str, icon: str | None = None, short: bool | None = None, showing_run: bool = False) -> None:
    """The page title, and `intro` under it or, when `short` (default: `compact()`, or `showing_run`), as the
    title's tooltip. In presenter view, a lesson's banner or a run's view takes the title's height (the sidebar
    still names the page)."""
    if presenter.enabled() and (showing_run or lessons.active() is not None):
        return
    if compact() or showing_run if short is None else short:
        st.title(title, icon=icon, help=intro)
    else:
        st.title(title, icon=icon)
        st.caption(intro)
