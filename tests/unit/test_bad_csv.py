"""Bad CSV uploads: each case gets its own exact sentence from `read_xy_csv`; odd but valid files work."""
from __future__ import annotations

import numpy as np
import pytest

from nnviz.data.regression import MAX_CSV_BYTES, CsvError, read_xy_csv

GOOD = "x,y\n" + "".join(f"{a:.3f},{np.sin(a):.4f}\n" for a in np.linspace(-3, 3, 40))

BAD = {
    "empty": (b"", "The CSV file is empty. Upload a file with two numeric columns, x and y."),
    "only blank lines": (b"\n\n  \n", "The CSV file is empty. Upload a file with two numeric columns, x and y."),
    "header only": (b"x,y\n", "The CSV file has a header but no data rows."),
    "non-numeric": (b"x,y\na,b\nc,d\ne,f\ng,h\n", "Some x or y values are missing or are not numbers."),
    "no numeric columns": (b"name,colour\nann,red\nbob,blue\ncid,green\n",
                           "The CSV file needs two numeric columns (x and y); found 0 column(s) where every value "
                           "is a number."),
    "NaN": (b"x,y\n0,1\n1,nan\n2,3\n3,4\n4,5\n",
            "1 row(s) have NaN or infinite values (first at line 3). Remove or fill them and upload again."),
    "inf": (b"x,y\n0,1\n1,2\n2,3\n3,4\n-inf,5\n6,inf\n",
            "2 row(s) have NaN or infinite values (first at line 6). Remove or fill them and upload again."),
    "1e308": (b"x,y\n0,1\n1,1e308\n2,3\n3,4\n4,5\n",  # finite in float64, inf in float32
              "1 row(s) have values beyond ±1e+15 (first at line 3), too large to train on: rescale the columns "
              "(e.g. to other units) and upload again."),
    "one row": (b"x,y\n0.5,1.5\n", "The CSV file has 1 data row(s); at least 4 are needed to train and test."),
    "10^6 rows": (b"x,y\n" + b"0.5,1.5\n" * 1_000_000,
                  "The CSV file has 1,000,000 rows; the limit is 100,000. Subsample it first (1-D regression "
                  "needs far fewer points)."),
    "over the byte limit": (b"x,y\n" + b"0.123456789,1.23456789\n" * (MAX_CSV_BYTES // 23 + 10),
                            "The CSV file is 20.0 MB; the limit is 20 MB (100,000 rows)."),
    "wrong delimiter": (GOOD.replace(",", "|").encode(),
                        "The CSV file has only one column. It needs two numeric columns, x and y, separated by "
                        "commas (semicolons and tabs also work)."),
    "binary junk": (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)) + b"\0",
                    "This does not look like a text CSV file (it contains binary data)."),
    "a PNG renamed .csv": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(200),
                           "This does not look like a text CSV file (it contains binary data)."),
    "Latin-1 text": ("x,y\n" + "1,2\n" * 4 + "3,4 \xb5m\n").encode("latin-1"),
    "UTF-16 without a BOM": (GOOD.encode("utf-16-le"),
                             "This does not look like a text CSV file (it contains binary data)."),
}
BAD["Latin-1 text"] = (BAD["Latin-1 text"], "The file is not UTF-8 text. Save it as a UTF-8 CSV with x and y columns.")


@pytest.mark.parametrize("case", list(BAD))
def test_bad_csv_gets_its_exact_message(case):
    raw, message = BAD[case]
    with pytest.raises(CsvError) as info:
        read_xy_csv(raw)
    assert str(info.value) == message


@pytest.mark.parametrize("variant", ["utf-16 with BOM", "utf-8 with BOM", "semicolons", "tabs", "CRLF", "extra columns"])
def test_odd_but_valid_files_are_read(variant):
    text = {"semicolons": GOOD.replace(",", ";"), "tabs": GOOD.replace(",", "\t"), "CRLF": GOOD.replace("\n", "\r\n"),
            "extra columns": GOOD.replace("x,y\n", "id,x,y\n").replace("\n-", "\n0,-").replace("\n0.", "\n0,0.")
            .replace("\n1.", "\n0,1.").replace("\n2.", "\n0,2.").replace("\n3.", "\n0,3.")}.get(variant, GOOD)
    raw = {"utf-16 with BOM": GOOD.encode("utf-16"), "utf-8 with BOM": GOOD.encode("utf-8-sig")}.get(variant, text.encode())
    x, y = read_xy_csv(raw)
    assert len(x) == len(y) == 40 and x.dtype == np.float32
    np.testing.assert_allclose(y, np.sin(x), atol=1e-3)


def test_a_good_file_after_bad_ones():
    for raw, _ in BAD.values():
        with pytest.raises(CsvError):
            read_xy_csv(raw)
    x, y = read_xy_csv(GOOD.encode())
    assert len(x) == 40
