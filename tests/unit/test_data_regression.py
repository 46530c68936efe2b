"""nnviz.data.regression: synthetic 1-D sets and the x,y CSV reader."""
from __future__ import annotations

import numpy as np
import pytest

from nnviz.config import DataConfig
from nnviz.data import load, regression_set
from nnviz.data import regression as reg
from nnviz.data.regression import (
    COURSE_GAPS,
    DOMAIN,
    FUNCTIONS,
    MAX_CSV_ROWS,
    CsvError,
    make_synthetic,
    read_xy_csv,
    split_csv,
    true_curve,
)


def _in_any_gap(x: np.ndarray, gaps) -> np.ndarray:
    return np.any([(x > lo) & (x < hi) for lo, hi in gaps], axis=0)


class TestSynthetic:
    def test_default_is_100_train_100_test(self):
        points = regression_set(DataConfig(dataset="regression"))
        for arr in (points.x_train, points.y_train, points.x_test, points.y_test):
            assert arr.shape == (100, 1)
            assert arr.dtype == np.float32
        assert points.function == "course" and points.noise == 0.3
        assert points.gaps == COURSE_GAPS

    def test_load_holds_out_validation_from_training_points(self):
        points = regression_set(DataConfig(dataset="regression"))
        data = load(DataConfig(dataset="regression"))
        assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (90, 10, 100)
        assert data.task == "regression" and data.input_shape == (1,) and data.n_outputs == 1
        pooled = np.sort(np.concatenate([data.x_train.numpy(), data.x_val.numpy()]).ravel())
        np.testing.assert_array_equal(pooled, np.sort(points.x_train.ravel()))
        np.testing.assert_array_equal(data.x_test.numpy(), points.x_test)

    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_training_x_avoids_the_gaps_and_test_x_covers_them(self, seed):
        points = make_synthetic("course", seed=seed)
        x_train, x_test = points.x_train.ravel(), points.x_test.ravel()
        assert not _in_any_gap(x_train, COURSE_GAPS).any()
        for lo, hi in COURSE_GAPS:
            assert ((x_test > lo) & (x_test < hi)).sum() >= 3, f"no test points in gap ({lo}, {hi})"
        for x in (x_train, x_test):
            assert DOMAIN[0] <= x.min() and x.max() <= DOMAIN[1]

    def test_noise_std_is_what_was_asked(self):
        points = make_synthetic("course", noise=0.5, n_train=20_000, n_test=10, seed=1)
        residual = points.y_train.ravel() - true_curve("course", points.x_train.ravel().astype(np.float64))
        assert residual.std() == pytest.approx(0.5, rel=0.03)
        assert abs(residual.mean()) < 0.02

    def test_zero_noise_lies_on_the_curve(self):
        points = make_synthetic("sine", noise=0.0, seed=4)
        expected = true_curve("sine", points.x_test.ravel().astype(np.float64))
        np.testing.assert_allclose(points.y_test.ravel(), expected, atol=1e-5)

    def test_same_seed_same_points_other_seed_other_points(self):
        a, b, c = make_synthetic(seed=5), make_synthetic(seed=5), make_synthetic(seed=6)
        for name in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(a.x_train, c.x_train)

    def test_validation_split_follows_the_seed(self):
        a = load(DataConfig(dataset="regression", seed=3))
        b = load(DataConfig(dataset="regression", seed=3))
        assert a.x_val.equal(b.x_val) and a.y_train.equal(b.y_train)

    @pytest.mark.parametrize("function", sorted(FUNCTIONS))
    def test_every_function_draws_finite_points(self, function):
        points = make_synthetic(function, n_train=40, n_test=30, seed=0)
        assert points.x_train.shape == (40, 1) and points.x_test.shape == (30, 1)
        assert np.isfinite(points.y_train).all() and np.isfinite(points.y_test).all()
        assert np.all(np.diff(points.x_train.ravel()) >= 0)  # sorted for drawing lines

    def test_unknown_function(self):
        with pytest.raises(ValueError, match="unknown function"):
            make_synthetic("nope")


def rows(n: int = 6, header: str | None = "x,y", sep: str = ",") -> str:
    lines = [header] if header else []
    lines += [f"{i * 0.5}{sep}{i * i - 1}" for i in range(n)]
    return "\n".join(lines) + "\n"


class TestCsvGood:
    def _check(self, x, y, n=6):
        np.testing.assert_allclose(x, [i * 0.5 for i in range(n)])
        np.testing.assert_allclose(y, [i * i - 1 for i in range(n)])
        assert x.dtype == np.float32 and y.dtype == np.float32

    def test_header(self):
        self._check(*read_xy_csv(rows().encode()))

    def test_no_header(self):
        self._check(*read_xy_csv(rows(header=None).encode()))

    def test_semicolon_delimiter(self):
        self._check(*read_xy_csv(rows(header="x;y", sep=";").encode()))

    def test_tab_delimiter(self):
        self._check(*read_xy_csv(rows(header="x\ty", sep="\t").encode()))

    def test_utf16_with_bom(self):
        raw = rows().encode("utf-16")
        assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        self._check(*read_xy_csv(raw))

    def test_utf8_with_bom_and_crlf(self):
        self._check(*read_xy_csv(rows().replace("\n", "\r\n").encode("utf-8-sig")))

    def test_named_columns_win_over_position(self):
        x, y = read_xy_csv(b"id,y,x\n1,10,0.5\n2,20,1.5\n3,30,2.5\n4,40,3.5\n")
        np.testing.assert_allclose(x, [0.5, 1.5, 2.5, 3.5])
        np.testing.assert_allclose(y, [10, 20, 30, 40])

    def test_first_two_numeric_columns_without_names(self):
        x, y = read_xy_csv(b"label,a,b\nu,1,2\nv,3,4\nw,5,6\nz,7,8\n")
        np.testing.assert_allclose(x, [1, 3, 5, 7])
        np.testing.assert_allclose(y, [2, 4, 6, 8])

    def test_from_a_path(self, tmp_path):
        path = tmp_path / "points.csv"
        path.write_text(rows())
        self._check(*read_xy_csv(path))
        self._check(*read_xy_csv(str(path)))

    def test_csv_dataset_through_load(self, tmp_path):
        path = tmp_path / "points.csv"
        path.write_text(rows(n=20))
        data = load(DataConfig(dataset="csv", csv_path=str(path)))
        assert data.task == "regression"
        assert len(data.x_test) == 6  # 30 % of 20
        assert len(data.x_train) + len(data.x_val) == 14
        every_x = np.sort(np.concatenate([data.x_train, data.x_val, data.x_test]).ravel())
        np.testing.assert_allclose(every_x, [i * 0.5 for i in range(20)])
        assert data.regression is not None and data.regression.gaps == ()

    def test_split_csv_is_seeded(self):
        x = np.arange(30, dtype=np.float32)
        a, b, c = split_csv(x, x, seed=1), split_csv(x, x, seed=1), split_csv(x, x, seed=2)
        np.testing.assert_array_equal(a.x_test, b.x_test)
        assert not np.array_equal(a.x_test, c.x_test)
        assert len(a.x_test) == 9 and len(a.x_train) == 21


class TestCsvBad:
    @pytest.mark.parametrize("raw, message", [
        (b"", "empty"),
        (b"   \n\n  ", "empty"),
        (b"x,y\n", "header but no data"),
        (b"x,y\n1,a\n2,b\n3,c\n4,d\n", "not numbers"),
        (b"a,b\nc,d\ne,f\n", "two numeric columns"),
        (b"x,y\n1,2\n2,nan\n3,4\n4,5\n", "NaN or infinite"),
        (b"x,y\n1,2\n2,3\ninf,4\n4,5\n", "NaN or infinite"),
        (b"x,y\n1,2\n", "at least 4"),
        (b"1,2\n", "at least 4"),
        (b"x|y\n1|2\n2|3\n3|4\n4|5\n", "only one column"),
        (b"x\n1\n2\n3\n4\n", "only one column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary"),
        (b"x,y\n1,\xe9\xff2\n2,3\n", "not UTF-8"),
    ])
    def test_clear_errors(self, raw, message):
        with pytest.raises(CsvError, match=message):
            read_xy_csv(raw)

    def test_nan_error_names_the_line(self):
        with pytest.raises(CsvError, match="line 3"):
            read_xy_csv(b"x,y\n1,2\n2,nan\n3,4\n4,5\n")

    def test_too_many_rows(self):
        raw = ("x,y\n" + "1,2\n" * (MAX_CSV_ROWS + 1)).encode()
        with pytest.raises(CsvError, match="limit"):
            read_xy_csv(raw)

    def test_exactly_the_row_limit_is_fine(self):
        x, _ = read_xy_csv(("x,y\n" + "1,2\n" * MAX_CSV_ROWS).encode())
        assert len(x) == MAX_CSV_ROWS

    def test_too_many_bytes(self, monkeypatch):
        monkeypatch.setattr(reg, "MAX_CSV_BYTES", 100)
        with pytest.raises(CsvError, match="MB"):
            read_xy_csv(rows(n=30).encode())

    def test_random_binary_junk(self):
        junk = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
        with pytest.raises(CsvError):
            read_xy_csv(junk)

    def test_missing_file_is_a_csv_error(self, tmp_path):
        with pytest.raises(CsvError, match="Cannot read"):
            read_xy_csv(tmp_path / "absent.csv")
