"""The class set's store: submissions, bad input, moderation, durability, concurrent writers, the dataset view."""
from __future__ import annotations

import io
import multiprocessing
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnviz.classset import dataset as class_data
from nnviz.classset import store as store_mod
from nnviz.classset.store import ClassStore, Refused, is_held_out
from nnviz.classset.submit import MAX_POST_BYTES, RULE, submit, to_pixels
from nnviz.config import DataConfig
from nnviz.data import DatasetMissing, load
from nnviz.data.preprocess import prepare
from tests.unit.classset_writer import write_many
from tests.waiting import GENEROUS_S

SEVEN = [[(60, 60), (220, 60), (120, 240)]]
ONE = [[(140, 40), (140, 240)]]


def png(lines: list[list[tuple[int, int]]] = SEVEN, size: int = 280) -> bytes:
    """A canvas drawing as the Collect page posts it: black ink on white, PNG."""
    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    for line in lines:
        draw.line(line, fill="black", width=18, joint="curve")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def blank_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (280, 280), "white").save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> ClassStore:
    return ClassStore(tmp_path / "class.sqlite3")


def fill(store: ClassStore, n: int, submitters: int = 10) -> None:
    """n drawings spread over `submitters` browsers and the ten labels, added at spread-out times."""
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        store.add(f"browser-{i % submitters:04d}", i % 10, pixels, now=1000.0 + 10 * i)


def test_submission_is_preprocessed_like_draw_and_predict(store: ClassStore) -> None:
    data = png()
    drawing_id = submit(store, "browser-0001", 7, data)
    stored = store.get(drawing_id)
    assert stored is not None and stored.label == 7 and stored.submitter == "browser-0001"
    expected = np.round(prepare(data, RULE).pixels * 255).astype(np.uint8)  # Draw & predict's steps
    np.testing.assert_array_equal(stored.pixels, expected)
    assert stored.pixels.shape == (28, 28) and stored.pixels.max() == 255
    ys, xs = np.nonzero(stored.pixels)
    assert 19 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 21  # MNIST's geometry: the ink box's longer side is 20 px
    assert store.count() == 1 and store.counts()[7] == 1


@pytest.mark.parametrize("label", [-1, 10, "seven", None, 3.5])
def test_bad_labels_store_nothing(store: ClassStore, label: object) -> None:
    with pytest.raises(Refused, match="Pick the digit"):
        submit(store, "browser-0001", label, png())
    assert store.count() == 0


def test_empty_drawing_is_refused(store: ClassStore) -> None:
    with pytest.raises(Refused, match="empty"):
        submit(store, "browser-0001", 3, blank_png())
    assert store.count() == 0


def test_oversized_and_non_image_posts_are_refused(store: ClassStore) -> None:
    with pytest.raises(Refused, match="too large"):
        submit(store, "browser-0001", 3, b"\x89PNG" + b"0" * MAX_POST_BYTES)
    with pytest.raises(Refused, match="not an image"):
        submit(store, "browser-0001", 3, b"<html>hello</html>")
    with pytest.raises(Refused):
        submit(store, "browser-0001", 3, b"")
    assert store.count() == 0


@pytest.mark.parametrize("submitter", ["", "short", "x" * 65, "../../etc", "a b c d e f g h"])
def test_malformed_browser_ids_are_refused(store: ClassStore, submitter: str) -> None:
    with pytest.raises(Refused, match="reload"):
        submit(store, submitter, 1, png())
    assert store.count() == 0


def test_rate_limit_per_browser(store: ClassStore) -> None:
    pixels = to_pixels(png())
    for _ in range(store_mod.RATE_COUNT):
        store.add("browser-flood", 1, pixels, now=500.0)
    with pytest.raises(Refused, match="Slow down"):
        store.add("browser-flood", 1, pixels, now=500.5)
    store.add("browser-other", 1, pixels, now=500.5)  # another browser is not held up
    store.add("browser-flood", 1, pixels, now=500.0 + store_mod.RATE_WINDOW_S + 0.1)  # the window passed
    assert store.submitter_count("browser-flood") == store_mod.RATE_COUNT + 1


def test_closed_collection_stores_nothing(store: ClassStore) -> None:
    assert store.is_open()
    store.set_open(False)
    with pytest.raises(Refused, match="closed"):
        submit(store, "browser-0001", 7, png())
    assert store.count() == 0
    store.set_open(True)
    submit(store, "browser-0001", 7, png())
    assert store.count() == 1


def test_prompt_setting(store: ClassStore) -> None:
    assert store.prompt() is None
    store.set_prompt(7)
    assert ClassStore(store.path).prompt() == 7
    store.set_prompt(None)
    assert store.prompt() is None
    with pytest.raises(ValueError):
        store.set_prompt(12)


def test_moderation(store: ClassStore) -> None:
    fill(store, 30, submitters=3)
    victim = store.drawings(limit=1)[0]
    assert store.delete(victim.id) == 1 and store.get(victim.id) is None and store.delete(victim.id) == 0
    assert store.delete_submitter("browser-0001") == 10
    assert store.count() == 19 and all(d.submitter != "browser-0001" for d in store.drawings())
    assert store.wipe() == 19 and store.count() == 0 and store.counts().sum() == 0


def test_nothing_lost_on_reopen(store: ClassStore) -> None:
    fill(store, 25)
    before = store.arrays()
    again = ClassStore(store.path).arrays()  # a restarted server opens the same file
    for key in before:
        np.testing.assert_array_equal(before[key], again[key])
    import sqlite3
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_lose_nothing(store: ClassStore) -> None:
    threads = [threading.Thread(target=write_many, args=(str(store.path), w, 25)) for w in range(8)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(str(store.path), 100 + w, 25)) for w in range(3)]
    for t in threads + procs:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=GENEROUS_S)
        assert p.exitcode == 0
    assert store.count() == 11 * 25
    a = store.arrays()
    assert len(set(a["ids"].tolist())) == 11 * 25
    for w in list(range(8)) + [100, 101, 102]:  # each writer's drawings intact, none mixed up
        assert store.submitter_count(f"process-{w:04d}") == 25
        mine = a["pixels"][a["pixels"][:, 0, 0] == w]
        assert len(mine) == 25 and (mine == w).all()


def test_concurrent_requests_of_one_browser_cannot_pass_the_rate_limit(store: ClassStore) -> None:
    pixels = to_pixels(png())
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            store.add("browser-race", 2, pixels, now=700.0)
            result = "ok"
        except Refused:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one) for _ in range(3 * store_mod.RATE_COUNT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == store_mod.RATE_COUNT == store.count()


def test_held_out_split_is_stable_and_near_its_share() -> None:
    held = [is_held_out(i) for i in range(1, 2001)]
    assert abs(sum(held) / 2000 - store_mod.HELD_OUT_PERCENT / 100) < 0.03
    assert held == [is_held_out(i) for i in range(1, 2001)]


def test_dataset_view_and_load(store: ClassStore, nnviz_dirs: dict) -> None:
    with pytest.raises(DatasetMissing, match="collect at least"):
        load(DataConfig(dataset="class_canvas"))
    shared = ClassStore()  # the default store under the runs folder, as the dataset registry reads it
    assert shared.path.parent == nnviz_dirs["runs"]
    fill(shared, 60)
    x_train, y_train, x_test, y_test = class_data.load_raw(shared)
    a = shared.arrays()
    assert len(x_test) == a["held_out"].sum() > 0 and len(x_train) + len(x_test) == 60
    np.testing.assert_array_equal(x_test[:, 0].numpy(), a["pixels"][a["held_out"]])
    data = load(DataConfig(dataset="class_canvas", val_fraction=0.1))
    assert data.classes == tuple(str(i) for i in range(10)) and data.input_shape == (1, 28, 28)
    assert len(data.x_train) + len(data.x_val) == len(x_train) and len(data.x_test) == len(x_test)
    assert data.mean == (0.1307,)


def test_exports(store: ClassStore, tmp_path: Path) -> None:
    fill(store, 20)
    a = store.arrays()
    with np.load(io.BytesIO(class_data.export_npz(store))) as npz:
        np.testing.assert_array_equal(npz["x"], a["pixels"])
        np.testing.assert_array_equal(npz["y"], a["labels"])
        np.testing.assert_array_equal(npz["held_out"], a["held_out"])
    root = class_data.export_folder(store, tmp_path / "export")
    from torchvision.datasets import ImageFolder

    folder = ImageFolder(str(root / "train"))
    assert len(folder) == int((~a["held_out"]).sum())
    first = int(a["ids"][~a["held_out"]][0])
    label = int(a["labels"][a["ids"] == first][0])
    reread = np.asarray(Image.open(root / "train" / str(label) / f"{first}.png"))
    np.testing.assert_array_equal(reread, a["pixels"][a["ids"] == first][0])
    with zipfile.ZipFile(io.BytesIO(class_data.export_zip(store))) as zf:
        assert len(zf.namelist()) == 20


def test_finetuning_starts_from_the_shipped_weights_and_scratch_does_not(nnviz_dirs: dict) -> None:
    import torch

    from nnviz.classset import compare
    from nnviz.jobs import runs
    from nnviz.model import checkpoints

    fill(ClassStore(), 40)
    shipped = checkpoints.load(compare.SHIPPED_MNIST).state_dict
    finals = {}
    for mode in compare.MODES:
        run = runs.start(compare.run_config(mode, epochs=0))  # no step taken: the weights it starts from
        assert run.wait(GENEROUS_S) and run.view().status == "finished", run.view().status
        finals[mode] = checkpoints.load(run.folder.final_path).state_dict
    key = next(k for k, v in shipped.items() if v.dtype.is_floating_point and v.dim() > 1)
    assert torch.equal(finals["finetune"][key], shipped[key])
    assert not torch.equal(finals["scratch"][key], shipped[key])
    data = compare.held_out()
    mnist, ours = compare.compare(checkpoints.load(run.folder.final_path).model(), data)
    assert mnist.cm.sum() == ours.cm.sum() == len(data.y_test)
    assert mnist.accuracy == float((mnist.pred == data.y_test.numpy()).mean())
