"""Property tests for the error processes and the broker's linkage."""

from __future__ import annotations

import itertools
import json

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from trailbench.io import table_json
from trailbench.scenario import Scenario
from trailbench.trails.broker import connected_components
from trailbench.trails.errors import render_dob, typo
from trailbench.trails.render import rates_for

WORDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20)


@given(WORDS, st.integers(0, 2**32 - 1))
def test_typo_is_one_edit(word: str, seed: int) -> None:
    out = typo(np.random.default_rng(seed), word, np.array([0.59, 0.16, 0.10, 0.02]) / 0.87)
    assert DamerauLevenshtein.distance(word, out) <= 1
    # only a transposition of two equal neighbours leaves a word unchanged
    assert out != word or any(a == b for a, b in itertools.pairwise(word))


@settings(max_examples=50)
@given(
    st.lists(
        st.dates(
            min_value=np.datetime64("1920-01-01").astype(object), max_value=np.datetime64("2020-12-31").astype(object)
        ),
        min_size=1,
        max_size=50,
    ),
    st.integers(0, 2**32 - 1),
)
def test_dob_text_is_iso_or_partial_or_missing(dobs: list, seed: int) -> None:
    rates = rates_for(Scenario(), 20.0)
    text, bits = render_dob(np.random.default_rng(seed), rates, np.array(dobs, dtype="datetime64[D]"))
    assert text.len() == len(dobs)
    ok = text.drop_nulls().str.contains(r"^\d{4}-\d{2}(-\d{2})?$")
    assert ok.all()
    clean = (bits == 0) & text.is_not_null().to_numpy()
    want = pl.Series(np.array(dobs, dtype="datetime64[D]")).cast(pl.String)
    assert (text.filter(pl.Series(clean)) == want.filter(pl.Series(clean))).all()


@settings(max_examples=80)
@given(st.lists(st.tuples(st.integers(-1, 6), st.integers(-1, 6)), min_size=1, max_size=40))
def test_components_join_exactly_the_nodes_sharing_a_key(keys: list[tuple[int, int]]) -> None:
    a = np.array([k[0] for k in keys])
    b = np.array([k[1] for k in keys])
    labels = connected_components([a, b])
    # reference: naive union-find
    parent = list(range(len(keys)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for key in (a, b):
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                if key[i] >= 0 and key[i] == key[j]:
                    parent[find(i)] = find(j)
    for i in range(len(keys)):
        for j in range(len(keys)):
            assert (labels[i] == labels[j]) == (find(i) == find(j))


JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text(max_size=8)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100)
@given(st.dictionaries(st.text(max_size=6), JSON_VALUE | st.lists(JSON_VALUE, max_size=5), max_size=6))
def test_table_json_reads_back_as_written_one_row_per_line(data: dict) -> None:
    text = table_json(data)
    assert json.loads(text) == data
    assert table_json(json.loads(text)) == text  # a fixed point: the same card gives the same bytes
    lines = text.splitlines()
    for v in data.values():
        if isinstance(v, list) and v:  # each row of a table on a line of its own
            for row in v:
                assert json.dumps(row, sort_keys=True, separators=(",", ":")) in lines or any(
                    line == json.dumps(row, sort_keys=True, separators=(",", ":")) + "," for line in lines
                )
