"""nnviz: watch neural networks learn. The library behind the dashboard and the CLI."""
import os as _os

# torch's OpenMP threads spin between parallel regions before they sleep. libgomp's default
# spin (300,000 rounds) holds a core for long stretches: when anything else needs the cores
# (the dashboard's browser and server, other programs), a spinning thread keeps the core its
# partner waits for, and on a busy 2-core machine the default CNN trained ~10x slower on 2
# threads. Never spinning (OMP_WAIT_POLICY=PASSIVE) costs a futex wake-up per parallel region
# instead: the course MLP trained 2.6x slower on a quiet machine. A short spin keeps both:
# measured on 2 cores (mlp_dropout, batch 64): 10,000 rounds 47k samples/s, libgomp's default
# 46k, passive 22k. libgomp reads this once, when torch loads, so it is set before nnviz
# imports torch; a user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "10000")

__version__ = "0.1.0"
