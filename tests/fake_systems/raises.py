"""A system that raises."""

raise RuntimeError("this system is broken on purpose")
