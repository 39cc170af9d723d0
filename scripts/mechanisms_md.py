"""Write docs/MECHANISMS.md from the declared mechanism switches."""

from __future__ import annotations

from pathlib import Path

from trailbench.mechanisms import mechanisms_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    (DOCS / "MECHANISMS.md").write_text(mechanisms_markdown())


if __name__ == "__main__":
    main()
