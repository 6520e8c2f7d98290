"""The guardian's inbox: a sealed index of their own cases, so the inbox pages, sorts and filters
without opening every case on every view.

What a guardian triages on is mostly sealed: the kind of concern and its themes are in the case
record (`speakup.record`), which only the concern key opens, and the concern key opens only with
the guardian's private key (one public-key operation per case). Opening 20,000 of them for
every inbox page is what made the first inbox take 1.6 s and 21 MB. So each guardian has one
index (`speakup.models.InboxIndex`): per case they hold a grant for, its reference, status,
day received, assignee and record version (clear columns of the case, copied), the kind, the
counted themes, how many messages the reporter sent and the day of the latest one, and how many
of those this guardian has seen. It is JSON sealed under a key derived from the guardian's
private key, so only their signed-in session opens it: nothing about a case is added in the
clear, and the server alone cannot read it.

Freshness: every change to a case (a new case, a message, a record change, a status change,
an assignment, a purge) adds one to ``generation`` on the index row of each guardian holding the
case (`speakup.services.touch_indexes`), in the same transaction. The index stores the
generation it was built from. While they are equal, an inbox view is one small SQL read, one
decryption and a filter in memory, whatever the number of cases. When they differ, the view
re-reads the clear columns of the guardian's cases (one query over covering indexes) and opens in
full only the cases whose record version moved or that are new to the index. ``generation`` is
a count of changes, never a time; the row is re-written by ``speakup mix`` like the other rows
the anonymous side writes. If the index does not open (a rotated key) it is rebuilt.

"Seen" is per guardian: a case shows "New message" only while the reporter has sent messages
this guardian has not opened the case since.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.services import StaffIdentity
from config.settings import Settings
from core.db import today as utc_today
from core.encryption import DecryptionError, derive_subkey, open_sealed, seal
from speakup import services
from speakup.models import Concern, ConcernGrant, InboxIndex, Message
from speakup.record import CaseRecord

PAGE_SIZE = 25
SORTS = (("received", "Newest first"), ("oldest", "Oldest first"),
         ("message", "Latest message from the reporter"))
_CHUNK = 500  # ids per IN (...) list, well inside every backend's parameter limit
# Positions in an index entry (a JSON list, compact for 20,000 cases). Dates are ISO strings,
# which sort as dates.
REF, STATUS, RECEIVED, ASSIGNED, VERSION, KIND, THEMES, FROM_REPORTER, LAST_REPORTER, SEEN = \
    range(10)


@dataclass(frozen=True)
class Entry:
    """What the index holds about one case (built only for the rows shown)."""

    kind: str
    themes: tuple[str, ...]
    reporter_messages: int
    last_reporter_on: date | None
    seen: int

    @property
    def unread(self) -> int:
        return max(0, self.reporter_messages - self.seen)

    @classmethod
    def of(cls, raw: Sequence[Any]) -> Entry:
        last = raw[LAST_REPORTER]
        return cls(str(raw[KIND]), tuple(raw[THEMES]), int(raw[FROM_REPORTER]),
                   date.fromisoformat(last) if last else None, int(raw[SEEN]))


@dataclass(frozen=True)
class InboxQuery:
    """What the guardian asked for; every field comes from the URL."""

    status: str = "open"  # "open", "all" or a status code
    overdue: bool = False
    mine: bool = False
    unread: bool = False
    kind: str = ""
    theme: str = ""
    ref: str = ""
    sort: str = "received"
    page: int = 1


@dataclass(frozen=True)
class InboxRow:
    concern: Concern
    deadlines: services.Deadlines
    entry: Entry


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int  # cases matching the query
    page: int
    pages: int
    cases: int  # every case this guardian holds
    theme_counts: Counter[str] = field(default_factory=Counter)


def _key(identity: StaffIdentity) -> bytes:
    return derive_subkey(identity.private_key, "inbox-index")


def _context(identity: StaffIdentity) -> bytes:
    return f"speakup/inbox-index/{identity.user.id}".encode()


class _Index:
    """The guardian's index as loaded for one request."""

    def __init__(self, db: Session, identity: StaffIdentity) -> None:
        self.db, self.identity = db, identity
        self.row = db.get(InboxIndex, identity.user.id)
        self.entries: dict[str, list[Any]] = {}
        self.built = -1
        self.changed = False
        if self.row is not None:
            try:
                data = json.loads(open_sealed(_key(identity), self.row.index_sealed,
                                              context=_context(identity)))
                self.entries, self.built = data["cases"], int(data["built"])
            except (DecryptionError, ValueError, KeyError, TypeError):
                self.entries, self.built = {}, -1  # a rotated key: rebuilt from the cases

    @property
    def fresh(self) -> bool:
        return self.row is not None and self.built == self.row.generation

    def store(self, built: int | None = None) -> None:
        """Save the index if it changed (as of generation ``built`` if given). Of two requests
        saving at once, the first wins: this is a cache, rebuilt if it is out of date."""
        if built is not None and built != self.built:
            self.built, self.changed = built, True
        if not self.changed:
            return
        sealed = seal(_key(self.identity), json.dumps(
            {"built": self.built, "cases": self.entries}, separators=(",", ":")).encode(),
            context=_context(self.identity))
        if self.row is None:
            try:
                with self.db.begin_nested():
                    self.db.add(InboxIndex(staff_id=self.identity.user.id, version=1,
                                           generation=0, index_sealed=sealed))
            except IntegrityError:
                pass  # another request stored one first
        else:
            self.db.execute(update(InboxIndex).where(
                InboxIndex.staff_id == self.identity.user.id,
                InboxIndex.version == self.row.version).values(
                    index_sealed=sealed, version=self.row.version + 1)
                .execution_options(synchronize_session=False))
        self.changed = False


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _reporter_messages(db: Session, ids: Sequence[str]) -> dict[str, tuple[int, str | None]]:
    found: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks(ids):
        for concern_id, count, last in db.execute(
                select(Message.concern_id, func.count(), func.max(Message.created_on))
                .where(Message.author == "reporter", Message.concern_id.in_(chunk))
                .group_by(Message.concern_id)):
            found[concern_id] = (int(count), last.isoformat() if last else None)
    return found


def _clear_part(c: Any) -> list[Any]:
    return [c.ref, c.status, c.received_on.isoformat(), c.assigned_to_id, c.record_version]


def _sealed_part(case: CaseRecord, messages: tuple[int, str | None], seen: int) -> list[Any]:
    return [case.kind, list(case.counted_themes), messages[0], messages[1], seen]


def _rebuild(index: _Index) -> None:
    """Bring every entry up to date from the cases (when some case changed since the index was
    built): clear columns copied, changed or new cases opened in full, dropped ones removed."""
    db, identity = index.db, index.identity
    generation = index.row.generation if index.row is not None else 0
    clear = list(db.execute(
        select(Concern.id, Concern.ref, Concern.status, Concern.received_on,
               Concern.assigned_to_id, Concern.record_version, Concern.awaiting_guardian)
        .join(ConcernGrant).where(ConcernGrant.staff_id == identity.user.id)))
    old, entries = index.entries, {}
    stale = []
    for c in clear:
        entry = old.get(c.id)
        if entry is None or entry[VERSION] != c.record_version:
            stale.append(c)
        else:
            entries[c.id] = _clear_part(c) + entry[KIND:]
    messages = _reporter_messages(db, [c.id for c in stale])
    awaiting = {c.id: c.awaiting_guardian for c in stale}
    for chunk in _chunks([c.id for c in stale]):
        for concern, grant in db.execute(
                select(Concern, ConcernGrant).join(ConcernGrant)
                .where(ConcernGrant.staff_id == identity.user.id, Concern.id.in_(chunk))):
            try:
                case = services.current_record(db, concern, grant, identity)
            except DecryptionError:
                case = CaseRecord()
            counted = messages.get(concern.id, (0, None))
            previous = old.get(concern.id)
            # A case new to the index: what the reporter sent before a guardian last replied
            # counts as seen (it was answered), a message since then as unread.
            seen = previous[SEEN] if previous is not None else (
                counted[0] - 1 if awaiting[concern.id] and counted[0] else counted[0])
            entries[concern.id] = _clear_part(concern) + _sealed_part(case, counted, seen)
    index.entries, index.changed = entries, True
    index.store(built=generation)


def _current(db: Session, identity: StaffIdentity) -> _Index:
    index = _Index(db, identity)
    if not index.fresh:
        _rebuild(index)
    return index


def normalise_ref(text: str) -> str:
    """A reference as typed (any case, spaces, a leading '#') in the stored form."""
    return "".join(ch for ch in text.upper() if ch.isalnum())[:16]


def page(db: Session, *, identity: StaffIdentity, settings: Settings,
         query: InboxQuery = InboxQuery(), on: date | None = None,
         page_size: int | None = PAGE_SIZE) -> InboxPage:
    """One page of the cases this guardian holds a grant for, filtered and sorted as asked.

    ``page_size`` None returns every matching case on one page. Brings the guardian's sealed
    index up to date as a side effect (the caller commits).
    """
    on = on or utc_today()
    return _page(db, _current(db, identity), settings, query, on, page_size, retry=True)


def _page(db: Session, index: _Index, settings: Settings, query: InboxQuery, on: date,
          page_size: int | None, *, retry: bool) -> InboxPage:
    identity = index.identity
    ack_cutoff = (on - timedelta(days=settings.acknowledge_days)).isoformat()
    feedback_cutoff = (on - timedelta(days=settings.feedback_days)).isoformat()
    ref, me = normalise_ref(query.ref), identity.user.id
    theme_counts: Counter[str] = Counter()
    matching = []
    for concern_id, e in index.entries.items():
        status = e[STATUS]
        if query.status == "open" and status == "closed":
            continue
        if query.status not in ("open", "all") and status != query.status:
            continue
        if ref and not e[REF].startswith(ref):
            continue
        if query.mine and e[ASSIGNED] != me:
            continue
        if query.kind and e[KIND] != query.kind:
            continue
        if query.unread and e[FROM_REPORTER] <= e[SEEN]:
            continue
        if query.overdue and not ((status == "new" and e[RECEIVED] < ack_cutoff) or (
                status != "closed" and e[RECEIVED] < feedback_cutoff)):
            continue
        theme_counts.update(e[THEMES])
        if query.theme and query.theme not in e[THEMES]:
            continue
        matching.append((concern_id, e))
    matching.sort(key=lambda ie: ie[1][REF])
    if query.sort == "message":
        matching.sort(key=lambda ie: (ie[1][FROM_REPORTER] > ie[1][SEEN],
                                      ie[1][LAST_REPORTER] or ""), reverse=True)
    else:
        matching.sort(key=lambda ie: ie[1][RECEIVED], reverse=query.sort != "oldest")
    size = page_size or max(1, len(matching))
    pages = max(1, -(-len(matching) // size))
    number = min(max(1, query.page), pages)
    shown = matching[(number - 1) * size:number * size]
    loaded = {c.id: c for c in db.scalars(
        select(Concern).where(Concern.id.in_([i for i, _e in shown])))} if shown else {}
    if len(loaded) < len(shown) and retry:
        # A case went without its change being counted (not expected): rebuild and redo.
        _rebuild(index)
        return _page(db, index, settings, query, on, page_size, retry=False)
    rows = [InboxRow(loaded[i], services.deadlines(loaded[i], settings=settings, on=on),
                     Entry.of(e)) for i, e in shown if i in loaded]
    return InboxPage(rows, len(matching), number, pages, len(index.entries), theme_counts)


def mark_seen(db: Session, *, identity: StaffIdentity, case: services.CaseView) -> None:
    """The guardian opened ``case``: every reporter message in it counts as seen by them."""
    index = _Index(db, identity)  # fresh or not: the entry carries its own record version
    concern = case.concern
    reporter = [t for t in case.thread if t.author == "reporter"]
    last = max((t.on for t in reporter), default=None)
    fresh = _clear_part(concern) + _sealed_part(
        case.record, (len(reporter), last.isoformat() if last else None), len(reporter))
    if index.entries.get(concern.id) != fresh:
        index.entries[concern.id] = fresh
        index.changed = True
        index.store()


def theme_overview(db: Session, *, identity: StaffIdentity) -> (
        tuple[Counter[str], Counter[str], int, int]):
    """Counted themes across this guardian's own cases: (open cases per theme, closed cases per
    theme, open cases, closed cases)."""
    index = _current(db, identity)
    open_, closed = Counter[str](), Counter[str]()
    for e in index.entries.values():
        (closed if e[STATUS] == "closed" else open_).update(e[THEMES])
    n_closed = sum(1 for e in index.entries.values() if e[STATUS] == "closed")
    return open_, closed, len(index.entries) - n_closed, n_closed
