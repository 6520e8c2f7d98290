"""Raising concerns, returning with a receipt, and guardians' case work.

Services take the database session and settings as keyword arguments, return domain objects
and raise :class:`SpeakUpError` subclasses. They never commit: the caller's transaction makes
a submission all-or-nothing.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.models import StaffUser
from accounts.services import StaffIdentity
from config.settings import Settings
from config.vocabulary import NGO_ELEMENTS, SPEAK_UP_AGAIN, STATUSES
from core import audit
from core.db import today as utc_today
from core.encryption import (
    DecryptionError,
    ReceiptFormatError,
    burn_receipt_derivation,
    concern_context,
    derive_receipt_secrets,
    generate_receipt,
    new_key,
    normalise_receipt,
    open_sealed,
    open_with_private_key,
    seal,
    seal_to_public_key,
    token_digest,
    token_key,
)
from speakup import themes
from speakup.attachments import CleanFile
from speakup.models import (
    Attachment,
    Concern,
    ConcernExclusion,
    ConcernGrant,
    Message,
    SubmissionToken,
)

_REF_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


class SpeakUpError(Exception):
    """Root of the speak-up domain errors."""


class ConcernInvalidError(SpeakUpError):
    """A business rule refused the concern; ``field`` names the form field to fix."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NoGuardianError(SpeakUpError):
    """Nobody could be given the concern (no guardian set up, or all excluded)."""


class ReceiptNotFoundError(SpeakUpError):
    """The receipt does not open any concern. Always the same message, whatever the cause."""


class CaseNotFoundError(SpeakUpError):
    """No such case, or this guardian may not see it."""


class CaseClosedError(SpeakUpError):
    pass


# --- the anonymous side ----------------------------------------------------------------------


@dataclass(frozen=True)
class ConcernDraft:
    text: str
    kind: str
    identity_mode: str
    site: str | None = None
    happened_month: str | None = None
    name: str = ""
    contact: str = ""
    professional_group: str | None = None
    ethnicity: str | None = None
    quote_consent: bool = False
    excluded_guardian_ids: Sequence[int] = ()
    files: Sequence[CleanFile] = ()


@dataclass(frozen=True)
class Submission:
    receipt: str
    repeated: bool


@dataclass(frozen=True)
class ReporterAccess:
    """What the reporter's session holds after the receipt opened their concern."""

    concern_id: int
    concern_key: bytes


def eligible_guardians(db: Session) -> list[StaffUser]:
    """Active guardians, in name order: who a new concern is sealed to."""
    return list(db.scalars(
        select(StaffUser)
        .where(StaffUser.role == "guardian", StaffUser.disabled.is_(False))
        .order_by(StaffUser.name)
    ))


def _new_ref(db: Session) -> str:
    while True:
        ref = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
        if db.scalar(select(Concern.id).where(Concern.ref == ref)) is None:
            return ref


def _seal_files(concern: Concern, key: bytes, files: Iterable[CleanFile],
                message: Message | None = None) -> None:
    for f in files:
        concern.attachments.append(Attachment(
            meta_sealed=seal(key, json.dumps({"filename": f.filename,
                                              "content_type": f.content_type}).encode(),
                             context=concern_context(concern.ref, "attachment-meta")),
            content_sealed=seal(key, f.content, context=concern_context(concern.ref, "attachment")),
            message=message,
        ))


def submit_concern(
    db: Session, *, draft: ConcernDraft, form_token: str, settings: Settings,
    on: date | None = None,
) -> Submission:
    """Seal and store a concern; return the receipt, which is never stored.

    ``form_token`` is the random token the form was served with. Submitting the same token
    again returns the same receipt and creates nothing (``repeated=True``).
    """
    digest = token_digest(form_token)
    previous = db.scalar(select(SubmissionToken).where(SubmissionToken.token_digest == digest))
    if previous is not None:
        receipt = open_sealed(token_key(form_token), previous.receipt_sealed,
                              context=b"speakup/submission-token").decode()
        return Submission(receipt=receipt, repeated=True)

    if not draft.text.strip():
        raise ConcernInvalidError("Tell us what happened.", "text")
    if draft.identity_mode in ("confidential", "open") and not draft.name.strip():
        raise ConcernInvalidError(
            "Give your name, or choose to stay anonymous.", "name")
    excluded = set(draft.excluded_guardian_ids)
    guardians = [g for g in eligible_guardians(db) if g.id not in excluded]
    if not guardians and settings.escrow_public_key is None:
        if excluded:
            raise ConcernInvalidError(
                "You have said no guardian may see your concern, so nobody could read it. "
                "Leave at least one guardian unticked.", "excluded_guardians")
        raise NoGuardianError("No Freedom to Speak Up guardian has been set up yet.")

    on = on or utc_today()
    key = new_key()
    while True:
        receipt = generate_receipt()
        derived = derive_receipt_secrets(receipt, settings.receipt_pepper, settings.kdf)
        if db.scalar(select(Concern.id).where(Concern.receipt_lookup == derived.lookup)) is None:
            break
    ref = _new_ref(db)
    # Themes and tone from the text before it is sealed: ids and scores only, never its words.
    analysed = themes.analyse_new_concern(db, text=draft.text, ref=ref,
                                          quote_consent=draft.quote_consent, settings=settings)
    # Anonymous means anonymous: a name or contact typed before choosing it is not kept.
    named = draft.identity_mode in ("confidential", "open")
    body = {"text": draft.text, "name": draft.name.strip() if named else "",
            "contact": draft.contact.strip() if named else ""}
    concern = Concern(
        ref=ref, receipt_lookup=derived.lookup,
        reporter_key_sealed=seal(derived.key, key, context=concern_context(ref, "reporter-key")),
        escrow_key_sealed=(
            seal_to_public_key(settings.escrow_public_key, key,
                               context=concern_context(ref, "escrow-key"))
            if settings.escrow_public_key else None
        ),
        body_sealed=seal(key, json.dumps(body).encode(), context=concern_context(ref, "body")),
        received_on=on, status="new", kind=draft.kind, site=draft.site or None,
        happened_month=draft.happened_month or None, identity_mode=draft.identity_mode,
        ngo_raised=draft.identity_mode,
        professional_group=draft.professional_group or None,
        ethnicity=draft.ethnicity or None, quote_consent=draft.quote_consent,
        quote_sealed=analysed.quote_sealed, tone=analysed.tone, themes=analysed.themes,
        awaiting_guardian=True,
    )
    for guardian in guardians:
        concern.grants.append(ConcernGrant(
            staff_id=guardian.id,
            key_sealed=seal_to_public_key(guardian.public_key, key,
                                          context=concern_context(ref, "grant")),
        ))
    for staff_id in sorted(excluded):
        concern.exclusions.append(ConcernExclusion(staff_id=staff_id))
    _seal_files(concern, key, draft.files)
    db.add(concern)
    db.add(SubmissionToken(
        token_digest=digest, created_on=on,
        receipt_sealed=seal(token_key(form_token), receipt.encode(),
                            context=b"speakup/submission-token"),
    ))
    db.flush()
    return Submission(receipt=receipt, repeated=False)


def open_with_receipt(db: Session, *, receipt: str, settings: Settings) -> ReporterAccess:
    """Find and unlock the concern a receipt belongs to.

    Malformed and wrong receipts take the same key-derivation time and raise the same
    :class:`ReceiptNotFoundError`.
    """
    try:
        canonical = normalise_receipt(receipt)
    except ReceiptFormatError as e:
        burn_receipt_derivation(settings.receipt_pepper, settings.kdf)
        raise ReceiptNotFoundError from e
    derived = derive_receipt_secrets(canonical, settings.receipt_pepper, settings.kdf)
    concern = db.scalar(select(Concern).where(Concern.receipt_lookup == derived.lookup))
    if concern is None:
        raise ReceiptNotFoundError
    try:
        key = open_sealed(derived.key, concern.reporter_key_sealed,
                          context=concern_context(concern.ref, "reporter-key"))
    except DecryptionError as e:
        raise ReceiptNotFoundError from e
    return ReporterAccess(concern_id=concern.id, concern_key=key)


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ThreadEntry:
    author: str  # "reporter", "guardian" or "note"
    author_name: str
    on: date
    text: str
    attachments: tuple[AttachmentView, ...] = ()


@dataclass
class CaseView:
    """A concern opened with its key: what the reporter or a guardian reads."""

    concern: Concern
    text: str
    name: str
    contact: str
    attachments: list[AttachmentView] = field(default_factory=list)
    thread: list[ThreadEntry] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return dict(STATUSES).get(self.concern.status, self.concern.status)


def _open_case(concern: Concern, key: bytes, *, include_notes: bool) -> CaseView:
    ref = concern.ref
    body = json.loads(open_sealed(key, concern.body_sealed, context=concern_context(ref, "body")))
    by_message: dict[int | None, list[AttachmentView]] = {}
    for a in concern.attachments:
        meta = json.loads(open_sealed(key, a.meta_sealed,
                                      context=concern_context(ref, "attachment-meta")))
        by_message.setdefault(a.message_id, []).append(AttachmentView(
            a.id, meta["filename"], meta["content_type"], max(0, len(a.content_sealed) - 29)))
    view = CaseView(concern=concern, text=body["text"], name=body.get("name", ""),
                    contact=body.get("contact", ""), attachments=by_message.get(None, []))
    for m in concern.messages:
        if m.author == "note" and not include_notes:
            continue
        text = open_sealed(key, m.body_sealed, context=concern_context(ref, f"message-{m.author}"))
        name = {"reporter": "You" if not include_notes else "Reporter",
                "guardian": m.staff.name if (m.staff and include_notes) else "Guardian",
                "note": m.staff.name if m.staff else "Guardian"}[m.author]
        view.thread.append(ThreadEntry(m.author, name, m.created_on, text.decode(),
                                       tuple(by_message.get(m.id, []))))
    return view


def reporter_case(db: Session, *, access: ReporterAccess) -> CaseView:
    """The reporter's view of their concern: no private notes, guardians unnamed."""
    concern = db.get(Concern, access.concern_id)
    if concern is None:
        raise ReceiptNotFoundError
    try:
        return _open_case(concern, access.concern_key, include_notes=False)
    except DecryptionError as e:
        raise ReceiptNotFoundError from e


def _add_message(concern: Concern, key: bytes, *, author: str, text: str, on: date,
                 staff_id: int | None = None, files: Iterable[CleanFile] = ()) -> Message:
    message = Message(
        author=author, staff_id=staff_id, created_on=on,
        body_sealed=seal(key, text.encode(),
                         context=concern_context(concern.ref, f"message-{author}")),
    )
    concern.messages.append(message)
    _seal_files(concern, key, files, message)
    return message


def add_reporter_message(
    db: Session, *, access: ReporterAccess, text: str, files: Sequence[CleanFile] = (),
    on: date | None = None,
) -> None:
    """The reporter answers or adds information."""
    if not text.strip() and not files:
        raise ConcernInvalidError("Write your message, or attach a file.", "text")
    concern = db.get(Concern, access.concern_id)
    if concern is None:
        raise ReceiptNotFoundError
    if concern.status == "closed":
        raise CaseClosedError("This concern has been closed. If something new has happened, "
                              "please raise a new concern.")
    _add_message(concern, access.concern_key, author="reporter", text=text,
                 on=on or utc_today(), files=files)
    concern.awaiting_guardian = True
    concern.awaiting_reporter = False
    db.flush()


def record_reporter_feedback(db: Session, *, access: ReporterAccess, answer: str) -> None:
    """The reporter's answer to "Given your experience, would you speak up again?"."""
    if answer not in dict(SPEAK_UP_AGAIN):
        raise ConcernInvalidError("Choose one of the answers.", "answer")
    concern = db.get(Concern, access.concern_id)
    if concern is None:
        raise ReceiptNotFoundError
    concern.ngo_speak_up_again = answer
    db.flush()


def read_attachment(concern: Concern, key: bytes, attachment_id: int) -> tuple[AttachmentView, bytes]:
    for a in concern.attachments:
        if a.id == attachment_id:
            meta = json.loads(open_sealed(key, a.meta_sealed,
                                          context=concern_context(concern.ref, "attachment-meta")))
            content = open_sealed(key, a.content_sealed,
                                  context=concern_context(concern.ref, "attachment"))
            return AttachmentView(a.id, meta["filename"], meta["content_type"],
                                  len(content)), content
    raise CaseNotFoundError


def reporter_attachment(db: Session, *, access: ReporterAccess, attachment_id: int) -> (
    tuple[AttachmentView, bytes]
):
    concern = db.get(Concern, access.concern_id)
    if concern is None:
        raise ReceiptNotFoundError
    # Reporters download only files they sent themselves (not notes' files: there are none).
    return read_attachment(concern, access.concern_key, attachment_id)


# --- the guardian side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    acknowledge_by: date
    feedback_by: date
    overdue: str | None  # "acknowledgement", "feedback" or None


def deadlines(concern: Concern, *, settings: Settings, on: date | None = None) -> Deadlines:
    """Acknowledge within ``acknowledge_days`` of receipt; feed back within ``feedback_days``."""
    on = on or utc_today()
    ack_by = concern.received_on + timedelta(days=settings.acknowledge_days)
    feedback_by = concern.received_on + timedelta(days=settings.feedback_days)
    overdue = None
    if concern.status == "new" and on > ack_by:
        overdue = "acknowledgement"
    elif concern.status != "closed" and on > feedback_by:
        overdue = "feedback"
    return Deadlines(ack_by, feedback_by, overdue)


@dataclass(frozen=True)
class InboxRow:
    concern: Concern
    deadlines: Deadlines


def inbox(
    db: Session, *, identity: StaffIdentity, settings: Settings, status: str | None = None,
    overdue_only: bool = False, on: date | None = None,
) -> list[InboxRow]:
    """Cases this guardian holds a key for, newest first, with their deadlines."""
    query = (select(Concern).join(ConcernGrant)
             .where(ConcernGrant.staff_id == identity.user.id)
             .order_by(Concern.received_on.desc(), Concern.id.desc()))
    if status == "open":
        query = query.where(Concern.status != "closed")
    elif status:
        query = query.where(Concern.status == status)
    rows = [InboxRow(c, deadlines(c, settings=settings, on=on)) for c in db.scalars(query)]
    if overdue_only:
        rows = [r for r in rows if r.deadlines.overdue]
    return rows


def _granted(db: Session, identity: StaffIdentity, ref: str) -> tuple[Concern, bytes]:
    concern = db.scalar(select(Concern).where(Concern.ref == ref))
    if concern is None:
        raise CaseNotFoundError
    grant = db.scalar(select(ConcernGrant).where(
        ConcernGrant.concern_id == concern.id, ConcernGrant.staff_id == identity.user.id))
    if grant is None:
        raise CaseNotFoundError
    try:
        key = open_with_private_key(identity.private_key, grant.key_sealed,
                                    context=concern_context(concern.ref, "grant"))
    except DecryptionError as e:
        raise CaseNotFoundError from e
    return concern, key


def open_case(db: Session, *, identity: StaffIdentity, ref: str) -> CaseView:
    """Decrypt a case for a guardian who holds a grant for it."""
    concern, key = _granted(db, identity, ref)
    return _open_case(concern, key, include_notes=True)


def guardian_attachment(db: Session, *, identity: StaffIdentity, ref: str,
                        attachment_id: int) -> tuple[AttachmentView, bytes]:
    concern, key = _granted(db, identity, ref)
    audit.record(db, actor=f"staff:{identity.user.id}", action="case.download",
                 target=f"case:{ref}")
    return read_attachment(concern, key, attachment_id)


def _actor(identity: StaffIdentity) -> str:
    return f"staff:{identity.user.id}"


def reply_to_reporter(db: Session, *, identity: StaffIdentity, ref: str, text: str,
                      on: date | None = None) -> None:
    """Send a reply the reporter reads with their receipt. A first reply acknowledges."""
    if not text.strip():
        raise ConcernInvalidError("Write your reply.", "text")
    concern, key = _granted(db, identity, ref)
    on = on or utc_today()
    _add_message(concern, key, author="guardian", text=text, on=on, staff_id=identity.user.id)
    concern.awaiting_guardian = False
    concern.awaiting_reporter = True
    if concern.status == "new":
        concern.status = "acknowledged"
        concern.acknowledged_on = on
    audit.record(db, actor=_actor(identity), action="case.reply", target=f"case:{ref}")
    db.flush()


def add_note(db: Session, *, identity: StaffIdentity, ref: str, text: str,
             on: date | None = None) -> None:
    """A private note, sealed like everything else, read only by guardians with a grant."""
    if not text.strip():
        raise ConcernInvalidError("Write your note.", "text")
    concern, key = _granted(db, identity, ref)
    _add_message(concern, key, author="note", text=text, on=on or utc_today(),
                 staff_id=identity.user.id)
    audit.record(db, actor=_actor(identity), action="case.note", target=f"case:{ref}")
    db.flush()


def change_status(db: Session, *, identity: StaffIdentity, ref: str, status: str,
                  on: date | None = None) -> None:
    if status not in dict(STATUSES):
        raise ConcernInvalidError("Choose a status.", "status")
    concern, _key = _granted(db, identity, ref)
    on = on or utc_today()
    if status != "new" and concern.acknowledged_on is None:
        concern.acknowledged_on = on
    concern.status = status
    concern.closed_on = on if status == "closed" else None
    if status == "closed":
        concern.awaiting_guardian = False
    audit.record(db, actor=_actor(identity), action="case.status", target=f"case:{ref}",
                 detail=status)
    db.flush()


def mark_read(db: Session, *, identity: StaffIdentity, ref: str) -> None:
    """Opening a case is itself audited (who read which case, when)."""
    audit.record(db, actor=_actor(identity), action="case.view", target=f"case:{ref}")


def assignable_guardians(db: Session, *, ref: str) -> list[StaffUser]:
    """Active guardians the reporter did not exclude from this case."""
    concern = db.scalar(select(Concern).where(Concern.ref == ref))
    if concern is None:
        raise CaseNotFoundError
    excluded = {e.staff_id for e in concern.exclusions}
    return [g for g in eligible_guardians(db) if g.id not in excluded]


def assign(db: Session, *, identity: StaffIdentity, ref: str, assignee_id: int | None) -> None:
    """Assign a case, sealing its key to the assignee if they do not hold it yet.

    A guardian the reporter excluded can never be given the case.
    """
    concern, key = _granted(db, identity, ref)
    if assignee_id is None:
        concern.assigned_to_id = None
    else:
        allowed = {g.id: g for g in assignable_guardians(db, ref=ref)}
        assignee = allowed.get(assignee_id)
        if assignee is None:
            raise ConcernInvalidError("That guardian cannot be given this case.", "assignee")
        if not any(g.staff_id == assignee.id for g in concern.grants):
            concern.grants.append(ConcernGrant(
                staff_id=assignee.id,
                key_sealed=seal_to_public_key(assignee.public_key, key,
                                              context=concern_context(ref, "grant")),
            ))
        concern.assigned_to_id = assignee.id
    audit.record(db, actor=_actor(identity), action="case.assign", target=f"case:{ref}",
                 detail=f"staff:{assignee_id}" if assignee_id else "unassigned")
    db.flush()


def grant_from_escrow(db: Session, *, ref: str, escrow_private_key: bytes, staff_id: int,
                      actor: str = "cli") -> None:
    """Open a case with the organisation's offline escrow key and seal it to a guardian.

    For when every guardian who held the case has left or lost both password and recovery
    key. The reporter's exclusions still apply.
    """
    concern = db.scalar(select(Concern).where(Concern.ref == ref))
    if concern is None or concern.escrow_key_sealed is None:
        raise CaseNotFoundError
    try:
        key = open_with_private_key(escrow_private_key, concern.escrow_key_sealed,
                                    context=concern_context(ref, "escrow-key"))
    except DecryptionError as e:
        raise CaseNotFoundError from e
    allowed = {g.id: g for g in assignable_guardians(db, ref=ref)}
    if staff_id not in allowed:
        raise ConcernInvalidError("That guardian cannot be given this case.", "assignee")
    if not any(g.staff_id == staff_id for g in concern.grants):
        concern.grants.append(ConcernGrant(
            staff_id=staff_id,
            key_sealed=seal_to_public_key(allowed[staff_id].public_key, key,
                                          context=concern_context(ref, "grant")),
        ))
    audit.record(db, actor=actor, action="case.escrow-grant", target=f"case:{ref}",
                 detail=f"staff:{staff_id}")
    db.flush()


@dataclass(frozen=True)
class NgoFields:
    raised: str
    elements: frozenset[str]
    professional_group: str | None
    speak_up_again: str | None


def record_ngo(db: Session, *, identity: StaffIdentity, ref: str, fields: NgoFields) -> None:
    """Record the National Guardian's Office fields for a case."""
    concern, _key = _granted(db, identity, ref)
    unknown = fields.elements - {code for code, _ in NGO_ELEMENTS}
    if unknown or fields.raised not in ("anonymous", "confidential", "open"):
        raise ConcernInvalidError("Choose from the options given.", "raised")
    concern.ngo_raised = fields.raised
    for code, _label in NGO_ELEMENTS:
        setattr(concern, f"ngo_{code}", code in fields.elements)
    concern.ngo_professional_group = fields.professional_group or None
    concern.ngo_speak_up_again = fields.speak_up_again or None
    audit.record(db, actor=_actor(identity), action="case.ngo", target=f"case:{ref}")
    db.flush()


NGO_EXPORT_COLUMNS = (
    "case_reference", "received_on", "quarter", "status", "closed_on", "raised",
    *(code for code, _ in NGO_ELEMENTS), "professional_group", "speak_up_again",
)


def _quarter(d: date) -> str:
    """NHS financial-year quarter, e.g. 2026/27 Q3."""
    start = d.year if d.month >= 4 else d.year - 1
    return f"{start}/{str(start + 1)[2:]} Q{((d.month - 4) % 12) // 3 + 1}"


def ngo_export(db: Session, *, start: date, end: date, actor: str) -> str:
    """CSV of every case received from ``start`` to ``end`` inclusive: NGO fields only.

    No free text, no site, no ethnicity: exactly what the National Guardian's Office asks for.
    """
    if end < start:
        raise ConcernInvalidError("The end date must be on or after the start date.", "end")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(NGO_EXPORT_COLUMNS)
    for c in db.scalars(select(Concern).where(Concern.received_on >= start,
                                              Concern.received_on <= end)
                        .order_by(Concern.received_on, Concern.id)):
        writer.writerow([
            c.ref, c.received_on.isoformat(), _quarter(c.received_on), c.status,
            c.closed_on.isoformat() if c.closed_on else "", c.ngo_raised or c.identity_mode,
            *("yes" if getattr(c, f"ngo_{code}") else "no" for code, _ in NGO_ELEMENTS),
            c.ngo_professional_group or c.professional_group or "not-known",
            c.ngo_speak_up_again or "",
        ])
    audit.record(db, actor=actor, action="ngo.export", detail=f"{start}..{end}")
    return out.getvalue()


@dataclass(frozen=True)
class PurgeResult:
    concerns: int
    submission_tokens: int


def purge(db: Session, *, settings: Settings, actor: str = "cli",
          on: date | None = None) -> PurgeResult:
    """Delete closed cases past retention and stale double-submission tokens; audited."""
    on = on or utc_today()
    cutoff = on - timedelta(days=settings.retention_days)
    old = list(db.scalars(select(Concern).where(Concern.status == "closed",
                                                Concern.closed_on < cutoff)))
    for concern in old:
        db.delete(concern)
    tokens = db.execute(delete(SubmissionToken).where(SubmissionToken.created_on < on))
    purged = PurgeResult(len(old), int(getattr(tokens, "rowcount", 0) or 0))
    audit.record(db, actor=actor, action="purge",
                 detail=f"concerns={purged.concerns} closed before {cutoff}")
    db.flush()
    return purged
