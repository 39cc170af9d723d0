"""Write docs/METRICS.md and docs/scorecard.schema.json from the task and metric declarations."""

from __future__ import annotations

import json
from pathlib import Path

from trailbench.audit.schema import scorecard_schema
from trailbench.tasks.docs import metrics_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    (DOCS / "METRICS.md").write_text(metrics_markdown())
    (DOCS / "scorecard.schema.json").write_text(json.dumps(scorecard_schema(), indent=2) + "\n")


if __name__ == "__main__":
    main()
