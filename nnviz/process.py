"""Process-wide settings, made by nnviz's entry points (the CLI's main, streamlit_app.py) and never
by importing the library: a program that imports nnviz keeps its own environment."""
import os


def configure() -> None:
    """Let torch's OpenMP threads spin only briefly before they sleep (see docs/performance.md).

    libgomp reads this once, when torch loads: call it before anything imports torch. A user's own
    GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
