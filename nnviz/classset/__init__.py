"""The class canvas: a class's own drawings as a dataset (store, submission, dataset view, comparison)."""
from nnviz.classset.store import ClassStore, Drawing, Refused, is_held_out

__all__ = ["ClassStore", "Drawing", "Refused", "is_held_out"]
