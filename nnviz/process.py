"""Process-wide settings, made by nnviz's entry points (the CLI's main, streamlit_app.py) and never
by importing the library: a program that imports nnviz keeps its own environment."""
import os
import sys

SWITCH_INTERVAL_S = 0.001  # how often Python hands the GIL from a busy thread to a waiting one


def configure() -> None:
    """Settings for a process that trains while other threads serve pages (see docs/performance.md).

    - torch's OpenMP threads spin only briefly before they sleep. libgomp reads this once, when torch
      loads: call this before anything imports torch. A user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
    - A 1 ms GIL switch interval instead of 5 ms: a training thread gets the GIL back soon after each
      torch op while a page thread runs Python, so small nets train at full speed beside the pages.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
