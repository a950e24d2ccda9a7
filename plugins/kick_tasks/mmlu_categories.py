"""The 57 MMLU subjects and their 4 categories, as in Hendrycks et al.'s `categories.py`
(subject -> subcategory -> category). One known difference from lm-evaluation-harness: there
`anatomy` is STEM; in the original mapping (used here) it is a "health" subject, hence "other"."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = ("STEM", "humanities", "social sciences", "other")

_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "STEM": (
        "abstract_algebra", "astronomy", "college_biology", "college_chemistry",
        "college_computer_science", "college_mathematics", "college_physics", "computer_security",
        "conceptual_physics", "electrical_engineering", "elementary_mathematics",
        "high_school_biology", "high_school_chemistry", "high_school_computer_science",
        "high_school_mathematics", "high_school_physics", "high_school_statistics", "machine_learning",
    ),
    "humanities": (
        "formal_logic", "high_school_european_history", "high_school_us_history",
        "high_school_world_history", "international_law", "jurisprudence", "logical_fallacies",
        "moral_disputes", "moral_scenarios", "philosophy", "prehistory", "professional_law",
        "world_religions",
    ),
    "social sciences": (
        "econometrics", "high_school_geography", "high_school_government_and_politics",
        "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
        "human_sexuality", "professional_psychology", "public_relations", "security_studies",
        "sociology", "us_foreign_policy",
    ),
    "other": (
        "anatomy", "business_ethics", "clinical_knowledge", "college_medicine", "global_facts",
        "human_aging", "management", "marketing", "medical_genetics", "miscellaneous", "nutrition",
        "professional_accounting", "professional_medicine", "virology",
    ),
}

SUBJECT_CATEGORY: dict[str, str] = {s: c for c, subjects in _BY_CATEGORY.items() for s in subjects}
SUBJECTS: tuple[str, ...] = tuple(sorted(SUBJECT_CATEGORY))


def category_of(subject: str) -> str:
    """The category of an MMLU subject; an unknown subject (e.g. a custom set) is "other"."""
    return SUBJECT_CATEGORY.get(subject, "other")


def metric_key(category: str) -> str:
    """'social sciences' -> 'acc_social_sciences', 'STEM' -> 'acc_stem'."""
    return "acc_" + category.lower().replace(" ", "_")
