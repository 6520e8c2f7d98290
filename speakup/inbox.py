"""The guardian's inbox: a sealed index of their own cases, so the inbox pages, sorts and filters
without opening every case on every view.

What a guardian triages on is mostly sealed: the kind of concern and its themes are in the case
record (`speakup.record`), which only the concern key opens, and the concern key opens only with
the guardian's private key (one public-key operation per case). Opening 20,000 of them for
every inbox page is what made the first inbox take 1.6 s and 21 MB. So each guardian has one
index (`speakup.models.InboxIndex`): per case they hold a grant for, its reference, status,
day received, assignee and record version (clear columns of the case, copied), the kind, the
counted themes, how many messages the reporter sent and the day of the latest one, and how many
of those this guardian has seen. It is stored column by column (NumPy arrays in an
``.npz`` container, read without pickle) and sealed under a key derived from the guardian's
private key, so only their signed-in session opens it: nothing about a case is added in the
clear, and the server alone cannot read it.

Freshness: every change to a case (a new case, a message, a record change, a status change,
an assignment, a purge) adds one to ``generation`` on the index row of each guardian holding the
case (`speakup.services.touch_indexes`), in the same transaction. The index stores the
generation it was built from. While they are equal, an inbox view is one small SQL read, one
decryption and a few array operations, whatever the number of cases (20,000 cases: about
1.6 MB sealed; a per-case JSON index took 0.2 s just to parse). When they differ, the view
re-reads the clear columns of the guardian's cases (one query over covering indexes) and opens in
full only the cases whose record version moved or that are new to the index. ``generation`` is
a count of changes, never a time; the row is re-written by ``speakup mix`` like the other rows
the anonymous side writes. If the index does not open (a rotated key) it is rebuilt.

"Seen" is per guardian: a case shows "New message" only while the reporter has sent messages
this guardian has not opened the case since.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import String, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.services import StaffIdentity
from config.settings import Settings
from config.vocabulary import STATUSES
from core.db import today as utc_today
from core.encryption import DecryptionError, derive_subkey, open_sealed, seal
from speakup import services
from speakup.models import Concern, ConcernGrant, InboxIndex, Message
from speakup.record import CaseRecord

PAGE_SIZE = 25
SORTS = (("received", "Newest first"), ("oldest", "Oldest first"),
         ("message", "Latest message from the reporter"))
_CHUNK = 500  # ids per IN (...) list, well inside every backend's parameter limit
_STATUS = tuple(code for code, _label in STATUSES)
_EPOCH = date(1970, 1, 1)
_NONE = -1
# One array per column; a case is the same position in each. Days are days since 1970.
_COLUMNS = {"id": "S32", "ref": "S16", "status": "i1", "received": "i4", "assigned": "i4",
            "version": "i4", "kind": "i2", "themes": "u8", "from_reporter": "i4",
            "last_reporter": "i4", "seen": "i4"}
_MAX_THEMES = 64  # theme sets are bit masks


def _day(value: date | None) -> int:
    return (value - _EPOCH).days if value is not None else _NONE


def _date(day: int) -> date | None:
    return _EPOCH + timedelta(days=int(day)) if day != _NONE else None


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


def _empty(n: int = 0) -> dict[str, Any]:
    return {name: np.zeros(n, dtype=dtype) for name, dtype in _COLUMNS.items()}


class _Index:
    """The guardian's index as loaded for one request: columns, and the kinds and themes the
    ``kind`` and ``themes`` columns index into."""

    def __init__(self, db: Session, identity: StaffIdentity) -> None:
        self.db, self.identity = db, identity
        self.row = db.get(InboxIndex, identity.user.id)
        self.cols = _empty()
        self.kinds: list[str] = []
        self.themes: list[str] = []
        self.built = -1
        self.changed = False
        if self.row is not None:
            try:
                raw = open_sealed(_key(identity), self.row.index_sealed,
                                  context=_context(identity))
                with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                    cols = {name: data[name] for name in _COLUMNS}
                    kinds, themes = data["kinds"].tolist(), data["theme_ids"].tolist()
                    built = int(data["built"][0])
            except (DecryptionError, ValueError, KeyError, OSError):
                return  # a rotated key or an older layout: rebuilt from the cases
            self.cols, self.kinds, self.themes, self.built = cols, kinds, themes, built

    def __len__(self) -> int:
        return len(self.cols["id"])

    @property
    def fresh(self) -> bool:
        return self.row is not None and self.built == self.row.generation

    def kind_code(self, kind: str) -> int:
        if kind not in self.kinds:
            self.kinds.append(kind)
        return self.kinds.index(kind)

    def theme_mask(self, themes: Iterable[str]) -> int:
        mask = 0
        for theme in themes:
            if theme not in self.themes and len(self.themes) < _MAX_THEMES:
                self.themes.append(theme)
            if theme in self.themes:
                mask |= 1 << self.themes.index(theme)
        return mask

    def theme_names(self, mask: int) -> tuple[str, ...]:
        return tuple(t for i, t in enumerate(self.themes) if mask >> i & 1)

    def position(self, concern_id: str) -> int | None:
        found = np.flatnonzero(self.cols["id"] == concern_id.encode())
        return int(found[0]) if len(found) else None

    def entry(self, i: int) -> Entry:
        c = self.cols
        kind = int(c["kind"][i])
        return Entry(self.kinds[kind] if kind != _NONE else "",
                     self.theme_names(int(c["themes"][i])), int(c["from_reporter"][i]),
                     _date(int(c["last_reporter"][i])), int(c["seen"][i]))

    def store(self, built: int | None = None) -> None:
        """Save the index if it changed (as of generation ``built`` if given). Of two requests
        saving at once, the first wins: this is a cache, rebuilt if it is out of date."""
        if built is not None and built != self.built:
            self.built, self.changed = built, True
        if not self.changed:
            return
        out = io.BytesIO()
        np.savez(out, **self.cols, kinds=np.array(self.kinds, dtype=str),
                 theme_ids=np.array(self.themes, dtype=str),
                 built=np.array([self.built], dtype="i8"))
        sealed = seal(_key(self.identity), out.getvalue(), context=_context(self.identity))
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


def _reporter_messages(db: Session, ids: Sequence[str]) -> dict[str, tuple[int, date | None]]:
    found: dict[str, tuple[int, date | None]] = {}
    for chunk in _chunks(ids):
        for concern_id, count, last in db.execute(
                select(Message.concern_id, func.count(), func.max(Message.created_on))
                .where(Message.author == "reporter", Message.concern_id.in_(chunk))
                .group_by(Message.concern_id)):
            found[concern_id] = (int(count), last)
    return found


def _set_case(index: _Index, i: int, case: CaseRecord, messages: tuple[int, date | None],
              seen: int) -> None:
    c = index.cols
    c["kind"][i] = index.kind_code(case.kind) if case.kind else _NONE
    c["themes"][i] = index.theme_mask(case.counted_themes)
    c["from_reporter"][i], c["last_reporter"][i] = messages[0], _day(messages[1])
    c["seen"][i] = seen


def _rebuild(index: _Index) -> None:
    """Bring every entry up to date from the cases (when some case changed since the index was
    built): clear columns copied, changed or new cases opened in full, dropped ones removed."""
    db, identity = index.db, index.identity
    generation = index.row.generation if index.row is not None else 0
    # Plain columns (the day as text in both dialects): no ORM objects for 20,000 rows.
    clear = db.connection().execute(
        select(Concern.id, Concern.ref, Concern.status, cast(Concern.received_on, String),
               func.coalesce(Concern.assigned_to_id, _NONE), Concern.record_version,
               Concern.awaiting_guardian)
        .join(ConcernGrant, ConcernGrant.concern_id == Concern.id)
        .where(ConcernGrant.staff_id == identity.user.id)).all()
    n = len(clear)
    new = _empty(n)
    if n:
        ids, refs, statuses, received, assigned, versions, awaiting = zip(*clear, strict=True)
        new["id"] = np.array(ids, dtype="S32")
        new["ref"] = np.array(refs, dtype="S16")
        new["status"] = np.array([_STATUS.index(s) if s in _STATUS else 0 for s in statuses],
                                 dtype="i1")
        new["received"] = (np.array(received, dtype="datetime64[D]")
                           .astype("i8").astype("i4"))
        new["assigned"] = np.array(assigned, dtype="i4")
        new["version"] = np.array(versions, dtype="i4")
    old = index.cols
    where = {k: i for i, k in enumerate(old["id"].tolist())}
    stale = []
    for i, concern_id in enumerate(new["id"].tolist()):
        j = where.get(concern_id)
        if j is None or old["version"][j] != new["version"][i]:
            stale.append(i)
        else:
            for name in ("kind", "themes", "from_reporter", "last_reporter", "seen"):
                new[name][i] = old[name][j]
    index.cols = new
    stale_ids = [new["id"][i].decode() for i in stale]
    at = {concern_id: i for concern_id, i in zip(stale_ids, stale, strict=True)}
    messages = _reporter_messages(db, stale_ids)
    for chunk in _chunks(stale_ids):
        for concern, grant in db.execute(
                select(Concern, ConcernGrant).join(ConcernGrant)
                .where(ConcernGrant.staff_id == identity.user.id, Concern.id.in_(chunk))):
            try:
                case = services.current_record(db, concern, grant, identity)
            except DecryptionError:
                case = CaseRecord()
            i = at[concern.id]
            counted = messages.get(concern.id, (0, None))
            j = where.get(concern.id.encode())
            # A case new to the index: what the reporter sent before a guardian last replied
            # counts as seen (it was answered), a message since then as unread.
            seen = int(old["seen"][j]) if j is not None else (
                counted[0] - 1 if awaiting[i] and counted[0] else counted[0])
            new["version"][i] = concern.record_version
            _set_case(index, i, case, counted, seen)
    index.changed = True
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
    c = index.cols
    status, received = c["status"], c["received"]
    closed, new = _STATUS.index("closed"), _STATUS.index("new")
    mask = np.ones(len(index), dtype=bool)
    if query.status == "open":
        mask &= status != closed
    elif query.status in _STATUS:
        mask &= status == _STATUS.index(query.status)
    if query.ref:
        mask &= np.char.startswith(c["ref"], normalise_ref(query.ref).encode())
    if query.mine:
        mask &= c["assigned"] == index.identity.user.id
    if query.kind:
        mask &= c["kind"] == (index.kinds.index(query.kind) if query.kind in index.kinds
                              else -2)
    if query.unread:
        mask &= c["from_reporter"] > c["seen"]
    if query.overdue:
        ack_cutoff = _day(on - timedelta(days=settings.acknowledge_days))
        feedback_cutoff = _day(on - timedelta(days=settings.feedback_days))
        mask &= (((status == new) & (received < ack_cutoff))
                 | ((status != closed) & (received < feedback_cutoff)))
    themes = c["themes"]
    theme_counts: Counter[str] = Counter({
        theme: int(np.count_nonzero(mask & ((themes >> np.uint64(i)) & np.uint64(1)).astype(bool)))
        for i, theme in enumerate(index.themes)})
    if query.theme:
        bit = index.themes.index(query.theme) if query.theme in index.themes else None
        mask &= (((themes >> np.uint64(bit)) & np.uint64(1)).astype(bool) if bit is not None
                 else False)
    chosen = np.flatnonzero(mask)
    refs = c["ref"][chosen]
    if query.sort == "message":
        unread = (c["from_reporter"] > c["seen"])[chosen]
        order = np.lexsort((refs, -c["last_reporter"][chosen], ~unread))
    elif query.sort == "oldest":
        order = np.lexsort((refs, received[chosen]))
    else:
        order = np.lexsort((refs, -received[chosen]))
    ordered = chosen[order]
    size = page_size or max(1, len(ordered))
    pages = max(1, -(-len(ordered) // size))
    number = min(max(1, query.page), pages)
    shown = [int(i) for i in ordered[(number - 1) * size:number * size]]
    ids = [c["id"][i].decode() for i in shown]
    loaded = {x.id: x for x in db.scalars(select(Concern).where(Concern.id.in_(ids)))} \
        if ids else {}
    if len(loaded) < len(ids) and retry:
        # A case went without its change being counted (not expected): rebuild and redo.
        _rebuild(index)
        return _page(db, index, settings, query, on, page_size, retry=False)
    rows = [InboxRow(loaded[x], services.deadlines(loaded[x], settings=settings, on=on),
                     index.entry(i)) for i, x in zip(shown, ids, strict=True) if x in loaded]
    return InboxPage(rows, len(ordered), number, pages, len(index), theme_counts)


def mark_seen(db: Session, *, identity: StaffIdentity, case: services.CaseView) -> None:
    """The guardian opened ``case``: every reporter message in it counts as seen by them."""
    index = _Index(db, identity)  # fresh or not: each entry carries its own record version
    concern = case.concern
    reporter = [t for t in case.thread if t.author == "reporter"]
    i = index.position(concern.id)
    c = index.cols
    if i is None:
        grown = _empty(1)
        grown["id"][0], grown["ref"][0] = concern.id.encode(), concern.ref.encode()
        index.cols = {name: np.concatenate([c[name], grown[name]]) for name in _COLUMNS}
        c, i = index.cols, len(index) - 1
    before = {name: c[name][i].copy() for name in _COLUMNS}
    c["status"][i] = _STATUS.index(concern.status) if concern.status in _STATUS else 0
    c["received"][i] = _day(concern.received_on)
    c["assigned"][i] = concern.assigned_to_id or _NONE
    c["version"][i] = concern.record_version
    _set_case(index, i, case.record, (len(reporter), max((t.on for t in reporter),
                                                         default=None)), len(reporter))
    if any(before[name] != c[name][i] for name in _COLUMNS):
        index.changed = True
        index.store()


def theme_overview(db: Session, *, identity: StaffIdentity) -> (
        tuple[Counter[str], Counter[str], int, int]):
    """Counted themes across this guardian's own cases: (open cases per theme, closed cases per
    theme, open cases, closed cases)."""
    index = _current(db, identity)
    closed = index.cols["status"] == _STATUS.index("closed")
    themes = index.cols["themes"]
    open_, shut = Counter[str](), Counter[str]()
    for i, theme in enumerate(index.themes):
        has = ((themes >> np.uint64(i)) & np.uint64(1)).astype(bool)
        open_[theme] = int(np.count_nonzero(has & ~closed))
        shut[theme] = int(np.count_nonzero(has & closed))
    return +open_, +shut, int(np.count_nonzero(~closed)), int(np.count_nonzero(closed))
