"""What a task and a metric are: one declaration each, read by every surface.

A :class:`Task` says what systems answer (the answer schema, and which columns cite record
ids), how answers are scored (answers + truth -> one row of counts per case, plus outcome
tables), which per-case counts it yields, its metrics, its strata and its explained-case chain.
A :class:`Metric` is a ratio of two per-case counts times a scale, with its unit, direction,
slices and definition in words. Families of variants (an error share per cause) come from one
template by :func:`family`. The audit, the scorecard, its JSON Schema, the report, compare, the
CLI and docs/METRICS.md all read these declarations; nothing lists a task or metric by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    import numpy as np

    from trailbench.scenario import Scenario
    from trailbench.tasks.plate_truth import PlateWorld
    from trailbench.trails import Trails
    from trailbench.world import World
    from trailbench.world.signal_world import SignalWorld

Unit = Literal["share", "per_case", "per_100_cases", "per_10k_residents_per_100_cases", "per_10k", "count"]
Slice = Literal["overall", "group", "strata", "bystander_group"]

UNIT_WORDS: dict[str, str] = {
    "share": "share (shown as a percentage)",
    "per_case": "per case",
    "per_100_cases": "per 100 cases",
    "per_10k_residents_per_100_cases": "per 10,000 residents of the group, per 100 cases",
    "per_10k": "per 10,000 of its denominator",
    "count": "count",
}


@dataclass(frozen=True)
class Metric:
    """A ratio of two per-case counts of one task, times ``scale``.

    ``numerator`` may contain ``{group}``: the metric is then counted on the people harmed, by
    their own group, over all cases, and divided by the group's population (``per_population``)."""

    name: str
    task: str
    numerator: str
    denominator: str
    definition: str
    unit: Unit = "share"
    scale: float = 1.0
    higher_is_better: bool = False
    slices: tuple[Slice, ...] = ("overall", "group", "strata")
    disparity: bool = True  # group ratios to the reference group are reported
    headline: bool = False  # shown in the report's headline
    summary: bool = False  # shown in the CLI summary (at most four, so it fits 80 columns)
    short: str = ""  # a column heading for narrow tables (the CLI summary)
    # "ratio": numerator / denominator summed over a slice's cases. "budget": the numerator's rate
    # at the score threshold that keeps ``budget_count`` per 100 cases within the audit's budget,
    # the system abstaining below it (NIST's miss rate at a fixed false-positive rate)
    kind: Literal["ratio", "budget"] = "ratio"
    budget_count: str = ""
    score_column: str = ""
    # what the ratio is summed over: "cases" (the docket's) or a unit table of the audit
    # (audit/units: "vehicles", "drivers"), each bootstrapped on its own (worlds, then units)
    over: str = "cases"
    version: int = 1

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def heading(self) -> str:
        return self.short or self.label

    @property
    def by_bystander(self) -> bool:
        return "bystander_group" in self.slices

    def format(self, v: float | None) -> str:
        """The one formatting rule for this metric's numbers."""
        if v is None:
            return "–"
        if self.unit == "share":
            return f"{100 * v:.1f}%"
        if self.unit in ("per_100_cases", "per_10k"):
            return f"{v:.1f}"
        return f"{v:.2f}"


def family(template: Metric, variants: Mapping[str, str]) -> tuple[Metric, ...]:
    """One metric per variant from a template whose name and numerator hold ``{}``: for example
    an error share per cause. ``variants`` maps each variant to its definition."""
    return tuple(
        replace(
            template,
            name=template.name.format(v.replace("-", "_")),
            numerator=template.numerator.format(v.replace("-", "_")),
            definition=text,
        )
        for v, text in variants.items()
    )


@dataclass
class ScoreContext:
    """Everything a scorer may read: the truth is here, never in what systems saw."""

    system: str
    scenario: Scenario
    world: World
    trails: Trails
    docket_truth: pl.DataFrame  # case_id, person_id, as_of, clue_record_id, device_key, clue_pings
    rng: np.random.Generator  # for drawing explained cases
    signals: SignalWorld | None = None  # daily life, devices and their truth (None: no signals stage)
    plates: PlateWorld | None = None  # vehicles, trips, reads and their truth (None: no plates stage)


@dataclass
class Scored:
    """One system's answers to one task, scored.

    ``counts`` has one row per docket case (``case_id`` and the task's ``counts`` columns);
    ``units`` one table per unit table the task counts over (its key and the task's
    ``unit_counts`` columns for it; units missing from it count 0);
    ``tables`` are outcome tables written to ``outcomes/<name>.parquet`` (a ``system`` column is
    added); ``drawn`` lists (case_id, person_id) of people drawn into case files, for exposure."""

    counts: pl.DataFrame
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    drawn: pl.DataFrame | None = None
    error_types: list[dict[str, Any]] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)
    units: dict[str, pl.DataFrame] = field(default_factory=dict)


Scorer = Callable[[ScoreContext, pl.DataFrame | None], Scored]  # None: the system gave no answer file
# (system, its case table pooled over the worlds, its outcome tables pooled) -> trade-off curves
Curves = Callable[[str, pl.DataFrame, Mapping[str, pl.DataFrame]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Task:
    """A question systems answer, and how its answers are scored."""

    name: str
    description: str
    answer_schema: dict[str, pl.DataType]
    id_columns: tuple[str, ...]  # columns that cite ids (validated against the trails)
    score: Scorer  # answers (possibly empty: the system gave none) -> Scored
    counts: tuple[str, ...]  # per-case count columns the scorer yields
    metrics: tuple[Metric, ...]
    strata: tuple[str, ...] = ()
    optional_columns: dict[str, pl.DataType] = field(default_factory=dict)  # filled with nulls when absent
    outcome_tables: Mapping[str, str] = field(default_factory=dict)  # name -> what a row is
    explained_chain: str = ""  # what an explained case of this task shows, in words
    curves: Curves | None = None  # trade-off curves (point estimates), from the pooled tables
    # what id_columns cite: "records" (trails/records.parquet), "devices" (advertising IDs in the
    # pings and MACs in the Wi-Fi sightings), "reads" (read_id of trails/plate_reads) or "plates"
    # (plate_as_read of trails/plate_reads)
    id_space: Literal["records", "devices", "reads", "plates"] = "records"
    # counts per unit table other than the docket's cases (audit/units): unit -> count columns
    unit_counts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    version: int = 1

    @property
    def per_case(self) -> bool:
        """Answers are per docket case (``case_id`` and ``rank`` columns); otherwise the task
        answers about the region (flagged vehicles, hotlist hits) and is counted over units."""
        return "case_id" in self.answer_schema

    def empty_answers(self) -> pl.DataFrame:
        return pl.DataFrame(schema={**self.answer_schema, **self.optional_columns})
