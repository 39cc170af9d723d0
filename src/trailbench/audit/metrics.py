"""Metric definitions (DESIGN §6): each is a ratio of two per-case counts, times a scale.

Case metrics are sliced by the subject's group and by stratum; harm metrics by the bystander's
own group (counted per 10,000 residents of that group, per 100 cases).
"""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    task: str
    numerator: str
    denominator: str
    scale: float
    definition: str


METRICS: dict[str, Metric] = {
    "wrong_door_rate": Metric(
        "locate",
        "wrong_door",
        "answered",
        1.0,
        "answered cases whose top address is a real door where the subject did not live on the as-of date",
    ),
    "correct_rate": Metric(
        "locate", "correct", "cases", 1.0, "cases whose top address is the subject's home on the as-of date"
    ),
    "no_answer_rate": Metric("locate", "no_answer", "cases", 1.0, "cases with no address given"),
    "no_such_address_rate": Metric(
        "locate", "no_such", "answered", 1.0, "answered cases whose top address resolves to no door in the register"
    ),
    "people_at_wrong_door_per_100_cases": Metric(
        "locate", "residents", "cases", 100.0, "residents of wrong doors on the as-of date, per 100 cases"
    ),
    "children_at_wrong_door_per_100_cases": Metric(
        "locate", "children", "cases", 100.0, "residents under 18 of wrong doors, per 100 cases"
    ),
    "people_per_wrong_door": Metric("locate", "residents", "wrong_door", 1.0, "residents behind each wrong door"),
    "error_share_stale": Metric(
        "locate", "cause_stale", "wrong_any", 1.0, "wrong answers that are a past address of the subject"
    ),
    "error_share_namesake": Metric(
        "locate",
        "cause_namesake",
        "wrong_any",
        1.0,
        "wrong answers that are the address of another person whose records drove the answer",
    ),
    "error_share_digit_error": Metric(
        "locate", "cause_digit_error", "wrong_any", 1.0, "wrong answers whose evidence carried a wrong house number"
    ),
    "error_share_unit_missing": Metric(
        "locate", "cause_unit_missing", "wrong_any", 1.0, "wrong answers lacking the unit of a multi-unit building"
    ),
    "error_share_other": Metric("locate", "cause_other", "wrong_any", 1.0, "other wrong answers"),
    "associates_precision": Metric(
        "associates", "true_ties", "entities", 1.0, "returned entities that are a true tie of the subject"
    ),
    "associates_recall": Metric(
        "associates",
        "ties_found",
        "ties_total",
        1.0,
        "the subject's ties (begun by the as-of date) found among the returned entities",
    ),
    "false_links_per_case": Metric(
        "associates", "false_links", "cases", 1.0, "returned entities with no tie to the subject, per case"
    ),
    "people_drawn_in_per_case": Metric(
        "associates",
        "people_drawn",
        "cases",
        1.0,
        "distinct people behind returned records, subject excluded, per case",
    ),
}
HARM = Metric(
    "locate",
    "bystanders_{group}",
    "cases",
    100.0 * 10_000,
    "residents of the group found behind wrong doors, per 10,000 residents of the group, per 100 cases",
)
HARM_NAME = "bystanders_per_10k_residents_per_100_cases"
