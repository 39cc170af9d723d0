"""The child process a Python system runs in: ``python -m trailbench.systems.child NAME WORKDIR``.

It knows only its working directory (trails, docket, config); the run directory with the
world and the truth is never named to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from trailbench.systems.registry import load


def main(argv: list[str]) -> int:
    name, workdir = argv[1], Path(argv[2])
    system = load(name)
    system.run(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
