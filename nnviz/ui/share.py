"""'Share': the link and QR code that open a lab following the run it shows, for students' own devices."""
from __future__ import annotations

from typing import Any

import streamlit as st

from nnviz import share
from nnviz.jobs import runs


def _page_url() -> str:
    return st.context.url or "http://localhost:8501/"  # AppTest has no browser address


def share_popover(slot: str, run: runs.Run, container: Any = None) -> None:
    """A 'Share' button (in `container`, else here): the link to this run's live view, and its QR code to
    show on the projector."""
    link = share.run_link(_page_url(), slot, run.id)
    where = container if container is not None else st
    with where.popover("Share", icon=":material/qr_code_2:", help="A link and QR code that open this run, live."):
        st.caption("Students who open this follow the run live on their own device (they cannot stop it).")
        st.code(link, language=None)
        st.markdown(f'<div class="nnviz-share-qr" style="width:260px;max-width:100%"><img alt="QR code of {link}" '
                    f'src="{share.qr_data_uri(link)}" style="width:100%"></div>', unsafe_allow_html=True)
        if share.is_local(link):
            st.caption("This address only works on this computer: open the dashboard by its network address "
                       "(e.g. http://<this machine's IP>:8501) for a link that works on students' devices.")
