"""The codes the workforce CSV files use, and the groupings the indicators need.

Ethnicity uses the 19 ONS 2021 categories of `config.vocabulary` (ids such as ``asian-indian``)
or ``not-stated``. WRES compares White (the five White categories) with every other stated
category together ("BME", or "global majority"); not stated is left out of both sides of a ratio
and shown as a declaration rate.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from analysis.workforce import WorkforceError
from config.vocabulary import ETHNICITY_GROUPS

NOT_STATED: Final = "not-stated"
# Other spellings of "not stated" accepted on import (the survey side stores "prefer-not").
NOT_STATED_ALIASES: Final = frozenset({NOT_STATED, "prefer-not", "prefer-not-to-say", "not-declared",
                                       "unknown"})

WHITE: Final = "white"
GLOBAL_MAJORITY: Final = "global-majority"
WRES_GROUP_LABELS: Final = {WHITE: "White", GLOBAL_MAJORITY: "BME (global majority)",
                            NOT_STATED: "Not stated"}

DISABLED: Final = "disabled"
NON_DISABLED: Final = "non-disabled"

# Agenda for Change bands in order, then the medical and dental subgroups WRES and WDES use.
AFC_BANDS: Final = ("1", "2", "3", "4", "5", "6", "7", "8a", "8b", "8c", "8d", "9", "vsm")
MEDICAL_GRADES: Final = ("medical-consultant", "medical-career-grade", "medical-trainee",
                         "medical-other")
BANDS: Final = AFC_BANDS + MEDICAL_GRADES
BAND_LABELS: Final = {
    **{b: f"Band {b}" for b in AFC_BANDS if b != "vsm"},
    "vsm": "Very senior manager",
    "medical-consultant": "Medical: consultant",
    "medical-career-grade": "Medical: non-consultant career grade",
    "medical-trainee": "Medical: trainee grade",
    "medical-other": "Medical: other",
}
SENIOR_BANDS: Final = ("8a", "8b", "8c", "8d", "9", "vsm")

# WDES metric 1 groups bands into clusters (AfC clusters for clinical and non-clinical staff,
# then the medical subgroups).
WDES_CLUSTERS: Final = {
    "afc-1-4": ("1", "2", "3", "4"),
    "afc-5-7": ("5", "6", "7"),
    "afc-8a-8b": ("8a", "8b"),
    "afc-8c-vsm": ("8c", "8d", "9", "vsm"),
    "medical-consultant": ("medical-consultant",),
    "medical-career-grade": ("medical-career-grade",),
    "medical-trainee": ("medical-trainee",),
    "medical-other": ("medical-other",),
}

ROUTES: Final = ("advertised-external", "advertised-internal", "acting-up", "secondment",
                 "direct-appointment", "redeployment")
ADVERTISED_ROUTES: Final = frozenset({"advertised-external", "advertised-internal"})

# NHS staff groups as in HR records; the ids match surveys.definition.STAFF_GROUPS.
STAFF_GROUPS: Final = (
    ("apst", "Additional professional scientific and technical"),
    ("additional-clinical", "Additional clinical services"),
    ("admin-clerical", "Administrative and clerical"),
    ("ahp", "Allied health professionals"),
    ("estates-ancillary", "Estates and ancillary"),
    ("healthcare-scientists", "Healthcare scientists"),
    ("medical-dental", "Medical and dental"),
    ("nursing-midwifery", "Nursing and midwifery registered"),
    ("students", "Students"),
)

SEXES: Final = ("female", "male", "other", NOT_STATED)
DISABILITY_VALUES: Final = ("yes", "no", NOT_STATED)
PANEL_DIVERSE_VALUES: Final = ("yes", "no", "unknown")

ETHNICITIES: Final = tuple(code for _, items in ETHNICITY_GROUPS for code, _ in items)
_BROAD_IDS: Final = {"Asian, Asian British or Asian Welsh": "asian",
                     "Black, Black British, Black Welsh, Caribbean or African": "black",
                     "Mixed or multiple ethnic groups": "mixed", "White": "white",
                     "Other ethnic group": "other"}
BROAD_GROUPS: Final = tuple(_BROAD_IDS[name] for name, _ in ETHNICITY_GROUPS)
BROAD_GROUP_LABELS: Final = {_BROAD_IDS[name]: name for name, _ in ETHNICITY_GROUPS}
_BROAD_OF: Final = {code: _BROAD_IDS[name] for name, items in ETHNICITY_GROUPS for code, _ in items}
ETHNICITY_LABELS: Final = {code: label for _, items in ETHNICITY_GROUPS for code, label in items}


def wres_group(ethnicity: str) -> str:
    """``white``, ``global-majority`` or ``not-stated`` for an ethnicity code."""
    if ethnicity == NOT_STATED:
        return NOT_STATED
    return WHITE if _BROAD_OF[ethnicity] == "white" else GLOBAL_MAJORITY


def broad_group(ethnicity: str) -> str:
    """The ONS 2021 high-level group (``asian``, ``black``, ``mixed``, ``white``, ``other``) or
    ``not-stated``."""
    return NOT_STATED if ethnicity == NOT_STATED else _BROAD_OF[ethnicity]


def disability_group(disability: str) -> str:
    """``disabled``, ``non-disabled`` or ``not-stated`` for a disability value."""
    return {"yes": DISABLED, "no": NON_DISABLED}.get(disability, NOT_STATED)


def wdes_cluster(band: str) -> str:
    """The WDES metric 1 cluster of a band."""
    for cluster, bands in WDES_CLUSTERS.items():
        if band in bands:
            return cluster
    raise WorkforceError(f"unknown band {band!r}")


def check_snapshot(snapshot: date) -> date:
    """A reporting period is identified by its 31 March snapshot date; anything else is refused."""
    if (snapshot.month, snapshot.day) != (3, 31):
        raise WorkforceError(f"a reporting period is a 31 March snapshot, not {snapshot.isoformat()}")
    return snapshot


def year_start(snapshot: date) -> date:
    """The first day (1 April) of the year that ends on the snapshot date."""
    return date(snapshot.year - 1, 4, 1)


def financial_quarter(day: date) -> str:
    """The NHS financial-year quarter of a day, e.g. ``2025/26 Q3`` for 15 November 2025."""
    start = day.year if day.month >= 4 else day.year - 1
    quarter = (day.month - 4) % 12 // 3 + 1
    return f"{start}/{(start + 1) % 100:02d} Q{quarter}"
