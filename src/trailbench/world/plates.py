"""Licence plates of the fictional jurisdiction ``ZZ`` and of fictional out-of-region ones (DESIGN §9).

Every plate has seven characters, held as a row of an ``(n, 7)`` uint8 array of ASCII codes:

- standard ``ZZ`` plates: three letters and four digits (``KRT4821``);
- ``ZZ`` specialty and personalised series: two digits, three letters, two digits (``48KRT21``);
  some of them stacked (small characters one above another), which readers read worse;
- out-of-region plates of the jurisdictions ``Z1`` .. ``Z9`` (codes with a digit: no US state or
  territory has one): a digit, three letters, three digits (``4KRT821``).

Letters skip I, O and Q, as many issuers do. Each series is issued through its own keyed
permutation (:class:`~trailbench.world.ids.KeyedPermutation`), so a plate says nothing of the
vehicle, household or order it was issued to, and no plate is computable from another.

Misreads substitute characters along a confusion table of shapes a reader mistakes for one
another (O/0, B/8, 1/I, S/5, Z/2 ...); they never change a plate's length.
"""

from __future__ import annotations

import numpy as np

from trailbench.rng import stream
from trailbench.world.ids import KeyedPermutation

WIDTH = 7
STATES: tuple[str, ...] = ("ZZ", *(f"Z{i}" for i in range(1, 10)))
HOME = 0  # index of "ZZ" in STATES
LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)  # no I, O, Q
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
ALL_LETTERS = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
SERIES = {"standard": "LLLDDDD", "specialty": "DDLLLDD", "out_of_region": "DLLLDDD"}

# Shapes a plate reader confuses (both directions). Sources: the pairs named in FACTS (O/0, B/8,
# 1/I) and the usual OCR confusions of block capitals; which pairs and how often is an assumption.
CONFUSIONS = (
    "O0",
    "D0",
    "Q0",
    "QO",
    "B8",
    "I1",
    "L1",
    "T1",
    "S5",
    "Z2",
    "G6",
    "A4",
    "T7",
    "E3",
    "B3",
    "U0",
    "DO",
    "PR",
    "HN",
    "MN",
    "VY",
    "KX",
    "CG",
    "EF",
    "96",
    "98",
)


def _confusion_table() -> tuple[np.ndarray, np.ndarray]:
    partners: dict[int, list[int]] = {}
    for pair in CONFUSIONS:
        a, b = pair[0], pair[1]
        partners.setdefault(ord(a), []).append(ord(b))
        partners.setdefault(ord(b), []).append(ord(a))
    width = max(len(v) for v in partners.values())
    table = np.zeros((256, width), dtype=np.uint8)
    count = np.zeros(256, dtype=np.int64)
    for c, v in partners.items():
        table[c, : len(v)] = sorted(v)
        count[c] = len(v)
    return table, count


TABLE, COUNT = _confusion_table()


def _digits_of(values: np.ndarray, pattern: str) -> np.ndarray:
    """Characters of ``values`` (integers below the series' size) in the series ``pattern``."""
    v = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((len(v), len(pattern)), dtype=np.uint8)
    for i in range(len(pattern) - 1, -1, -1):
        alphabet = LETTERS if pattern[i] == "L" else DIGITS
        out[:, i] = alphabet[v % len(alphabet)]
        v //= len(alphabet)
    return out


def series_size(pattern: str) -> int:
    return int(np.prod([len(LETTERS) if c == "L" else len(DIGITS) for c in pattern]))


def issue(seed: int, series: str, n: int) -> np.ndarray:
    """The first ``n`` plates of ``series``, issued through its keyed permutation."""
    pattern = SERIES[series]
    perm = KeyedPermutation(series_size(pattern), stream(seed, "plates", "issue", series))
    return _digits_of(perm(np.arange(n, dtype=np.int64)), pattern)


def as_strings(plates: np.ndarray) -> np.ndarray:
    """Rows of an ``(n, 7)`` uint8 array as an array of str."""
    p = np.ascontiguousarray(plates, dtype=np.uint8)
    return p.view(f"S{p.shape[1]}").ravel().astype(str)


def from_strings(plates: list[str] | np.ndarray) -> np.ndarray:
    b = np.asarray(plates, dtype=f"S{WIDTH}")
    if any(len(x) != WIDTH for x in b.tolist()):
        raise ValueError(f"plates must have {WIDTH} characters")
    return b.view(np.uint8).reshape(len(b), WIDTH).copy()


def as_int(plates: np.ndarray) -> np.ndarray:
    """Each plate as one int64 (seven bytes, big-endian: the order of the strings)."""
    p = np.asarray(plates, dtype=np.int64)
    out = np.zeros(len(p), dtype=np.int64)
    for i in range(p.shape[1]):
        out = (out << 8) | p[:, i]
    return out


def confuse(plates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each plate with one character read as another: a position holding a character with a
    confusable partner is chosen (uniformly among such positions) and replaced by one of its
    partners; a plate with none gets a random position replaced by another character of its kind.
    The length never changes. A pure function of ``plates`` and the generator's state."""
    p = np.array(plates, dtype=np.uint8, copy=True)
    m = len(p)
    if m == 0:
        return p
    u = rng.random((3, m))
    cnt = COUNT[p]
    has = cnt > 0
    n_has = has.sum(axis=1)
    # position: the k-th confusable one (or any, where none is)
    k = np.floor(u[0] * np.where(n_has > 0, n_has, p.shape[1])).astype(np.int64)
    rank = np.cumsum(np.where(n_has[:, None] > 0, has, True), axis=1) - 1
    pos = np.argmax(rank == k[:, None], axis=1)
    rows = np.arange(m)
    c = p[rows, pos]
    nc = cnt[rows, pos]
    partner = TABLE[c, np.minimum(np.floor(u[1] * np.maximum(nc, 1)).astype(np.int64), TABLE.shape[1] - 1)]
    is_digit = (c >= ord("0")) & (c <= ord("9"))
    alphabet_n = np.where(is_digit, len(DIGITS), len(ALL_LETTERS))
    j = np.floor(u[2] * (alphabet_n - 1)).astype(np.int64)
    base = np.where(is_digit, c - ord("0"), c - ord("A")).astype(np.int64)
    j = np.where(j >= base, j + 1, j)  # any other character of the same kind
    other = np.where(is_digit, DIGITS[np.minimum(j, 9)], ALL_LETTERS[np.minimum(j, 25)])
    p[rows, pos] = np.where(nc > 0, partner, other)
    return p


def misread(plates: np.ndarray, rng: np.random.Generator, again: float) -> np.ndarray:
    """Plates read wrong: one character confused, then with chance ``again`` another, and so on
    (a read may come back to the right plate only by confusing a character back)."""
    out = confuse(plates, rng)
    more = rng.random(len(out)) < again
    while more.any():
        out[more] = confuse(out[more], rng)
        more[more] = rng.random(int(more.sum())) < again
    return out
