"""Tasks: the questions systems answer, and how each answer is scored against the truth.

Each task is one module that declares a :class:`~trailbench.tasks.declare.Task`; registering it
here (one line) makes every surface (answers' validation, the audit, the scorecard and its
schema, the report, compare, the CLI, docs/METRICS.md) use it."""

from trailbench.tasks import associates, locate
from trailbench.tasks.registry import metric, metrics, register, task, tasks, unregister

register(locate.TASK)
register(associates.TASK)

__all__ = ["metric", "metrics", "register", "task", "tasks", "unregister"]
