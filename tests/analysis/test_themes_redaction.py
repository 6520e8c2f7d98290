"""Redaction of quotes: every kind of identifier, and ordinary text left alone."""

from __future__ import annotations

import pytest

from analysis.themes.redaction import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # names
        ("My manager Sarah told me off.", "My manager [NAME] told me off."),
        ("Sarah Jones told me off.", "[NAME] told me off."),
        ("I told John Okafor about it.", "I told [NAME] about it."),
        ("Dr Patel and Sister Jones were there.", "Dr [NAME] and Sister [NAME] were there."),
        ("It was Mrs. Adeyemi-Cole again.", "It was Mrs. [NAME] again."),
        ("kelly always gets the good shifts", "[NAME] always gets the good shifts"),
        ("I asked Grace about it.", "I asked [NAME] about it."),
        ("Everyone calls him Tiny, he is called Okoro.", "Everyone calls him Tiny, he is called [NAME]."),
        ("Priya's rota was changed.", "[NAME]'s rota was changed."),
        # a lone surname or an unlisted name in mid-sentence is not an English word
        ("I asked Okafor about it and Schwartz laughed.", "I asked [NAME] about it and [NAME] laughed."),
        ("On Fridays Kelly-Ann covers for O'Brien.", "On Fridays [NAME] covers for [NAME]."),
        ("My manager Conceição said no.", "My manager [NAME] said no."),
        # e-mail addresses
        ("Write to s.jones@nhs.net or a_b+c@trust.nhs.uk.", "Write to [EMAIL] or [EMAIL]."),
        # phone numbers
        ("Ring 07700 900123 or 020 7946 0018.", "Ring [PHONE] or [PHONE]."),
        ("Call +44 7700 900123 or 01632-960-123.", "Call [PHONE] or [PHONE]."),
        ("Ext 4521, bleep 1234.", "[PHONE], [PHONE]."),
        # wards and beds
        ("On Ward 7B and ward 12 it was bad.", "On [WARD] and [WARD] it was bad."),
        ("The patient on Elm Ward in bed 4, bay 3.", "The patient on [WARD] in [BED], [BED]."),
        ("Ward Willow is short again.", "[WARD] is short again."),
        ("Side room 2 and cubicle 5.", "[BED] and [BED]."),
        # dates
        ("It happened on 12/03/2024 and 2024-03-15.", "It happened on [DATE] and [DATE]."),
        ("On 3rd March 2024 and March 5, 2023.", "On [DATE] and [DATE]."),
        ("Since June 2022 and again last Tuesday.", "Since [DATE] and again last [DATE]."),
        ("It was on the 14th.", "It was on the [DATE]."),
        # staff and NHS numbers
        ("My staff number is 12345678.", "My staff number is [STAFF NUMBER]."),
        ("Assignment no. 2345678-2 was wrong.", "Assignment no. [STAFF NUMBER] was wrong."),
        ("NMC PIN 12A3456E and payroll 998877.", "NMC PIN [STAFF NUMBER] and payroll [STAFF NUMBER]."),
        ("Employee ID: AB12345, staff no. 4567 8901.",
         "Employee ID: [STAFF NUMBER], staff no. [STAFF NUMBER]."),
        ("Quote 1234567 on the form.", "Quote [STAFF NUMBER] on the form."),
        ("NHS number 943 476 5919.", "NHS number [NHS NUMBER]."),
    ],
)
def test_redacts(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Jobs go to the manager's friends.",
        "I have been band 5 for 6 years and applied 8 times since 2016.",
        "The Emergency Department and Occupational Health were told.",
        "Black and Asian staff at the NHS Trust are treated differently.",
        "I hope things change. Will they listen? May I ask why?",
        "The Ward Manager said no.",
        "Two nurses for 28 patients.",
        "As a nurse from Kerala I was told I lacked UK experience.",
        "The UK-trained and Nigerian-trained HCAs did the MSc and I've done my Datix.",
        "I'll raise it on the rota and in handover, as the Filipino nurses did.",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text
