"""The system contract (DESIGN §2, §5).

A system receives a working directory holding only ``trails/`` and ``docket/`` (and
``config.json`` with its own settings), and writes ``answers/<system>/<task>.parquet``:

- ``locate``: ``case_id``, ``rank`` (1 = best), ``address_text``, ``evidence`` (list of record ids)
- ``associates``: ``case_id``, ``rank``, ``entity`` (list of record ids: one linked person as the
  system sees them)

A Python system is a class with a ``name`` and ``run(workdir: Path) -> None``, registered under
the entry-point group ``trailbench.systems``. Any other program can be a system through a command
line in the scenario; it is called with the working directory as its last argument.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import polars as pl

import trailbench.tasks  # noqa: F401  (registers the built-in tasks)
from trailbench.tasks import registry


def schema(task: str) -> dict[str, pl.DataType]:
    """A task's answer schema, from its declaration."""
    return registry.task(task).answer_schema


def task_names() -> list[str]:
    return [t.name for t in registry.tasks()]


class System(Protocol):
    name: str

    def run(self, workdir: Path) -> None: ...


class AnswerError(ValueError):
    """An answer file that breaks the contract; the message says how."""


def write_answer(workdir: Path, system: str, task: str, df: pl.DataFrame) -> None:
    out = workdir / "answers" / system
    out.mkdir(parents=True, exist_ok=True)
    declared = registry.task(task)
    cols = [pl.col(c).cast(t) for c, t in declared.answer_schema.items()]
    cols += [pl.col(c).cast(t) for c, t in declared.optional_columns.items() if c in df.columns]
    order = ["case_id", "rank"] if declared.per_case else list(declared.answer_schema)
    df.select(cols).sort(order).write_parquet(out / f"{task}.parquet", statistics=False)


ID_WORDS = {
    "records": "record ids",
    "devices": "device identifiers",
    "reads": "plate read ids",
    "plates": "plates (as read)",
}


def read_config(workdir: Path) -> dict[str, Any]:
    path = workdir / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def validate(task: str, df: pl.DataFrame, record_ids: pl.Series, case_ids: pl.Series) -> pl.DataFrame:
    """The answer cast to the contract's schema, or :class:`AnswerError` naming the problem.
    ``record_ids``: the ids its id columns may cite (records, or device identifiers: the task's
    ``id_space``)."""
    declared = registry.task(task)
    cols = declared.answer_schema
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise AnswerError(f"{task}: missing columns {missing}; the contract needs {list(cols)}")
    optional = declared.optional_columns
    try:
        out = df.select(
            *(pl.col(c).cast(t, strict=True) for c, t in cols.items()),
            *(
                (pl.col(c) if c in df.columns else pl.lit(None)).cast(t, strict=True).alias(c)
                for c, t in optional.items()
            ),
        )
    except Exception as err:  # polars raises several error types for bad casts
        raise AnswerError(f"{task}: columns of the wrong type ({type(err).__name__}: {str(err)[:200]})") from None
    if declared.per_case:
        if out["case_id"].null_count() or out["rank"].null_count():
            raise AnswerError(f"{task}: case_id and rank may not be null")
        if (out["rank"] < 1).any():
            raise AnswerError(f"{task}: rank starts at 1")
        unknown_cases = out.filter(~pl.col("case_id").is_in(case_ids.implode()))["case_id"].unique()
        if unknown_cases.len():
            raise AnswerError(f"{task}: answers for cases not on the docket: {unknown_cases.head(5).to_list()}")
    else:
        nulls = [c for c in declared.answer_schema if out[c].null_count()]
        if nulls:
            raise AnswerError(f"{task}: {', '.join(nulls)} may not be null")
    what = ID_WORDS[declared.id_space]
    for col in declared.id_columns:
        ids = out[col].explode().drop_nulls().unique()
        unknown = ids.filter(~ids.is_in(record_ids.implode()))
        if unknown.len():
            raise AnswerError(f"{task}: cites {unknown.len()} unknown {what}, e.g. {unknown.sort().head(3).to_list()}")
    return out.sort(["case_id", "rank"] if declared.per_case else list(declared.answer_schema))
