"""Standard national lists (ONS 2021 ethnicity, NGO case fields). Ids are stored, labels shown."""

from __future__ import annotations

PREFER_NOT_TO_SAY = ("prefer-not", "Prefer not to say")

# ONS 2021 Census (England and Wales): 19 categories in 5 groups.
ETHNICITY_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Asian, Asian British or Asian Welsh", (
        ("asian-bangladeshi", "Bangladeshi"),
        ("asian-chinese", "Chinese"),
        ("asian-indian", "Indian"),
        ("asian-pakistani", "Pakistani"),
        ("asian-other", "Any other Asian background"),
    )),
    ("Black, Black British, Black Welsh, Caribbean or African", (
        ("black-african", "African"),
        ("black-caribbean", "Caribbean"),
        ("black-other", "Any other Black, Black British or Caribbean background"),
    )),
    ("Mixed or multiple ethnic groups", (
        ("mixed-white-asian", "White and Asian"),
        ("mixed-white-black-african", "White and Black African"),
        ("mixed-white-black-caribbean", "White and Black Caribbean"),
        ("mixed-other", "Any other mixed or multiple ethnic background"),
    )),
    ("White", (
        ("white-british", "English, Welsh, Scottish, Northern Irish or British"),
        ("white-irish", "Irish"),
        ("white-gypsy-traveller", "Gypsy or Irish Traveller"),
        ("white-roma", "Roma"),
        ("white-other", "Any other White background"),
    )),
    ("Other ethnic group", (
        ("other-arab", "Arab"),
        ("other-any", "Any other ethnic group"),
    )),
)

ETHNICITIES: tuple[tuple[str, str], ...] = tuple(
    (code, f"{group}: {label}") for group, items in ETHNICITY_GROUPS for code, label in items
)


def wres_group(ethnicity: str | None) -> str | None:
    """White / global majority grouping used by WRES; None for missing or prefer not to say."""
    if not ethnicity or ethnicity == PREFER_NOT_TO_SAY[0]:
        return None
    return "white" if ethnicity.startswith("white-") else "global-majority"


IDENTITY_MODES = (
    ("anonymous", "Anonymously", "Nobody, including the guardian, will know who you are."),
    ("confidential", "Confidentially",
     "Only the Freedom to Speak Up guardian will know your name. They will not share it "
     "without your permission, unless the law requires it."),
    ("open", "Openly", "You are happy for your name to be known to people looking into it."),
)

STATUSES = (
    ("new", "New"),
    ("acknowledged", "Acknowledged"),
    ("in-progress", "In progress"),
    ("closed", "Closed"),
)

# National Guardian's Office closing feedback question.
SPEAK_UP_AGAIN = (
    ("yes", "Yes"),
    ("no", "No"),
    ("maybe", "Maybe"),
    ("dont-know", "I don't know"),
)

NGO_ELEMENTS = (
    ("patient_safety", "Element of patient safety or quality"),
    ("worker_safety", "Element of worker safety or wellbeing"),
    ("bullying_harassment", "Element of bullying or harassment"),
    ("inappropriate_behaviours", "Element of inappropriate attitudes or behaviours"),
    ("detriment", "Detriment for speaking up indicated"),
)

# The five ONS 2021 high-level groups: the detailed ethnicity breakdown shown in results (the
# 19 categories are coarsened to these before disclosure control, as almost all would be below k).
_BROAD_IDS = {"Asian, Asian British or Asian Welsh": "asian",
              "Black, Black British, Black Welsh, Caribbean or African": "black",
              "Mixed or multiple ethnic groups": "mixed", "White": "white",
              "Other ethnic group": "other"}
ETHNICITY_BROAD: tuple[tuple[str, str], ...] = tuple(
    (_BROAD_IDS[group], group) for group, _ in ETHNICITY_GROUPS)
_BROAD_OF = {code: _BROAD_IDS[group] for group, items in ETHNICITY_GROUPS for code, _ in items}


def broad_ethnic_group(ethnicity: str | None) -> str | None:
    """The ONS high-level group of an ethnicity answer, or None (missing, prefer not to say)."""
    if not ethnicity or ethnicity == PREFER_NOT_TO_SAY[0]:
        return None
    return _BROAD_OF.get(ethnicity)
