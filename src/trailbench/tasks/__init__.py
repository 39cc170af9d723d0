"""Tasks: the questions systems answer, and how each answer is scored against the truth."""
