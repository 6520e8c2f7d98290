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


# --- attacks by someone who can write to the database (issue 8, finding 5) -------------------


def _rechain_without_key(db, rows) -> None:
    """What a DBA can do: empty the table and insert a re-chained history, computing each row's
    hash the only way they can (they do not have the server's key)."""
    import hashlib
    import json

    db.execute(text("DELETE FROM audit_events"))
    prev = audit.GENESIS
    for seq, (at, actor, action, target, detail) in enumerate(rows, 1):
        digest = hashlib.sha256(json.dumps([seq, prev, at, actor, action, target, detail])
                                .encode()).hexdigest()
        db.execute(text("INSERT INTO audit_events (id, at, actor, action, target, detail, "
                        "prev_hash, hash) VALUES (:i, :at, :a, :ac, :t, :d, :p, :h)"),
                   {"i": seq, "at": at, "a": actor, "ac": action, "t": target, "d": detail,
                    "p": prev, "h": digest})
        prev = digest
    db.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": len(rows), "h": prev})
    db.commit()


def test_database_refuses_emptying_the_log(db) -> None:
    _three_events(db)
    # PostgreSQL's TRUNCATE skips row triggers, so a statement trigger refuses it; SQLite has no
    # TRUNCATE, and its DELETE without WHERE meets the row trigger.
    emptying = "TRUNCATE audit_events" if db.get_bind().dialect.name == "postgresql" \
        else "DELETE FROM audit_events"
    with pytest.raises(DatabaseError):
        db.execute(text(emptying))
    db.rollback()


def test_truncate_and_rechain_is_detected(db) -> None:
    events = _three_events(db)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("DROP TRIGGER audit_events_no_truncate ON audit_events"))
        db.execute(text("TRUNCATE audit_events"))
        db.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
    else:
        _bypass_guard(db)
    # The forged history drops the "case.reply" event.
    kept = [(e.at.isoformat(), e.actor, e.action, e.target, e.detail) for e in events
            if e.action != "case.reply"]
    _rechain_without_key(db, kept)
    report = audit.verify_chain(db)
    assert not report.ok and report.first_bad_id == 1


def test_cutting_the_tail_is_caught_by_a_checkpoint(db, tmp_path) -> None:
    events = _three_events(db)
    path = tmp_path / "checkpoints.log"
    assert audit.write_checkpoint(db, path).seq == events[-1].id
    _bypass_guard(db)
    db.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": events[-1].id})
    db.execute(text("UPDATE audit_head SET seq = :s, hash = :h"),
               {"s": events[-2].id, "h": events[-2].hash})
    db.commit()
    assert audit.verify_chain(db).ok  # the chain alone is a valid, shorter chain
    report = audit.verify_chain(db, audit.read_checkpoints(db, path))
    assert not report.ok and report.first_bad_id == events[-1].id


def test_a_forged_checkpoint_line_is_refused(db, tmp_path) -> None:
    _three_events(db)
    path = tmp_path / "checkpoints.log"
    audit.write_checkpoint(db, path)
    path.write_text(path.read_text().replace("seq=3", "seq=2"))
    with pytest.raises(audit.AuditError, match="wrong MAC"):
        audit.read_checkpoints(db, path)


def test_chain_stays_intact_under_concurrent_guardians(database, settings) -> None:
    """Finding 12: 8 threads, two guardians' actions at once; every event chains on the one
    before it and nothing fails (SQLite: every transaction begins IMMEDIATE)."""
    import threading

    errors: list[BaseException] = []

    def act(worker: int) -> None:
        try:
            for i in range(25):
                with database.session() as session:
                    audit.record(session, actor=f"staff:{worker % 2 + 1}", action="case.view",
                                 target=f"case:W{worker}N{i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=act, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.session() as session:
        report = audit.verify_chain(session)
    assert report.ok and report.checked == 200
