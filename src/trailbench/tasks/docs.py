"""docs/METRICS.md, written from the declarations (``scripts/metrics_md.py``; a test keeps it current)."""

from __future__ import annotations

from trailbench.tasks import registry
from trailbench.tasks.declare import UNIT_WORDS


def metrics_markdown() -> str:
    lines = [
        "# Tasks and metrics",
        "",
        "Generated from the task and metric declarations (`python scripts/metrics_md.py`); do not edit by hand.",
        "A metric is the ratio of two per-case counts of its task, each summed over the docket cases of a",
        "cases of a slice; `{group}` in a numerator means the count is taken on the people harmed, by their",
        "own group, and divided by that group's population.",
        "",
    ]
    for t in registry.tasks():
        lines += [f"## `{t.name}` (version {t.version})", "", t.description[:1].upper() + t.description[1:] + ".", ""]
        lines += ["| answer column | type | cites record ids |", "|---|---|---|"]
        lines += [f"| `{c}` | {d} | {'yes' if c in t.id_columns else ''} |" for c, d in t.answer_schema.items()]
        lines += ["", f"Strata: {', '.join(f'`{s}`' for s in t.strata) or 'none'}.", ""]
        if t.outcome_tables:
            lines += ["Outcome tables:", ""]
            lines += [f"- `outcomes/{n}.parquet`: {d}." for n, d in t.outcome_tables.items()]
            lines.append("")
        if t.explained_chain:
            lines += [f"Explained cases show {t.explained_chain}.", ""]
        lines += [
            "| metric | numerator / denominator | unit | better | slices | definition |",
            "|---|---|---|---|---|---|",
        ]
        for m in t.metrics:
            scale = "" if m.scale == 1 else f" × {m.scale:g}"
            better = "higher" if m.higher_is_better else "lower"
            lines.append(
                f"| `{m.name}`{' (headline)' if m.headline else ''} | `{m.numerator}` / `{m.denominator}`{scale} "
                f"| {UNIT_WORDS[m.unit]} | {better} | {', '.join(m.slices)} | {m.definition} |"
            )
        lines.append("")
    return "\n".join(lines)
