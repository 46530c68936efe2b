"""nnviz: watch neural networks learn. The library behind the dashboard and the CLI."""
import os as _os

# torch's OpenMP threads spin between parallel regions by default. When anything else needs
# the cores (the dashboard's browser and server, other programs), a spinning thread holds a
# core its partner is waiting for: on a busy 2-core machine the default CNN trained ~10x
# slower on 2 threads than with passive waiting (benchmarks/throughput.py). libgomp reads
# this once, when torch loads, so it is set before nnviz imports torch; a user's value wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
