"""trailbench: an open audit bench for automated people-finding systems (synthetic worlds only)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["MetricResult", "Results", "UnknownName", "__version__", "load", "metrics", "run", "tasks"]


def __getattr__(name: str) -> Any:  # lazy, so that importing the package stays light
    if name in __all__ and name != "__version__":
        from trailbench import api

        return getattr(api, name)
    raise AttributeError(name)
