"""The process a Python system runs in: ``python -m trailbench.systems.child NAME MODULE:ATTR WORKDIR``.

The harness resolves the entry point (so the class it names is exactly the one recorded in the
provenance) and passes it here. The child knows only its working directory (trails, docket,
config); the run directory with the world and the truth is never named to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from trailbench.systems.registry import load


def main(argv: list[str]) -> int:
    name, value, workdir = argv[1], argv[2], Path(argv[3])
    system = load(name, value)
    system.run(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
