"""Share links and QR codes for following a run from students' devices."""
from __future__ import annotations

import re

from nnviz import share


def test_the_link_opens_the_lab_following_the_run_on_the_same_server():
    assert share.run_link("http://10.0.0.5:8501/explain", "regression", "20261203-1-r") == \
        "http://10.0.0.5:8501/regression?regression_run=20261203-1-r"
    assert share.run_link("http://10.0.0.5:8501/", "classification", "x") == \
        "http://10.0.0.5:8501/classification?classification_run=x"
    # behind a proxy with a base path, the base path stays; the page's own query goes
    assert share.run_link("https://lab.example.org/nn/regression?regression_run=old", "regression", "new") == \
        "https://lab.example.org/nn/regression?regression_run=new"


def test_local_addresses_are_recognised():
    assert share.is_local("http://localhost:8501/regression") and share.is_local("http://127.0.0.1:8501/")
    assert not share.is_local("http://10.0.0.5:8501/regression")


def test_the_qr_code_is_an_inline_svg_that_grows_with_the_link():
    short, long = share.qr_svg("http://a/"), share.qr_svg("http://10.0.0.5:8501/regression?regression_run=" + "x" * 60)
    assert short.startswith("<svg") and 'width="100%"' in short and "<path" in short
    size = [int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1)) for svg in (short, long)]
    assert size[0] < size[1]  # a longer link needs more modules


def test_a_local_address_becomes_the_machines_address_on_the_room_network(monkeypatch):
    monkeypatch.setattr(share, "lan_address", lambda: "10.1.2.3")
    assert share.run_link("http://localhost:8501/explain", "regression", "r1") == \
        "http://10.1.2.3:8501/regression?regression_run=r1"
    assert share.room_url("http://127.0.0.1:8501/class?x=1") == "http://10.1.2.3:8501/class?x=1"
    assert share.room_url("http://lab.example.org/nn/") == "http://lab.example.org/nn/"  # already reachable
    assert not share.is_local(share.room_url("http://localhost:8501/"))
