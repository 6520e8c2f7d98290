"""The audited release of a closed wave is kept in the database (SQLite and PostgreSQL): the
same figures after a restart, a new audited version when the data behind it changes."""

from __future__ import annotations

from sqlalchemy import func, select

from analysis.disclosure import Policy, Population, release
from core import release_store
from core.release_store import ReleaseDecision

POLICY = Policy(k=11, wave_dim="wave")
DIMS = ["wave", "directorate"]


def _population(x: int) -> Population:
    rows = [("w", "X", "agree", x), ("w", "X", "disagree", 3), ("w", "Y", "agree", 20),
            ("w", "Y", "disagree", 20), ("w", "Z", "agree", 4), ("w", None, "agree", 9)]
    return Population.from_counts(rows, DIMS, {"directorate": ["X", "Y", "Z"]})


def _table(population: Population) -> object:
    return release(population, by=["directorate"], where={"wave": "w"}, policy=POLICY,
                   options=["agree", "disagree"], favourable=["agree"])


def test_kept_decision_is_reused_then_versioned(db, settings) -> None:
    first = _population(37)
    assert release_store.decide(db, settings, subject="s", population=first, policy=POLICY,
                                wave="w") == 1
    db.commit()
    shown = _table(first)
    # "After a restart": a fresh population of the same data adopts the kept decision.
    again = _population(37)
    assert release_store.decide(db, settings, subject="s", population=again, policy=POLICY,
                                wave="w") == 1
    assert _table(again) == shown
    rows = db.scalars(select(ReleaseDecision)).all()
    assert len(rows) == 1
    assert b"agree" not in rows[0].sealed and rows[0].subject != "s"  # sealed, keyed
    # A late correction: one record fewer in X. A new version, audited against the first.
    corrected = _population(36)
    assert release_store.decide(db, settings, subject="s", population=corrected,
                                policy=POLICY, wave="w") == 2
    db.commit()
    assert db.scalar(select(func.count()).select_from(ReleaseDecision)) == 2
    x = _table(corrected).cell({"directorate": "X"})  # type: ignore[attr-defined]
    assert x.n is None  # 40 then 39 exactly would tie the correction to X
