"""The registry of tasks (and through them, metrics): one ordered table every surface reads.

``trailbench.tasks`` registers the built-in tasks; a plug-in or a test registers its own with
:func:`register` (and removes it with :func:`unregister`)."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

from trailbench.tasks.declare import Metric, Task

_TASKS: dict[str, Task] = {}
_METRICS: dict[str, Metric] = {}  # derived from _TASKS; cleared whenever it changes
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class UnknownName(KeyError):
    """A task, metric or outcome name that is not declared; the message lists the nearest."""

    def __str__(self) -> str:
        return str(self.args[0])


def suggest(kind: str, name: str, known: list[str]) -> UnknownName:
    near = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    return UnknownName(f"no {kind} {name!r}{hint} (known: {', '.join(known)})")


def _check(task: Task) -> None:
    """A task's name, its metrics' names (unique across tasks) and the counts they read."""
    if not _NAME.match(task.name):
        raise ValueError(f"task name {task.name!r}: lower-case letters, digits and _ only")
    taken = {m.name for t in _TASKS.values() if t.name != task.name for m in t.metrics}
    from trailbench.audit.units import UNITS

    for m in task.metrics:
        if m.over == "cases":
            counts = {*task.counts, "cases"}
        elif m.over in UNITS:
            counts = {*task.unit_counts.get(m.over, ()), m.over}
        else:
            raise ValueError(f"metric {m.name}: over {m.over!r} is neither cases nor a unit ({', '.join(UNITS)})")
        if m.task != task.name:
            raise ValueError(f"metric {m.name}: declared for task {m.task!r}, registered with {task.name!r}")
        if m.name in taken:
            raise ValueError(f"metric {m.name!r} is declared twice")
        taken.add(m.name)
        for col in (m.numerator, m.denominator, *((m.budget_count, m.score_column) if m.kind == "budget" else ())):
            if col.replace("{group}", "hispanic") not in counts:
                raise ValueError(f"metric {m.name}: {col!r} is not one of task {task.name}'s counts over {m.over}")


def register(task: Task) -> Task:
    """Add a task (checked first); every surface picks it up."""
    if task.name in _TASKS:
        raise ValueError(f"task {task.name!r} is registered already")
    _check(task)
    _TASKS[task.name] = task
    _METRICS.clear()
    return task


def unregister(name: str) -> None:
    _TASKS.pop(name, None)
    _METRICS.clear()


def add_metrics(task_name: str, *extra: Metric) -> Task:
    """Declare more metrics of a registered task, over counts the task already yields."""
    new = replace(task(task_name), metrics=(*task(task_name).metrics, *extra))
    _check(new)
    _TASKS[task_name] = new  # the same key keeps the task's place
    _METRICS.clear()
    return new


def remove_metrics(task_name: str, *names: str) -> None:
    old = task(task_name)
    _TASKS[task_name] = replace(old, metrics=tuple(m for m in old.metrics if m.name not in names))
    _METRICS.clear()


def tasks() -> list[Task]:
    """Every registered task, in registration order."""
    return list(_TASKS.values())


def task(name: str) -> Task:
    if name not in _TASKS:
        raise suggest("task", name, list(_TASKS))
    return _TASKS[name]


def metrics() -> dict[str, Metric]:
    """Every metric, in scorecard order: case metrics task by task, then harm to bystanders.
    (Kept until the registry changes: every number the report formats looks its metric up.)"""
    if not _METRICS:
        ms = [m for t in _TASKS.values() for m in t.metrics]
        _METRICS.update(
            {m.name: m for m in [*(m for m in ms if not m.by_bystander), *(m for m in ms if m.by_bystander)]}
        )
    return dict(_METRICS)


def metric(name: str) -> Metric:
    ms = metrics()
    if name not in ms:
        raise suggest("metric", name, list(ms))
    return ms[name]


# the audit's own outcome tables, beside those the tasks declare (every table has a ``world`` column)
AUDIT_TABLES = {
    "cases": "one row per (system, world, case): every per-case count the metrics are ratios of",
    "world_metrics": "one row per (world, system, metric, slice): the metric in that world alone (no interval)",
    "world_disparities": "one row per (world, system, metric, group): the disparity in that world alone",
    "vehicles": "one row per (system, world, vehicle): the vehicle's group and strata and every per-vehicle count",
    "drivers": "one row per (system, world, driver): the driver's group and strata and every per-driver count",
}


def outcome_tables() -> dict[str, str]:
    """Every outcome table (``outcomes/<name>.parquet``): the audit's own and each task's."""
    out = dict(AUDIT_TABLES)
    for t in _TASKS.values():
        out |= dict(t.outcome_tables)
    return out
