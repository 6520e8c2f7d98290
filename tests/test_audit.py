"""The audit log is hash-chained: editing, deleting or re-ordering a row is detected."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from core import audit


def _three_events(db) -> list[audit.AuditEvent]:
    events = [audit.record(db, actor="staff:1", action=a, target="case:X") for a in
              ("case.view", "case.reply", "case.status")]
    db.commit()
    return events


def _bypass_guard(db) -> None:
    """Simulate someone with raw database access removing the append-only triggers."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        db.execute(text("DROP TRIGGER audit_events_no_update"))
        db.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_intact_chain_verifies(db) -> None:
    _three_events(db)
    report = audit.verify_chain(db)
    assert report.ok and report.checked == 3


def test_database_refuses_update_and_delete(db) -> None:
    event = _three_events(db)[0]
    with pytest.raises(DatabaseError):
        db.execute(text("UPDATE audit_events SET actor = 'x' WHERE id = :i"), {"i": event.id})
    db.rollback()
    with pytest.raises(DatabaseError):
        db.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": event.id})
    db.rollback()


def test_edited_row_is_detected(db) -> None:
    events = _three_events(db)
    _bypass_guard(db)
    db.execute(text("UPDATE audit_events SET action = 'case.view' WHERE id = :i"),
               {"i": events[1].id})
    db.commit()
    report = audit.verify_chain(db)
    assert not report.ok and report.first_bad_id == events[1].id


def test_deleted_row_is_detected(db) -> None:
    events = _three_events(db)
    _bypass_guard(db)
    db.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": events[1].id})
    db.commit()
    report = audit.verify_chain(db)
    assert not report.ok and report.first_bad_id == events[2].id


def test_rewritten_hash_is_detected(db) -> None:
    events = _three_events(db)
    _bypass_guard(db)
    db.execute(text("UPDATE audit_events SET detail = 'forged', hash = :h WHERE id = :i"),
               {"h": "f" * 64, "i": events[2].id})
    db.commit()
    assert audit.verify_chain(db).first_bad_id == events[2].id
