"""Tasks: the questions systems answer, and how each answer is scored against the truth.

Each task is one module that declares a :class:`~trailbench.tasks.declare.Task`; registering it
here (one line) makes every surface (answers' validation, the audit, the scorecard and its
schema, the report, compare, the CLI, docs/METRICS.md) use it."""

import sys
import types
from typing import Any

from trailbench.tasks import associates, colocation, device_link, flag, home_work, hotlist, locate
from trailbench.tasks.registry import metric, metrics, register, task, tasks, unregister

register(locate.TASK)
register(associates.TASK)
register(home_work.TASK)
register(device_link.TASK)
register(colocation.TASK)
register(flag.TASK)
register(hotlist.TASK)


class _Tasks(types.ModuleType):
    """``trailbench.tasks`` is this package and, called, the table of declared tasks: the API's
    ``trailbench.tasks()`` keeps working once the package has been imported."""

    def __call__(self) -> Any:
        from trailbench.api import tasks as table

        return table()


sys.modules[__name__].__class__ = _Tasks

__all__ = ["metric", "metrics", "register", "task", "tasks", "unregister"]
