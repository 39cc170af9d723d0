"""Dependent tasks on a few threads, the most urgent ready one first.

:func:`run_parts` runs one list of independent tasks and waits for all of them; a pipeline of
such lists leaves threads idle at every wait (a thread that finished its share waits for the
slowest task of the list). Here a task starts as soon as what it needs is done: each task is
``work()``, then ``done(result)``, which returns the tasks that result makes ready (``done``
calls run one at a time, so they may update shared state). Of the ready tasks the one with the
highest priority starts first (ties in the order they became ready).

The calling thread is one of the ``workers``: it works rather than waits, and what it allocates
comes from memory the process already holds (a new thread's allocations fault in fresh pages,
which on a small machine cost a noticeable share of a short pipeline). Results go wherever
``done`` puts them, so what is computed never depends on the order tasks finish in, nor on
``workers``.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Any


@dataclass(order=True)
class Task:
    """``work()`` on some thread, then ``done(result)``, giving the tasks it makes ready."""

    priority: int
    work: Callable[[], Any] = field(compare=False)
    done: Callable[[Any], Iterable[Task]] = field(compare=False, default=lambda _: ())


class _Queue:
    """Ready tasks by priority, and how many are running; one lock for both and for ``done``."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.ready: list[tuple[int, int, Task]] = []
        self.seq = count()
        self.running = 0
        self.error: BaseException | None = None
        self.cond = threading.Condition()
        self.push(tasks)

    def push(self, tasks: Iterable[Task]) -> None:
        for t in tasks:
            heapq.heappush(self.ready, (-t.priority, next(self.seq), t))

    def serve(self) -> None:
        """Take the most urgent ready task, run it, queue what it makes ready; until none is left
        (or one failed)."""
        with self.cond:
            while True:
                while not self.ready and self.running and self.error is None:
                    self.cond.wait()
                if self.error is not None or not self.ready:
                    self.cond.notify_all()
                    return
                task = heapq.heappop(self.ready)[2]
                self.running += 1
                self.cond.release()
                try:
                    result, error = task.work(), None
                except BaseException as e:  # re-raised by run_tasks, on the calling thread
                    result, error = None, e
                finally:
                    self.cond.acquire()
                self.running -= 1
                try:
                    if error is None:
                        self.push(task.done(result))
                except BaseException as e:
                    error = e
                if error is not None and self.error is None:
                    self.error = error
                self.cond.notify_all()


def run_tasks(tasks: Iterable[Task], workers: int) -> None:
    """Run ``tasks`` and every task their ``done`` makes ready, on the calling thread and
    ``workers - 1`` more; the first failure is raised here once running tasks have ended."""
    queue = _Queue(tasks)
    helpers = [threading.Thread(target=queue.serve, daemon=True) for _ in range(max(workers, 1) - 1)]
    for h in helpers:
        h.start()
    try:
        queue.serve()
    finally:
        for h in helpers:
            h.join()
    if queue.error is not None:
        raise queue.error
