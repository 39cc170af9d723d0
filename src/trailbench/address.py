"""The one deterministic address normaliser: scoring resolves every answered address with it.

Normalising upper-cases, removes punctuation, writes street types and unit designators one way
(``STREET`` -> ``ST``, ``#``/``UNIT``/``STE`` -> ``APT``), and drops the ZIP code from the key,
so a formatting variant or a ZIP typo still finds its door while a wrong house number finds
another door, or none.
"""

from __future__ import annotations

import polars as pl

TYPES = {"STREET": "ST", "AVENUE": "AVE", "ROAD": "RD", "LANE": "LN", "COURT": "CT", "DRIVE": "DR", "PLACE": "PL"}
UNITS = ("UNIT", "STE", "SUITE", "APARTMENT")


def normalise_expr(col: pl.Expr) -> pl.Expr:
    """Normalised full text, ZIP included: ``12 ASHWICK ST APT 3 QUELMOOR ZZ 00001``."""
    e = col.str.to_uppercase().str.replace_all("#", " APT ").str.replace_all(r"[^A-Z0-9 ]", " ")
    e = pl.lit(" ") + e.str.replace_all(r"\s+", " ").str.strip_chars() + pl.lit(" ")
    for long, short in TYPES.items():
        e = e.str.replace_all(f" {long} ", f" {short} ", literal=True)
    for u in UNITS:
        e = e.str.replace_all(f" {u} ", " APT ", literal=True)
    return e.str.replace_all(" APT APT ", " APT ", literal=True).str.strip_chars()


def key_expr(col: pl.Expr) -> pl.Expr:
    """Resolution key: the normalised text without state and ZIP (``... QUELMOOR``)."""
    return normalise_expr(col).str.replace(r" ZZ \d*$", "").str.replace(r" \d{5}$", "")


def normalise(text: str) -> str:
    return str(pl.select(normalise_expr(pl.lit(text))).item())


def register_keys(register: pl.DataFrame) -> pl.DataFrame:
    """Register address -> key (one row per valid address)."""
    return register.select("address", key=key_expr(pl.col("address")))


def resolve(texts: pl.DataFrame, register: pl.DataFrame, col: str = "address_text") -> pl.DataFrame:
    """Add ``resolved_address`` (the register's canonical text, or null: no such address)."""
    keys = register_keys(register).unique("key", keep="none")
    return (
        texts.with_columns(_key=key_expr(pl.col(col)))
        .join(keys.rename({"address": "resolved_address"}), left_on="_key", right_on="key", how="left")
        .drop("_key")
    )
