"""nnviz.jobs.storage: atomic writes, JSON lines that survive a torn append, safe names."""
from __future__ import annotations

import math
import os

import pytest

from nnviz.jobs.storage import (
    append_jsonl,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    inside,
    read_json,
    read_jsonl,
    safe_name,
)


class TestAtomicWrite:
    def test_writes_and_replaces(self, tmp_path):
        path = tmp_path / "sub" / "f.bin"
        atomic_write(path, lambda fh: fh.write(b"one"))
        assert path.read_bytes() == b"one"
        atomic_write(path, lambda fh: fh.write(b"two"))
        assert path.read_bytes() == b"two"

    def test_failing_writer_leaves_the_old_content_and_no_temp_file(self, tmp_path):
        path = tmp_path / "f.json"
        atomic_write_text(path, "old")

        def half_then_fail(fh):
            fh.write(b"new but incomp")
            raise RuntimeError("disk full")

        with pytest.raises(RuntimeError, match="disk full"):
            atomic_write(path, half_then_fail)
        assert path.read_text() == "old"
        assert os.listdir(tmp_path) == ["f.json"]

    def test_failing_first_write_leaves_no_file(self, tmp_path):
        path = tmp_path / "never.txt"
        with pytest.raises(KeyboardInterrupt):
            atomic_write(path, lambda fh: (_ for _ in ()).throw(KeyboardInterrupt()))
        assert os.listdir(tmp_path) == []

    def test_json_round_trip_with_nan(self, tmp_path):
        path = tmp_path / "s.json"
        atomic_write_json(path, {"b": [1, 2], "a": float("nan"), "u": "π"})
        back = read_json(path)
        assert back["b"] == [1, 2] and back["u"] == "π" and back["a"] != back["a"]

    def test_read_json_default_for_missing_or_corrupt(self, tmp_path):
        assert read_json(tmp_path / "missing.json", {"x": 1}) == {"x": 1}
        (tmp_path / "bad.json").write_text("{torn")
        assert read_json(tmp_path / "bad.json") is None
        (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00junk")
        assert read_json(tmp_path / "bin.json", "d") == "d"


class TestJsonLines:
    def test_append_and_read(self, tmp_path):
        path = tmp_path / "h.jsonl"
        append_jsonl(path, [{"epoch": 0}, {"epoch": 1}])
        append_jsonl(path, [{"epoch": 2, "loss": 0.5}])
        assert read_jsonl(path) == [{"epoch": 0}, {"epoch": 1}, {"epoch": 2, "loss": 0.5}]
        assert path.read_text().count("\n") == 3

    def test_torn_last_line_is_skipped(self, tmp_path):
        path = tmp_path / "h.jsonl"
        append_jsonl(path, [{"epoch": 0}, {"epoch": 1}])
        with open(path, "ab") as fh:
            fh.write(b'{"epoch": 2, "train_lo')  # a crash mid-append
        assert read_jsonl(path) == [{"epoch": 0}, {"epoch": 1}]
        append_jsonl(path, [{"epoch": 3}])  # the next append starts on a new line after the torn bytes
        assert [r["epoch"] for r in read_jsonl(path)] == [0, 1, 3]  # only the torn line is lost

    def test_non_object_and_garbage_lines_are_skipped(self, tmp_path):
        path = tmp_path / "h.jsonl"
        path.write_bytes(b'[1, 2]\n{"ok": 1}\n\xff\xfe garbage\n\n{"ok": 2}\n')
        assert read_jsonl(path) == [{"ok": 1}, {"ok": 2}]

    def test_missing_file_is_empty(self, tmp_path):
        assert read_jsonl(tmp_path / "none.jsonl") == []

    def test_nan_values_survive(self, tmp_path):
        path = tmp_path / "h.jsonl"
        append_jsonl(path, [{"val_loss": float("nan")}])
        assert "NaN" in path.read_text()
        assert math.isnan(read_jsonl(path)[0]["val_loss"])


class TestNames:
    @pytest.mark.parametrize("raw, expected", [
        ("my model", "my_model"),
        ("../../etc/passwd", "etc_passwd"),
        (".hidden", "hidden"),
        ("ok-name_1.2", "ok-name_1.2"),
        ("  spaced  ", "spaced"),
        ("ümlaut/ß", "ümlaut_ß"),
        ("名前", "名前"),
        ("ｍｙ／ｍｏｄｅｌ", "my_model"),  # full-width letters and slash: NFKC first, so the slash goes too
        ("a\u202eb", "a_b"),  # a right-to-left override is no letter
    ])
    def test_safe_name(self, raw, expected):
        cleaned = safe_name(raw)
        assert cleaned == expected
        assert "/" not in cleaned and ".." not in cleaned and not cleaned.startswith(".")

    def test_safe_name_length_cap(self):
        assert len(safe_name("a" * 500)) == 64
        assert len(safe_name("a" * 500, max_len=10)) == 10

    @pytest.mark.parametrize("raw", ["", "...", "///", "  ", "\u0301", "．．"])
    def test_unusable_names(self, raw):
        with pytest.raises(ValueError):
            safe_name(raw)

    def test_inside_accepts_children_and_refuses_escapes(self, tmp_path):
        base = tmp_path / "base"
        base.mkdir()
        assert inside(base, base / "a" / "b.pt") == (base / "a" / "b.pt").resolve()
        assert inside(base, base) == base.resolve()
        with pytest.raises(ValueError, match="outside"):
            inside(base, base / ".." / "x.pt")
        with pytest.raises(ValueError, match="outside"):
            inside(base, tmp_path / "base-sibling" / "x.pt")  # a shared prefix is not inside

    def test_inside_refuses_a_symlink_escape(self, tmp_path):
        base, elsewhere = tmp_path / "base", tmp_path / "elsewhere"
        base.mkdir()
        elsewhere.mkdir()
        (base / "link").symlink_to(elsewhere, target_is_directory=True)
        with pytest.raises(ValueError, match="outside"):
            inside(base, base / "link" / "x.pt")
