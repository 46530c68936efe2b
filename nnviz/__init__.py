"""nnviz: watch neural networks learn. The library behind the dashboard and the CLI."""
__version__ = "0.1.0"
