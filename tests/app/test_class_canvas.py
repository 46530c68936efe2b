"""Class canvas page (AppTest): link and QR code, the gallery, moderation, and the presenter lock."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnviz.classset.store import ClassStore
from tests.app.conftest import APP

PAGE = "app_pages/class_canvas.py"


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def seeded(n: int = 30) -> ClassStore:
    store = ClassStore()
    rng = np.random.default_rng(0)
    for i in range(n):
        store.add(f"browser-{i % 3:04d}", i % 10, rng.integers(0, 256, (28, 28), dtype=np.uint8), now=10.0 * i)
    return store


def test_empty_page_shows_the_link_and_waits(nnviz_env) -> None:
    at = open_page()
    text = " ".join(m.value for m in at.markdown)
    assert "/nnviz/class" in text and "data:image/svg+xml;base64," in text  # the link and its QR code
    assert "<b>0</b> drawings" in text
    assert any("No drawings yet" in i.value for i in at.info)


def test_moderation_deletes_and_closes(nnviz_env) -> None:
    store = seeded()
    at = open_page()
    assert "<b>30</b> drawings" in " ".join(m.value for m in at.markdown)
    victim = store.drawings(limit=1)[0]
    at.number_input(key="class_pick").set_value(victim.id).run()
    at.button(key="class_delete").click().run()
    assert store.get(victim.id) is None and store.count() == 29
    other = store.drawings(limit=1)[0]
    at.number_input(key="class_pick").set_value(other.id).run()
    at.button(key="class_delete_sender").click().run()
    assert store.submitter_count(other.submitter) == 0 and store.count() == 19
    at.toggle(key="class_open").set_value(False).run()
    assert not store.is_open()
    at.selectbox(key="class_prompt").set_value("draw a 7").run()
    assert store.prompt() == 7
    at.checkbox(key="class_wipe_sure").check().run()
    at.button(key="class_wipe").click().run()
    assert store.count() == 0
    assert not at.exception


def test_too_few_drawings_say_so_next_to_train(nnviz_env) -> None:
    seeded(5)
    at = open_page()
    at.button(key="class_train").click().run()
    assert any("collect at least" in w.value for w in at.warning)
    assert not at.exception


def test_the_audience_cannot_moderate_or_train(nnviz_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNVIZ_PRESENTER_PASSCODE", "letmein-123")
    store = seeded()
    at = open_page()
    assert not [b for b in at.button if b.key in ("class_delete", "class_wipe")]
    assert at.button(key="class_train").disabled and at.toggle(key="class_open").disabled
    assert any("Only the presenter can moderate" in i.value for i in at.info)
    assert store.count() == 30
