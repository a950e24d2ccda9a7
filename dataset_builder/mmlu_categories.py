"""MMLU subject -> category mapping (the standard Hendrycks et al. `categories.py` grouping).

Pure data, importable without torch or datasets. Each of the 57 subjects has one subcategory,
and each subcategory belongs to one of four categories: "STEM", "humanities",
"social sciences", "other" (Hendrycks calls the last one "other (business, health, misc.)").
"""

from __future__ import annotations

from kick.errors import DataError

CATEGORIES: tuple[str, ...] = ("STEM", "humanities", "social sciences", "other")

SUBCATEGORY_TO_CATEGORY: dict[str, str] = {
    "physics": "STEM",
    "chemistry": "STEM",
    "biology": "STEM",
    "computer science": "STEM",
    "math": "STEM",
    "engineering": "STEM",
    "history": "humanities",
    "philosophy": "humanities",
    "law": "humanities",
    "politics": "social sciences",
    "culture": "social sciences",
    "economics": "social sciences",
    "geography": "social sciences",
    "psychology": "social sciences",
    "other": "other",
    "business": "other",
    "health": "other",
}

SUBJECT_TO_SUBCATEGORY: dict[str, str] = {
    "abstract_algebra": "math",
    "anatomy": "health",
    "astronomy": "physics",
    "business_ethics": "business",
    "clinical_knowledge": "health",
    "college_biology": "biology",
    "college_chemistry": "chemistry",
    "college_computer_science": "computer science",
    "college_mathematics": "math",
    "college_medicine": "health",
    "college_physics": "physics",
    "computer_security": "computer science",
    "conceptual_physics": "physics",
    "econometrics": "economics",
    "electrical_engineering": "engineering",
    "elementary_mathematics": "math",
    "formal_logic": "philosophy",
    "global_facts": "other",
    "high_school_biology": "biology",
    "high_school_chemistry": "chemistry",
    "high_school_computer_science": "computer science",
    "high_school_european_history": "history",
    "high_school_geography": "geography",
    "high_school_government_and_politics": "politics",
    "high_school_macroeconomics": "economics",
    "high_school_mathematics": "math",
    "high_school_microeconomics": "economics",
    "high_school_physics": "physics",
    "high_school_psychology": "psychology",
    "high_school_statistics": "math",
    "high_school_us_history": "history",
    "high_school_world_history": "history",
    "human_aging": "health",
    "human_sexuality": "culture",
    "international_law": "law",
    "jurisprudence": "law",
    "logical_fallacies": "philosophy",
    "machine_learning": "computer science",
    "management": "business",
    "marketing": "business",
    "medical_genetics": "health",
    "miscellaneous": "other",
    "moral_disputes": "philosophy",
    "moral_scenarios": "philosophy",
    "nutrition": "health",
    "philosophy": "philosophy",
    "prehistory": "history",
    "professional_accounting": "other",
    "professional_law": "law",
    "professional_medicine": "health",
    "professional_psychology": "psychology",
    "public_relations": "politics",
    "security_studies": "politics",
    "sociology": "culture",
    "us_foreign_policy": "politics",
    "virology": "health",
    "world_religions": "philosophy",
}

SUBJECTS: tuple[str, ...] = tuple(sorted(SUBJECT_TO_SUBCATEGORY))


def category_of(subject: str) -> str:
    """The category ("STEM", "humanities", "social sciences", "other") of an MMLU subject."""
    try:
        return SUBCATEGORY_TO_CATEGORY[SUBJECT_TO_SUBCATEGORY[subject]]
    except KeyError:
        raise DataError(
            f"unknown MMLU subject {subject!r} (expected one of the 57 Hendrycks subjects)"
        ) from None


def subjects_in(category: str) -> tuple[str, ...]:
    """The subjects of one category, sorted."""
    if category not in CATEGORIES:
        raise DataError(f"unknown MMLU category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return tuple(s for s in SUBJECTS if category_of(s) == category)
