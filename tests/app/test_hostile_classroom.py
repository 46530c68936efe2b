"""A hostile classroom through the pages (AppTest): uploads behind the presenter lock and a quota, saves
that never overwrite silently, a passcode throttle that survives reloads, runs only their starter (or
the presenter) can stop, disk trouble said next to the button, and crafted files that break no page."""
from __future__ import annotations

import errno
import os

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from nnviz.jobs import runs, storage
from nnviz.model import checkpoints
from nnviz.ui import access
from tests.app.conftest import APP
from tests.unit.test_bad_checkpoints import _good_bytes
from tests.unit.test_bad_csv import GOOD as GOOD_CSV
from tests.unit.test_hostile_classroom import _with_meta

CODE = "correct horse 42"
PAGES = ("app_pages/home.py", "app_pages/inside.py", "app_pages/explain.py", "app_pages/draw.py",
         "app_pages/classification.py")


@pytest.fixture(autouse=True)
def addresses(monkeypatch):
    """A session's address comes from its `_client` session key (AppTest has no network address)."""
    monkeypatch.setattr(access, "client", lambda: st.session_state.get("_client", "local"))


def _page(path: str, client: str = "local") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["_client"] = client
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _upload(at: AppTest, name: str, raw: bytes) -> None:
    at.file_uploader(key="cls_upload").set_value((name, raw, "application/octet-stream")).run()
    assert not at.exception, at.exception


# --- uploads: presenter lock and quota -------------------------------------------------------------

def _enabled_uploaders() -> None:
    """The two upload callbacks behind uploaders drawn enabled: what a session whose page was drawn before
    the lock, or a crafted message, would reach. The callbacks must refuse on their own."""
    import streamlit as st

    from nnviz.ui import classification_checkpoints, regression_panels

    st.file_uploader("checkpoint", key="cls_upload", on_change=classification_checkpoints._upload)
    st.file_uploader("csv", key="rg_upload", on_change=regression_panels._on_upload)
    for key in ("cls:checkpoint_error", "regression:csv_error"):
        if st.session_state.get(key):
            st.error(st.session_state[key])


def test_a_locked_browser_cannot_upload_checkpoints_or_csvs(nnviz_env, monkeypatch):
    monkeypatch.setenv("NNVIZ_PRESENTER_PASSCODE", CODE)
    at = _page("app_pages/classification.py")
    assert at.file_uploader(key="cls_upload").disabled
    at = _page("app_pages/regression.py")
    at.radio(key="rg_source").set_value("csv").run()
    assert at.file_uploader(key="rg_upload").disabled
    direct = AppTest.from_function(_enabled_uploaders, default_timeout=60).run()
    direct.file_uploader(key="cls_upload").set_value(("good.pt", _good_bytes(), "application/octet-stream")).run()
    direct.file_uploader(key="rg_upload").set_value(("p.csv", GOOD_CSV.encode(), "text/csv")).run()
    assert not direct.exception, direct.exception
    assert sorted(_errors(direct)) == ["Only the presenter can upload CSV files.",
                                       "Only the presenter can upload checkpoints."]
    assert not list((nnviz_env / "checkpoints").glob("*")) and not (nnviz_env / "runs" / "uploads").exists()


def test_uploads_have_a_quota_per_session_and_per_address(nnviz_env, monkeypatch):
    monkeypatch.setattr(access, "UPLOADS_PER_SESSION", 2)
    monkeypatch.setattr(access, "UPLOADS_PER_CLIENT_HOUR", 3)
    files = [_with_meta(lambda m, i=i: m["metrics"].update(n=float(i))) for i in range(5)]  # five different files
    at = _page("app_pages/classification.py")
    for i in range(2):
        _upload(at, f"m{i}.pt", files[i])
        assert not _errors(at)
    _upload(at, "m0.pt", files[0])  # the same file again is reused: no copy, no quota
    assert not _errors(at)
    _upload(at, "m2.pt", files[2])
    assert _errors(at) and "upload limit" in _errors(at)[0]
    reloaded = _page("app_pages/classification.py")  # a reload is a new session from the same address
    _upload(reloaded, "m3.pt", files[3])
    assert not _errors(reloaded)
    _upload(reloaded, "m4.pt", files[4])
    assert "upload limit" in _errors(reloaded)[0]
    assert len(list((nnviz_env / "checkpoints").glob("*.pt"))) == 3
    other = _page("app_pages/classification.py", client="10.0.0.9")  # another student's own quota
    _upload(other, "m4.pt", files[4])
    assert not _errors(other)


# --- saving never overwrites silently --------------------------------------------------------------

def _train_one_epoch(at: AppTest) -> runs.Run:
    at.number_input(key="cls_epochs").set_value(1).run()
    at.button(key="cls_start").click().run()
    run = runs.get(at.session_state["run_id:classification"])
    assert run is not None and run.wait(240)
    at.run()
    assert not at.exception, at.exception
    return run


def test_saving_under_an_existing_name_asks_and_keeps_both_or_overwrites(nnviz_env):
    at = _page("app_pages/classification.py")
    _train_one_epoch(at)
    folder = nnviz_env / "checkpoints"
    at.text_input(key="cls_save_name").input("名前").run()  # non-ASCII names are names
    at.button(key="cls_save").click().run()
    first = folder / "名前.pt"
    assert first.is_file() and any("Saved to" in s.value for s in at.success)
    original = first.read_bytes()
    at.button(key="cls_save").click().run()  # the same name again: a question, nothing written
    assert not at.exception and any("already exists" in w.value for w in at.warning)
    assert first.read_bytes() == original and not any("Saved to" in s.value for s in at.success)
    at.button(key="cls_save_keep").click().run()
    assert (folder / "名前_2.pt").is_file() and first.read_bytes() == original
    at.button(key="cls_save").click().run()
    at.button(key="cls_save_overwrite").click().run()
    assert not at.exception and first.is_file() and checkpoints.load(first).task == "classification"
    assert sorted(p.name for p in folder.iterdir()) == ["名前.pt", "名前_2.pt"]  # no temp file left
    at.text_input(key="cls_save_name").input("C:\\x").run()
    at.button(key="cls_save").click().run()
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("Not saved") and "C:\\\\x" in errors[0]  # shown as C:\x
    assert not any("Saved to" in s.value for s in at.success)  # no stale green line under the red one


# --- the passcode throttle survives a reload --------------------------------------------------------

def test_wrong_passcodes_are_throttled_per_address_across_reloads(nnviz_env, monkeypatch):
    monkeypatch.setenv("NNVIZ_PRESENTER_PASSCODE", CODE)
    now = [1000.0]
    monkeypatch.setattr(access.wrong_passcodes, "clock", lambda: now[0])
    at = _page("app_pages/regression.py")
    for _ in range(access.MAX_TRIES):
        at.sidebar.text_input(key="presenter_passcode_input").input("guess").run()
    reloaded = _page("app_pages/regression.py")  # a fresh session from the same address
    reloaded.sidebar.text_input(key="presenter_passcode_input").input(CODE).run()
    assert [e.value for e in reloaded.sidebar.error] == ["Too many wrong passcodes: wait 30 s."]  # frozen clock
    assert reloaded.button(key="rg_start").disabled
    elsewhere = _page("app_pages/regression.py", client="10.0.0.5")  # the presenter's own laptop is not blocked
    elsewhere.sidebar.text_input(key="presenter_passcode_input").input(CODE).run()
    assert not elsewhere.button(key="rg_start").disabled
    now[0] += access.PAUSE_S + 1
    reloaded.sidebar.text_input(key="presenter_passcode_input").input(CODE).run()
    assert not reloaded.button(key="rg_start").disabled


# --- only the starter (or the presenter) stops a run ---------------------------------------------

def _stop_directly() -> None:
    import streamlit as st

    from nnviz.jobs import runs
    from nnviz.ui import live

    live.stop(runs.get(st.session_state["target"]))


def test_in_open_mode_only_the_session_that_started_a_run_stops_it(nnviz_env, monkeypatch):
    monkeypatch.delenv("NNVIZ_PRESENTER_PASSCODE", raising=False)
    owner = _page("app_pages/regression.py", client="10.0.0.1")
    owner.number_input(key="rg_epochs").set_value(5000).run()
    owner.button(key="rg_start").click().run()
    run = runs.get(owner.session_state["run_id:regression"])
    assert run is not None and run.active
    other = AppTest.from_file(APP, default_timeout=180)
    other.session_state["_client"] = "10.0.0.2"
    other.query_params["regression_run"] = run.id  # the id is listed on Home
    other.run()
    other.switch_page("app_pages/regression.py").run()
    assert not other.exception, other.exception
    assert other.button(key="rg_stop").disabled
    assert "Only the session that started this run, or the presenter, can stop it." in [c.value for c in other.caption]
    direct = AppTest.from_function(_stop_directly, default_timeout=60)  # what a crafted press would reach
    direct.session_state["_client"], direct.session_state["target"] = "10.0.0.2", run.id
    direct.run()
    assert not direct.exception and run.active
    assert not owner.button(key="rg_stop").disabled
    owner.button(key="rg_stop").click().run()
    assert run.wait(30) and run.view().status == "stopped"


# --- disk trouble: one sentence under Start or Save, nothing half-written --------------------------

def _full_disk(fh, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("page, start", [("app_pages/regression.py", "rg_start"),
                                         ("app_pages/classification.py", "cls_start")])
def test_start_on_a_full_or_file_runs_folder_says_so_under_start(nnviz_env, monkeypatch, page, start):
    at = _page(page)
    real_write = storage.write_bytes
    monkeypatch.setattr(storage, "write_bytes", _full_disk)
    at.button(key=start).click().run()
    assert not at.exception, at.exception
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("Not started: The disk holding") and "is full" in errors[0]
    assert not runs.active_runs()
    root = nnviz_env / "runs"
    assert not root.exists() or not list(root.rglob("*"))  # no run folder, no 0-byte or temp file
    monkeypatch.setattr(storage, "write_bytes", real_write)  # the disk has room again, but the folder is a file
    monkeypatch.setenv("NNVIZ_RUNS_DIR", str(nnviz_env / "a_file"))
    (nnviz_env / "a_file").write_text("not a folder")
    at.button(key=start).click().run()
    assert not at.exception, at.exception
    assert len(_errors(at)) == 1 and "is a file, not a folder" in _errors(at)[0]


def test_saving_on_a_full_disk_says_so_and_leaves_no_file(nnviz_env, monkeypatch):
    at = _page("app_pages/classification.py")
    _train_one_epoch(at)
    monkeypatch.setattr(storage, "write_bytes", _full_disk)
    at.text_input(key="cls_save_name").input("demo").run()
    at.button(key="cls_save").click().run()
    assert not at.exception, at.exception
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("Not saved: The disk holding") and "is full" in errors[0]
    folder = nnviz_env / "checkpoints"
    assert not folder.exists() or list(folder.iterdir()) == []


# --- a crafted file already in the folder breaks no page -----------------------------------------

def test_a_bad_checkpoint_in_the_folder_is_listed_on_home_and_breaks_no_page(nnviz_env):
    folder = nnviz_env / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "crafted.pt").write_bytes(_with_meta(lambda m: m["metrics"].update(test_acc="97%")))
    (folder / "negative.pt").write_bytes(_with_meta(lambda m: m.update(n_outputs=-3)))
    at = _page("app_pages/home.py")
    assert any("cannot be used and are skipped" in w.value for w in at.warning)
    table = next(df.value for df in at.dataframe if "reason" in df.value.columns)
    assert sorted(table["name"]) == ["crafted.pt", "negative.pt"]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    at.session_state["picked_model_path"] = str(folder / "crafted.pt")  # a stale pick (a link, an old tab)
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception, at.exception
