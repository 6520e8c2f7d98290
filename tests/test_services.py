"""Speak-up services: sealing to guardians, exclusions, assignment, deadlines, export, purge."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from config.settings import KdfProfile
from core import encryption
from speakup import services
from speakup.models import Concern, SubmissionToken
from tests.conftest import Staff
from tests.inbox_helpers import inbox_cases


def _identity(db, settings, staff: Staff) -> accounts.StaffIdentity:
    user, private = accounts.authenticate(db, email=staff.email, password=staff.password,
                                          code=staff.code(), settings=settings)
    return accounts.StaffIdentity(user=user, private_key=private, session_token="t")


def _submit(db, settings, text="A concern", on=None, token=None, **kw) -> services.Submission:
    draft = services.ConcernDraft(text=text, kind=kw.pop("kind", "other"),
                                  identity_mode=kw.pop("identity_mode", "anonymous"), **kw)
    result = services.submit_concern(db, draft=draft, form_token=token or encryption.generate_receipt(),
                                     settings=settings, on=on)
    db.commit()
    return result


def test_concern_sealed_while_nobody_is_logged_in_is_readable_later(
    db, settings, guardian: Staff
) -> None:
    receipt = _submit(db, settings, "Nobody was logged in").receipt
    identity = _identity(db, settings, guardian)
    [row] = inbox_cases(db, identity=identity, settings=settings)
    assert services.open_case(db, identity=identity, ref=row.concern.ref).text == \
        "Nobody was logged in"
    access = services.open_with_receipt(db, receipt=receipt, settings=settings)
    assert services.reporter_case(db, access=access).text == "Nobody was logged in"


def test_excluded_guardian_never_gets_the_key(db, settings, guardian, second_guardian) -> None:
    _submit(db, settings, "Not for Sam", excluded_guardian_ids=[second_guardian.id])
    sam = _identity(db, settings, second_guardian)
    assert inbox_cases(db, identity=sam, settings=settings) == []
    gina = _identity(db, settings, guardian)
    [row] = inbox_cases(db, identity=gina, settings=settings)
    with pytest.raises(services.CaseNotFoundError):
        services.open_case(db, identity=sam, ref=row.concern.ref)
    with pytest.raises(services.ConcernInvalidError):
        services.assign(db, identity=gina, ref=row.concern.ref, assignee_id=second_guardian.id,
                        settings=settings)
    case = services.granted_case(db, identity=gina, ref=row.concern.ref)[2]
    assert [g.id for g in services.assignable_guardians(db, case=case,
                                                                 settings=settings)] == [guardian.id]


def test_excluding_every_guardian_is_refused(db, settings, guardian) -> None:
    with pytest.raises(services.ConcernInvalidError) as info:
        _submit(db, settings, excluded_guardian_ids=[guardian.id])
    assert info.value.field == "excluded_guardians"


def test_no_guardian_set_up_is_refused_and_nothing_saved(db, settings) -> None:
    with pytest.raises(services.NoGuardianError):
        _submit(db, settings)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Concern)) == 0


def test_assigning_a_new_guardian_grants_them_the_key(
    db, settings, database, guardian
) -> None:
    _submit(db, settings, "Shared later")
    from tests.conftest import make_staff

    late = make_staff(database, settings, "Lee Late")
    gina = _identity(db, settings, guardian)
    lee = _identity(db, settings, late)
    assert inbox_cases(db, identity=lee, settings=settings) == []
    [row] = inbox_cases(db, identity=gina, settings=settings)
    services.assign(db, identity=gina, ref=row.concern.ref, assignee_id=late.id,
                    settings=settings)
    db.commit()
    assert services.open_case(db, identity=lee, ref=row.concern.ref).text == "Shared later"


def test_same_form_token_creates_one_concern_and_same_receipt(db, settings, guardian) -> None:
    first = _submit(db, settings, token="same-token-" + "x" * 20)
    again = _submit(db, settings, token="same-token-" + "x" * 20)
    assert again.repeated and again.receipt == first.receipt
    assert db.scalar(select(func.count()).select_from(Concern)) == 1


def test_anonymous_concern_keeps_no_name_typed_before_choosing(db, settings, guardian) -> None:
    receipt = _submit(db, settings, name="Jo Bloggs", contact="07700 900000").receipt
    access = services.open_with_receipt(db, receipt=receipt, settings=settings)
    case = services.reporter_case(db, access=access)
    assert (case.name, case.contact) == ("", "")
    named = _submit(db, settings, name="Jo Bloggs", identity_mode="confidential").receipt
    access = services.open_with_receipt(db, receipt=named, settings=settings)
    assert services.reporter_case(db, access=access).name == "Jo Bloggs"


def test_receipt_from_a_different_pepper_does_not_open(db, settings, guardian) -> None:
    receipt = _submit(db, settings).receipt
    other = settings.with_overrides(receipt_pepper=b"z" * 32)
    with pytest.raises(services.ReceiptNotFoundError):
        services.open_with_receipt(db, receipt=receipt, settings=other)


def test_reply_acknowledges_and_notes_stay_private(db, settings, guardian) -> None:
    receipt = _submit(db, settings).receipt
    gina = _identity(db, settings, guardian)
    [row] = inbox_cases(db, identity=gina, settings=settings)
    services.add_note(db, identity=gina, ref=row.concern.ref, text="private thought")
    services.reply_to_reporter(db, identity=gina, ref=row.concern.ref, text="hello")
    db.commit()
    assert row.concern.status == "acknowledged" and row.concern.acknowledged_on is not None
    access = services.open_with_receipt(db, receipt=receipt, settings=settings)
    thread = services.reporter_case(db, access=access).thread
    assert [(e.author, e.text) for e in thread] == [("guardian", "hello")]


def test_deadlines_and_overdue_filter(db, settings, guardian) -> None:
    today = date(2026, 11, 26)
    _submit(db, settings, "old", on=today - timedelta(days=settings.acknowledge_days + 1))
    _submit(db, settings, "fresh", on=today)
    gina = _identity(db, settings, guardian)
    rows = inbox_cases(db, identity=gina, settings=settings, on=today)
    assert [r.deadlines.overdue for r in rows] == [None, "acknowledgement"]
    overdue = inbox_cases(db, identity=gina, settings=settings, on=today, overdue=True)
    assert len(overdue) == 1
    stale = rows[1].concern
    services.change_status(db, identity=gina, ref=stale.ref, status="in-progress", on=today)
    late = today + timedelta(days=settings.feedback_days)
    assert services.deadlines(stale, settings=settings, on=late).overdue == "feedback"
    services.change_status(db, identity=gina, ref=stale.ref, status="closed", on=today)
    assert services.deadlines(stale, settings=settings, on=late).overdue is None


def test_ngo_return_counts_cases_without_references_or_text(db, settings, guardian) -> None:
    _submit(db, settings, "SECRET-FREE-TEXT", name="Pat", identity_mode="confidential",
            on=date(2026, 5, 3))
    _submit(db, settings, "second in range", on=date(2026, 6, 3))
    _submit(db, settings, "outside the range", on=date(2025, 1, 1))
    gina = _identity(db, settings, guardian)
    row = next(r for r in inbox_cases(db, identity=gina, settings=settings)
               if r.concern.received_on == date(2026, 5, 3))
    services.record_ngo(db, identity=gina, ref=row.concern.ref, fields=services.NgoFields(
        raised="confidential", elements=frozenset({"bullying_harassment", "detriment"}),
        professional_group="nursing-midwifery", speak_up_again="maybe"))
    result = services.ngo_return(db, identity=gina, start=date(2026, 4, 1),
                                 end=date(2027, 3, 31), settings=settings)
    data = services.ngo_return_csv(result)
    assert "SECRET-FREE-TEXT" not in data and "Pat" not in data
    assert row.concern.ref not in data and "2026-05-03" not in data
    counts = {(section, item): n for section, item, n in result.counts}
    assert result.cases == 2
    assert counts["raised", "confidential"] == 1 and counts["raised", "anonymous"] == 1
    assert counts["element", "bullying_harassment"] == 1 and counts["element", "patient_safety"] == 0
    assert counts["speak_up_again", "maybe"] == 1
    assert ("element", "detriment", 1) in result.small  # below k: flagged for care
    with pytest.raises(services.ConcernInvalidError):
        services.ngo_return(db, identity=gina, start=date(2027, 1, 1), end=date(2026, 1, 1),
                            settings=settings)


def test_purge_deletes_only_closed_cases_past_retention(db, settings, guardian) -> None:
    today = date(2026, 11, 26)
    _submit(db, settings, "closed long ago", on=date(2024, 1, 1))
    _submit(db, settings, "open and old", on=date(2024, 1, 1))
    gina = _identity(db, settings, guardian)
    rows = inbox_cases(db, identity=gina, settings=settings)
    closed = next(r.concern for r in rows if r.concern.ref == rows[0].concern.ref)
    services.change_status(db, identity=gina, ref=closed.ref, status="closed",
                           on=today - timedelta(days=settings.retention_days + 1))
    db.commit()
    result = services.purge(db, settings=settings, on=today)
    db.commit()
    assert result.concerns == 1
    assert result.submission_tokens == 2
    assert db.scalar(select(func.count()).select_from(Concern)) == 1
    assert db.scalar(select(func.count()).select_from(SubmissionToken)) == 0


def test_production_kdf_profile_is_expensive() -> None:
    prod = KdfProfile.production()
    assert prod.argon2_memory_kib >= 64 * 1024 and prod.scrypt_n >= 2**14
