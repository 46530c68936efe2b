"""The learning-rate control of the labs: a log-scale slider for the usual values, and a box to type any
other ("what if lr = 7?"), up to 100 where every optimizer diverges."""
from __future__ import annotations

import math
from typing import Any, Sequence

import streamlit as st

TYPED_MAX = 100.0
TYPED_MIN = 1e-6


def _typed_key(key: str) -> str:
    return f"{key}_typed"


def _error_key(key: str) -> str:
    return f"{key}_typed_error"


def _take_typed(key: str) -> None:
    """A typed value becomes the slider's (the slider then lists it among its stops); anything else is said
    under the box and changes nothing."""
    text = (st.session_state.get(_typed_key(key)) or "").strip().replace(",", ".")
    st.session_state.pop(_error_key(key), None)
    if not text:
        return
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not TYPED_MIN <= value <= TYPED_MAX:  # nan fails too
        st.session_state[_error_key(key)] = f"“{text[:20]}” is not a learning rate from {TYPED_MIN:g} to {TYPED_MAX:g}."
        return
    st.session_state[key] = value
    st.session_state[_typed_key(key)] = ""  # the box empties: the slider shows the value


def stops(rates: Sequence[float], current: Any) -> list[float]:
    """The slider's stops: the usual `rates`, plus the current value where it is another (typed, or a loaded run's)."""
    if isinstance(current, (int, float)) and TYPED_MIN <= current <= TYPED_MAX and current not in rates:
        return sorted({*rates, float(current)})
    return list(rates)


def learning_rate(where: Any, key: str, rates: Sequence[float], **slider: Any) -> float:
    """The slider (keyed `key`) in `where`, with the type-in box under it; returns the learning rate."""
    value = where.select_slider("Learning rate", stops(rates, st.session_state.get(key)), key=key,
                                format_func=lambda v: f"{v:g}", **slider)
    where.text_input("Type a learning rate", key=_typed_key(key), on_change=_take_typed, args=(key,),
                     label_visibility="collapsed", placeholder="or type: 7 ⏎", max_chars=24,
                     disabled=slider.get("disabled", False),
                     help=f"Any learning rate from {TYPED_MIN:g} to {TYPED_MAX:g}; the slider moves to it.")
    if _error_key(key) in st.session_state:
        where.caption(f":material/error: {st.session_state[_error_key(key)]}")
    return value
