"""`streamlit run` for the e2e server, its runs training at normal priority (see tests/conftest.py: a
nice-10 training thread beside busy neighbours gets a few per cent of a core). Arguments as for `streamlit`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streamlit.web import cli  # noqa: E402

from nnviz.jobs import runs  # noqa: E402

runs.TRAINING_NICENESS = 0

if __name__ == "__main__":
    sys.exit(cli.main())
