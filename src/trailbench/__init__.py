"""trailbench: an open audit bench for automated people-finding systems (synthetic worlds only)."""

__version__ = "0.1.0"
