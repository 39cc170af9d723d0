"""The report: one self-contained HTML page per run, and side-by-side comparisons of runs."""
