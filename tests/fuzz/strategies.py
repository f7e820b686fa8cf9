"""Hypothesis strategies shared by the fuzz suite: JSON values, hostile strings and a mutator
that takes a recorded payload shape and changes it the ways real feeds go wrong (a field
dropped, a type changed, a value out of range, a string full of controls)."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded so the whole suite runs in CI in a couple of minutes; FUZZ_EXAMPLES raises it for a
# longer local hunt (e.g. FUZZ_EXAMPLES=2000).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

HOSTILE_STRINGS = (
    "",
    " ",
    "\x00",
    "\ud800",
    "\u202e\u2066evil",
    "<script>alert(1)</script>",
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "2026-13-45T99:99:99Z",
    "2026-11-03",
    "2026-11-03T10:00:00",
    "not a date",
    "javascript:alert(1)",
    "https://",
    "x" * 5000,
    "9" * 40,
    "-1",
    "NaN",
    "{}",
    "[]",
)
HOSTILE_NUMBERS = (-1, 0, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**40, -(2**63), 1e308, -0.0)

text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40))
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
any_json = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def mutate(data: st.DataObject, value: Any, depth: int = 0) -> Any:
    """`value` with some of its parts dropped, replaced or retyped (drawn from `data`)."""
    roll = data.draw(st.integers(0, 19), label="roll")
    if roll == 0:
        return data.draw(any_json, label="replacement")
    if roll == 1 and depth > 0:
        return data.draw(leaf, label="leaf")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            action = data.draw(st.integers(0, 9), label=f"key {key}")
            if action == 0:
                continue  # the field is missing
            out[key] = mutate(data, inner, depth + 1) if action <= 4 else inner
        if data.draw(st.integers(0, 9), label="extra") == 0:
            out[data.draw(st.text(max_size=10))] = data.draw(any_json)
        return out
    if isinstance(value, list):
        return [mutate(data, inner, depth + 1) for inner in value if data.draw(st.integers(0, 9))]
    if isinstance(value, str) and roll <= 4:
        return data.draw(text, label="string")
    if isinstance(value, int | float) and not isinstance(value, bool) and roll <= 4:
        return data.draw(st.sampled_from(HOSTILE_NUMBERS), label="number")
    return value
