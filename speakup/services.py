"""Raising concerns, returning with a receipt, and guardians' case work.

Services take the database session and settings as keyword arguments, return domain objects
and raise :class:`SpeakUpError` subclasses. They never commit: the caller's transaction makes
a submission all-or-nothing.

A concern's text, thread, files and record (`speakup.record`) are sealed under its own key; the
key is sealed to each eligible guardian whose public key carries a valid binding MAC, to the
reporter's receipt and optionally to the escrow key. Equality figures never read concerns: each
concern writes unlinkable facts (`speakup.analytics`).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from accounts.keys import KeyBindingError, key_is_bound, sealable_public_key
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
    derive_subkey,
    generate_receipt,
    new_id,
    new_key,
    normalise_receipt,
    open_sealed,
    open_with_private_key,
    pad,
    seal,
    seal_to_public_key,
    token_digest,
    token_key,
    unpad,
)
from speakup import analytics, record, themes
from speakup.attachments import CleanFile
from speakup.models import (
    Attachment,
    Concern,
    ConcernGrant,
    InboxIndex,
    Message,
    SubmissionToken,
)
from speakup.record import CaseRecord, NgoRecord

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


class CaseTamperedError(SpeakUpError):
    """A case's stored data does not add up (a message missing or moved): it was changed by
    someone without the concern key."""


class NotAllCasesOpenError(SpeakUpError):
    """A return counts cases this guardian cannot open: another guardian must make it."""


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
    """``receipt`` is None for a repeat of a form already sent from another browser. ``ref`` is
    the new case's reference (None for a repeat); the anonymous side never shows it."""

    receipt: str | None
    repeated: bool
    ref: str | None = None


@dataclass(frozen=True)
class ReporterAccess:
    """What the reporter's session holds after the receipt opened their concern."""

    concern_id: str
    concern_key: bytes


def eligible_guardians(db: Session, settings: Settings) -> list[StaffUser]:
    """Active guardians whose key binding holds, in name order: who a new concern is sealed
    to, and who the concern form lists (a guardian whose id, role, email or name was changed
    in the database is neither shown nor sealed to)."""
    return [g for g in db.scalars(
        select(StaffUser)
        .where(StaffUser.role == "guardian", StaffUser.disabled.is_(False))
        .order_by(StaffUser.name)) if key_is_bound(g, settings)]


def _new_ref(db: Session) -> str:
    while True:
        ref = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
        if db.scalar(select(Concern.id).where(Concern.ref == ref)) is None:
            return ref


# --- sealing --------------------------------------------------------------------------------


def _record_context(ref: str) -> bytes:
    return concern_context(ref, "record")


def _message_context(ref: str, message_id: str, author: str) -> bytes:
    return concern_context(ref, f"message/{message_id}/{author}")


def _attachment_context(ref: str, attachment_id: str, part: str) -> bytes:
    return concern_context(ref, f"{part}/{attachment_id}")


def _seal_record(concern: Concern, key: bytes, case: CaseRecord) -> None:
    concern.record_sealed = seal(key, pad(record.dumps(case), minimum=1024),
                                 context=_record_context(concern.ref))


def _grant(concern: Concern, guardian: StaffUser, key: bytes, settings: Settings) -> bool:
    """Seal the concern key to a guardian, if their public key's binding holds."""
    try:
        public = sealable_public_key(guardian, settings)
    except KeyBindingError:
        return False
    concern.grants.append(ConcernGrant(
        id=new_id(), staff_id=guardian.id,
        key_sealed=seal_to_public_key(public, key, context=concern_context(concern.ref, "grant"))))
    return True


def _seal_files(concern: Concern, key: bytes, files: Iterable[CleanFile],
                message: Message | None = None) -> None:
    for f in files:
        attachment_id = new_id()
        meta = {"filename": f.filename, "content_type": f.content_type,
                "sanitised": f.sanitised}
        concern.attachments.append(Attachment(
            id=attachment_id,
            meta_sealed=seal(key, json.dumps(meta).encode(),
                             context=_attachment_context(concern.ref, attachment_id, "meta")),
            content_sealed=seal(key, f.content,
                                context=_attachment_context(concern.ref, attachment_id, "file")),
            message=message,
        ))


def _receipt_box_key(form_token: str, browser_secret: str) -> bytes:
    return derive_subkey(token_key(form_token) + browser_secret.encode(), "submission-receipt")


def submit_concern(
    db: Session, *, draft: ConcernDraft, form_token: str, settings: Settings,
    browser_secret: str = "", on: date | None = None,
) -> Submission:
    """Seal and store a concern; return the receipt, which is never stored.

    ``form_token`` is the random token the form was served with and ``browser_secret`` a random
    value kept in the sender's session. Submitting the same token again creates nothing
    (``repeated=True``): from the same browser it returns the same receipt; from another browser
    (or after the session is gone) ``receipt`` is None, so a copied form is not a second receipt.
    """
    digest = token_digest(form_token)
    previous = db.scalar(select(SubmissionToken).where(SubmissionToken.token_digest == digest))
    if previous is not None:
        try:
            receipt: str | None = open_sealed(
                _receipt_box_key(form_token, browser_secret), previous.receipt_sealed,
                context=b"speakup/submission-token").decode()
        except DecryptionError:
            receipt = None
        return Submission(receipt=receipt, repeated=True)

    if not draft.text.strip():
        raise ConcernInvalidError("Tell us what happened.", "text")
    if draft.identity_mode in ("confidential", "open") and not draft.name.strip():
        raise ConcernInvalidError(
            "Give your name, or choose to stay anonymous.", "name")
    excluded = set(draft.excluded_guardian_ids)
    guardians = [g for g in eligible_guardians(db, settings) if g.id not in excluded]
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
    analysed = themes.analyse_new_concern(db, text=draft.text, quote_consent=draft.quote_consent,
                                          settings=settings)
    # Anonymous means anonymous: a name or contact typed before choosing it is not kept.
    named = draft.identity_mode in ("confidential", "open")
    body = {"text": draft.text, "name": draft.name.strip() if named else "",
            "contact": draft.contact.strip() if named else ""}
    facts = analytics.facts_for(
        received_on=on, site=draft.site, professional_group=draft.professional_group,
        ethnicity=draft.ethnicity, kind=draft.kind, raised=draft.identity_mode,
        themes={t.theme_id: t.score or 0.0 for t in analysed.themes}, tone=analysed.tone,
        quote=analysed.quote)
    case = CaseRecord(
        kind=draft.kind, identity_mode=draft.identity_mode, site=draft.site or None,
        happened_month=draft.happened_month or None,
        professional_group=draft.professional_group or None,
        ethnicity=draft.ethnicity or None, quote_consent=draft.quote_consent,
        excluded=tuple(sorted(excluded)), tone=analysed.tone, themes=analysed.themes,
        themes_failed=analysed.failed, ngo=NgoRecord(raised=draft.identity_mode),
        attachments=len(draft.files),
        equality=analytics.record_new(db, facts=facts, settings=settings))
    concern = Concern(
        id=new_id(), ref=ref, receipt_lookup=derived.lookup,
        reporter_key_sealed=seal(derived.key, key, context=concern_context(ref, "reporter-key")),
        escrow_key_sealed=(
            seal_to_public_key(settings.escrow_public_key, key,
                               context=concern_context(ref, "escrow-key"))
            if settings.escrow_public_key else None
        ),
        body_sealed=seal(key, pad(json.dumps(body).encode()),
                         context=concern_context(ref, "body")),
        received_on=on, status="new", awaiting_guardian=True,
    )
    _seal_record(concern, key, case)
    granted = [g for g in guardians if _grant(concern, g, key, settings)]
    if not granted and settings.escrow_public_key is None:
        raise NoGuardianError("No guardian can receive concerns at the moment.")
    _seal_files(concern, key, draft.files)
    db.add(concern)
    touch_indexes(db, concern)
    db.add(SubmissionToken(
        id=new_id(), token_digest=digest, created_on=on,
        receipt_sealed=seal(_receipt_box_key(form_token, browser_secret), receipt.encode(),
                            context=b"speakup/submission-token"),
    ))
    db.flush()
    return Submission(receipt=receipt, repeated=False, ref=ref)


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
    id: str
    filename: str
    content_type: str
    size: int
    sanitised: bool = False


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
    record: CaseRecord
    text: str
    name: str
    contact: str
    attachments: list[AttachmentView] = field(default_factory=list)
    thread: list[ThreadEntry] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return dict(STATUSES).get(self.concern.status, self.concern.status)


def open_record(concern: Concern, key: bytes) -> CaseRecord:
    """The case record (an empty one for a migrated concern no guardian has opened yet)."""
    if concern.record_sealed is None:
        return CaseRecord()
    return record.loads(unpad(open_sealed(key, concern.record_sealed,
                                          context=_record_context(concern.ref))))


def _save_record(db: Session, concern: Concern, key: bytes, case: CaseRecord) -> None:
    """Store a changed record, refusing to overwrite a change made since it was read."""
    version = concern.record_version
    sealed = seal(key, pad(record.dumps(case), minimum=1024),
                  context=_record_context(concern.ref))
    done = db.execute(update(Concern).where(Concern.id == concern.id,
                                            Concern.record_version == version)
                      .values(record_sealed=sealed, record_version=version + 1)
                      .execution_options(synchronize_session=False))
    if getattr(done, "rowcount", 0) != 1:
        raise ConcernInvalidError("Someone else changed this case at the same moment. Look at "
                                  "it again and repeat what you did.")
    set_committed_value(concern, "record_sealed", sealed)
    set_committed_value(concern, "record_version", version + 1)
    touch_indexes(db, concern)


def _attachment_view(concern: Concern, a: Attachment, key: bytes) -> AttachmentView:
    context = (concern_context(concern.ref, "attachment-meta") if a.legacy
               else _attachment_context(concern.ref, a.id, "meta"))
    meta = json.loads(open_sealed(key, a.meta_sealed, context=context))
    return AttachmentView(a.id, meta["filename"], meta["content_type"],
                          max(0, len(a.content_sealed) - 29), bool(meta.get("sanitised")))


def _message_text(concern: Concern, m: Message, key: bytes) -> tuple[int, str]:
    """(position in the thread, text) of a message; raises DecryptionError if it was moved."""
    if m.legacy_order is not None:
        raw = open_sealed(key, m.body_sealed, context=concern_context(concern.ref,
                                                                      f"message-{m.author}"))
        return m.legacy_order, raw.decode()
    data = json.loads(unpad(open_sealed(key, m.body_sealed,
                                        context=_message_context(concern.ref, m.id, m.author))))
    return int(data["seq"]), str(data["text"])


def _open_case(concern: Concern, key: bytes, *, include_notes: bool) -> CaseView:
    ref = concern.ref
    body = json.loads(unpad(open_sealed(key, concern.body_sealed,
                                        context=concern_context(ref, "body"))))
    case = open_record(concern, key)
    by_message: dict[str | None, list[AttachmentView]] = {}
    for a in sorted(concern.attachments, key=lambda a: a.id):
        by_message.setdefault(a.message_id, []).append(_attachment_view(concern, a, key))
    view = CaseView(concern=concern, record=case, text=body["text"], name=body.get("name", ""),
                    contact=body.get("contact", ""), attachments=by_message.get(None, []))
    ordered = sorted((_message_text(concern, m, key), m) for m in concern.messages)
    positions = [seq for (seq, _text), _m in ordered]
    if concern.record_sealed is not None and (positions != list(range(1, len(ordered) + 1))
                                              or len(ordered) != case.messages
                                              or len(concern.attachments) != case.attachments):
        raise CaseTamperedError(f"case {ref}: its thread or files do not match its record")
    for (_seq, text_), m in ordered:
        if m.author == "note" and not include_notes:
            continue
        name = {"reporter": "You" if not include_notes else "Reporter",
                "guardian": m.staff.name if (m.staff and include_notes) else "Guardian",
                "note": m.staff.name if m.staff else "Guardian"}[m.author]
        view.thread.append(ThreadEntry(m.author, name, m.created_on, text_,
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


def _add_message(db: Session, concern: Concern, key: bytes, *, author: str, text: str,
                 on: date, staff_id: int | None = None, files: Iterable[CleanFile] = ()) -> Message:
    files = list(files)
    case = open_record(concern, key)
    seq = case.messages + 1
    message_id = new_id()
    message = Message(
        id=message_id, author=author, staff_id=staff_id, created_on=on,
        body_sealed=seal(key, pad(json.dumps({"seq": seq, "text": text}).encode()),
                         context=_message_context(concern.ref, message_id, author)),
    )
    concern.messages.append(message)
    _seal_files(concern, key, files, message)
    _save_record(db, concern, key, replace(case, messages=seq,
                                           attachments=case.attachments + len(files)))
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
    _add_message(db, concern, access.concern_key, author="reporter", text=text,
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
    case = open_record(concern, access.concern_key)
    if case.ngo.speak_up_again:
        raise ConcernInvalidError("Your answer is already recorded.", "answer")
    _save_record(db, concern, access.concern_key,
                 replace(case, ngo=replace(case.ngo, speak_up_again=answer)))
    db.flush()


def read_attachment(concern: Concern, key: bytes, attachment_id: str) -> tuple[AttachmentView, bytes]:
    for a in concern.attachments:
        if a.id == attachment_id:
            view = _attachment_view(concern, a, key)
            context = (concern_context(concern.ref, "attachment") if a.legacy
                       else _attachment_context(concern.ref, a.id, "file"))
            content = open_sealed(key, a.content_sealed, context=context)
            return replace(view, size=len(content)), content
    raise CaseNotFoundError


def reporter_attachment(db: Session, *, access: ReporterAccess, attachment_id: str) -> (
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


def _grant_key(concern: Concern, grant: ConcernGrant, identity: StaffIdentity) -> bytes:
    return open_with_private_key(identity.private_key, grant.key_sealed,
                                 context=concern_context(concern.ref, "grant"))


def current_record(db: Session, concern: Concern, grant: ConcernGrant,
                   identity: StaffIdentity) -> CaseRecord:
    """The record of a case opened through this guardian's grant (finishing the migration of a
    first-release case on the way). Raises DecryptionError if the grant does not open."""
    key = _grant_key(concern, grant, identity)
    if concern.record_sealed is None and grant.legacy_record is not None:
        _finish_migration(db, concern, grant, key, identity)
    return open_record(concern, key)


def _finish_migration(db: Session, concern: Concern, grant: ConcernGrant, key: bytes,
                      identity: StaffIdentity) -> None:
    """A concern migrated from the first release: its record waited sealed to each guardian's
    public key, and its messages and files under the old associated data. The first guardian to
    open it moves them under the concern key, as new concerns are stored."""
    assert grant.legacy_record is not None  # noqa: S101 - checked by the caller
    case = record.loads(open_with_private_key(identity.private_key, grant.legacy_record,
                                              context=concern_context(concern.ref, "legacy")))
    legacy = sorted((m for m in concern.messages if m.legacy_order is not None),
                    key=lambda m: m.legacy_order or 0)
    for seq, m in enumerate(legacy, 1):
        raw = open_sealed(key, m.body_sealed, context=concern_context(concern.ref,
                                                                      f"message-{m.author}"))
        m.body_sealed = seal(key, pad(json.dumps({"seq": seq, "text": raw.decode()}).encode()),
                             context=_message_context(concern.ref, m.id, m.author))
        m.legacy_order = None
    for a in concern.attachments:
        if a.legacy:
            meta = open_sealed(key, a.meta_sealed, context=concern_context(concern.ref,
                                                                           "attachment-meta"))
            content = open_sealed(key, a.content_sealed,
                                  context=concern_context(concern.ref, "attachment"))
            a.meta_sealed = seal(key, meta, context=_attachment_context(concern.ref, a.id, "meta"))
            a.content_sealed = seal(key, content,
                                    context=_attachment_context(concern.ref, a.id, "file"))
            a.legacy = False
    _seal_record(concern, key, replace(case, messages=len(legacy),
                                       attachments=len(concern.attachments)))
    concern.record_version += 1
    for g in concern.grants:
        g.legacy_record = None
    touch_indexes(db, concern)
    db.flush()


def _granted(db: Session, identity: StaffIdentity, ref: str) -> tuple[Concern, bytes]:
    concern = db.scalar(select(Concern).where(Concern.ref == ref))
    if concern is None:
        raise CaseNotFoundError
    grant = db.scalar(select(ConcernGrant).where(
        ConcernGrant.concern_id == concern.id, ConcernGrant.staff_id == identity.user.id))
    if grant is None:
        raise CaseNotFoundError
    try:
        key = _grant_key(concern, grant, identity)
        if concern.record_sealed is None and grant.legacy_record is not None:
            _finish_migration(db, concern, grant, key, identity)
    except DecryptionError as e:
        raise CaseNotFoundError from e
    return concern, key


def granted_case(db: Session, *, identity: StaffIdentity, ref: str) -> tuple[Concern, bytes,
                                                                               CaseRecord]:
    """A case this guardian holds a grant for: the concern, its key and its record."""
    concern, key = _granted(db, identity, ref)
    return concern, key, open_record(concern, key)


def save_record(db: Session, *, concern: Concern, key: bytes, case: CaseRecord) -> None:
    """Store a guardian's change to a case record (themes, NGO fields)."""
    _save_record(db, concern, key, case)


def open_case(db: Session, *, identity: StaffIdentity, ref: str) -> CaseView:
    """Decrypt a case for a guardian who holds a grant for it."""
    concern, key = _granted(db, identity, ref)
    return _open_case(concern, key, include_notes=True)


def guardian_attachment(db: Session, *, identity: StaffIdentity, ref: str,
                        attachment_id: str) -> tuple[AttachmentView, bytes]:
    concern, key = _granted(db, identity, ref)
    audit.record(db, actor=f"staff:{identity.user.id}", action="case.download",
                 target=f"case:{ref}")
    return read_attachment(concern, key, attachment_id)


def _actor(identity: StaffIdentity) -> str:
    return f"staff:{identity.user.id}"


def touch_indexes(db: Session, concern: Concern) -> None:
    """A case changed: every guardian holding it has their inbox index rebuilt at their next
    view (`speakup.inbox`). Call after the change, in its transaction."""
    holders = sorted({g.staff_id for g in concern.grants})
    if holders:
        db.execute(update(InboxIndex).where(InboxIndex.staff_id.in_(holders))
                   .values(generation=InboxIndex.generation + 1)
                   .execution_options(synchronize_session=False))


def reply_to_reporter(db: Session, *, identity: StaffIdentity, ref: str, text: str,
                      on: date | None = None) -> None:
    """Send a reply the reporter reads with their receipt. A first reply acknowledges."""
    if not text.strip():
        raise ConcernInvalidError("Write your reply.", "text")
    concern, key = _granted(db, identity, ref)
    on = on or utc_today()
    _add_message(db, concern, key, author="guardian", text=text, on=on,
                 staff_id=identity.user.id)
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
    _add_message(db, concern, key, author="note", text=text, on=on or utc_today(),
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
    touch_indexes(db, concern)
    audit.record(db, actor=_actor(identity), action="case.status", target=f"case:{ref}",
                 detail=status)
    db.flush()


def mark_read(db: Session, *, identity: StaffIdentity, ref: str) -> None:
    """Opening a case is itself audited (who read which case, when); `speakup.inbox.mark_seen`
    records which of the reporter's messages this guardian has seen."""
    audit.record(db, actor=_actor(identity), action="case.view", target=f"case:{ref}")


def assignable_guardians(db: Session, *, case: CaseRecord, settings: Settings) -> list[StaffUser]:
    """Active guardians (with a valid key binding) the reporter did not exclude."""
    excluded = set(case.excluded)
    return [g for g in eligible_guardians(db, settings) if g.id not in excluded]


def assign(db: Session, *, identity: StaffIdentity, ref: str, assignee_id: int | None,
           settings: Settings) -> None:
    """Assign a case, sealing its key to the assignee if they do not hold it yet.

    A guardian the reporter excluded can never be given the case, nor one whose public key's
    binding fails.
    """
    concern, key = _granted(db, identity, ref)
    if assignee_id is None:
        concern.assigned_to_id = None
    else:
        allowed = {g.id: g for g in assignable_guardians(db, case=open_record(concern, key),
                                                              settings=settings)}
        assignee = allowed.get(assignee_id)
        if assignee is None:
            raise ConcernInvalidError("That guardian cannot be given this case.", "assignee")
        if not any(g.staff_id == assignee.id for g in concern.grants) and not _grant(
                concern, assignee, key, settings):
            raise ConcernInvalidError("That guardian's key could not be checked, so the case "
                                      "cannot be shared with them. Ask them to sign in once, "
                                      "then try again.", "assignee")
        concern.assigned_to_id = assignee.id
    touch_indexes(db, concern)
    audit.record(db, actor=_actor(identity), action="case.assign", target=f"case:{ref}",
                 detail=f"staff:{assignee_id}" if assignee_id else "unassigned")
    db.flush()


def grant_from_escrow(db: Session, *, ref: str, escrow_private_key: bytes, staff_id: int,
                      settings: Settings, actor: str = "cli") -> None:
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
    allowed = {g.id: g for g in assignable_guardians(db, case=open_record(concern, key),
                                                              settings=settings)}
    if staff_id not in allowed:
        raise ConcernInvalidError("That guardian cannot be given this case.", "assignee")
    if not any(g.staff_id == staff_id for g in concern.grants) and not _grant(
            concern, allowed[staff_id], key, settings):
        raise ConcernInvalidError("That guardian's key could not be checked.", "assignee")
    touch_indexes(db, concern)
    audit.record(db, actor=actor, action="case.escrow-grant", target=f"case:{ref}",
                 detail=f"staff:{staff_id}")
    db.flush()


def reseal_grants(db: Session, user: StaffUser, old_private: bytes, new_public: bytes) -> int:
    """Key rotation: re-seal every concern key granted to ``user`` to their new public key."""
    count = 0
    for grant in db.scalars(select(ConcernGrant).where(ConcernGrant.staff_id == user.id)):
        concern = grant.concern
        key = open_with_private_key(old_private, grant.key_sealed,
                                    context=concern_context(concern.ref, "grant"))
        grant.key_sealed = seal_to_public_key(new_public, key,
                                              context=concern_context(concern.ref, "grant"))
        if grant.legacy_record is not None:
            raw = open_with_private_key(old_private, grant.legacy_record,
                                        context=concern_context(concern.ref, "legacy"))
            grant.legacy_record = seal_to_public_key(new_public, raw,
                                                     context=concern_context(concern.ref, "legacy"))
        count += 1
    return count


@dataclass(frozen=True)
class NgoFields:
    raised: str
    elements: frozenset[str]
    professional_group: str | None
    speak_up_again: str | None


def record_ngo(db: Session, *, identity: StaffIdentity, ref: str, fields: NgoFields) -> None:
    """Record the National Guardian's Office fields for a case (sealed in its record)."""
    concern, key = _granted(db, identity, ref)
    unknown = fields.elements - {code for code, _ in NGO_ELEMENTS}
    if unknown or fields.raised not in ("anonymous", "confidential", "open"):
        raise ConcernInvalidError("Choose from the options given.", "raised")
    case = open_record(concern, key)
    _save_record(db, concern, key, replace(case, ngo=NgoRecord(
        raised=fields.raised,
        elements=tuple(code for code, _ in NGO_ELEMENTS if code in fields.elements),
        professional_group=fields.professional_group or None,
        speak_up_again=fields.speak_up_again or None)))
    audit.record(db, actor=_actor(identity), action="case.ngo", target=f"case:{ref}")
    db.flush()


@dataclass(frozen=True)
class CaseUpdate:
    """What the case page's one Save sends: status, assignee, NGO fields, and when closing,
    a closing message to the reporter or the choice to close without one."""

    status: str
    assignee_id: int | None
    ngo: NgoFields
    closing_message: str = ""
    close_without_message: bool = False


def update_case(db: Session, *, identity: StaffIdentity, ref: str, update_: CaseUpdate,
                settings: Settings, on: date | None = None) -> list[str]:
    """Apply the case page's Save: each part that changed is done and audited as on its own.
    Returns what changed, in words. Closing a case needs a closing message (sent to the
    reporter as a reply) or ``close_without_message``: a reporter should not find their
    concern finished without a word."""
    concern, key = _granted(db, identity, ref)
    case = open_record(concern, key)
    done = []
    closing = update_.status == "closed" and concern.status != "closed"
    message = update_.closing_message.strip()
    if closing and not message and not update_.close_without_message:
        raise ConcernInvalidError(
            "Write a closing message to the reporter, or tick \u201cClose without a message to "
            "the reporter\u201d.", "closing_message")
    if message and not closing:
        raise ConcernInvalidError("A closing message is sent only when you close the case. "
                                  "To write to the reporter, use \u201cReply to the reporter\u201d.",
                                  "closing_message")
    if closing and message:
        reply_to_reporter(db, identity=identity, ref=ref, text=message, on=on)
        done.append("closing message sent to the reporter")
    if update_.status != concern.status:
        change_status(db, identity=identity, ref=ref, status=update_.status, on=on)
        done.append("status changed")
    if update_.assignee_id != concern.assigned_to_id:
        assign(db, identity=identity, ref=ref, assignee_id=update_.assignee_id,
               settings=settings)
        done.append("assignment changed")
    ngo = update_.ngo
    current = (case.ngo.raised or case.identity_mode, frozenset(case.ngo.elements),
               case.ngo.professional_group or case.professional_group or None,
               case.ngo.speak_up_again)
    if (ngo.raised, ngo.elements, ngo.professional_group or None,
            ngo.speak_up_again or None) != current:
        record_ngo(db, identity=identity, ref=ref, fields=ngo)
        done.append("National Guardian's Office record saved")
    return done


def visible_events(db: Session, *, identity: StaffIdentity, limit: int = 200) -> (
        list[audit.AuditEvent]):
    """The newest audit events, leaving out every event about a case this guardian holds no
    grant for (not only its reference: its times, actors and details would date and describe
    it to a guardian the reporter excluded). `audit verify` still checks every row."""
    held = set(db.scalars(select(Concern.ref).join(ConcernGrant)
                          .where(ConcernGrant.staff_id == identity.user.id)))
    return [e for e in audit.recent(db, limit)
            if not (e.target.startswith("case:") and e.target[5:] not in held)]


# --- the National Guardian's Office return --------------------------------------------------


@dataclass(frozen=True)
class NgoReturn:
    """The counts the National Guardian's Office collects for a period: exact (a return to the
    regulator), with the counts below ``small_below`` flagged so the guardian can take care
    where they are shared. No reference, date or per-case row."""

    start: date
    end: date
    cases: int
    counts: tuple[tuple[str, str, int], ...]  # (section, item, count)
    small_below: int

    @property
    def small(self) -> list[tuple[str, str, int]]:
        return [c for c in self.counts if 0 < c[2] < self.small_below]


def ngo_return(db: Session, *, identity: StaffIdentity, start: date, end: date,
               settings: Settings) -> NgoReturn:
    """The NGO return for cases received from ``start`` to ``end`` inclusive, counted from
    the cases themselves, which is why only a guardian who can open every one of them can make
    it: a guardian the reporter excluded from a case learns nothing about it by subtraction.

    Raises :class:`NotAllCasesOpenError` (saying nothing about how many, or which) otherwise.
    """
    if end < start:
        raise ConcernInvalidError("The end date must be on or after the start date.", "end")
    concerns = list(db.scalars(select(Concern).where(Concern.received_on >= start,
                                                     Concern.received_on <= end)))
    held = set(db.scalars(select(ConcernGrant.concern_id).where(
        ConcernGrant.staff_id == identity.user.id)))
    if any(c.id not in held for c in concerns):
        # Audited, so that a guardian probing periods to find a case they were excluded from
        # leaves a trail the others can see.
        audit.record(db, actor=_actor(identity), action="ngo.return-refused",
                     detail=f"{start}..{end}")
        raise NotAllCasesOpenError(
            "This return counts cases that are not open to you, so another guardian must make "
            "it. Ask a guardian who can open every case of the period.")
    tally: Counter[tuple[str, str]] = Counter()
    sections = {"raised": ("anonymous", "confidential", "open"),
                "element": tuple(code for code, _ in NGO_ELEMENTS),
                "professional_group": tuple(code for code, _ in
                                            settings.organisation.professional_groups),
                "speak_up_again": tuple(code for code, _ in SPEAK_UP_AGAIN)}
    for concern in concerns:
        _concern, _key, case = granted_case(db, identity=identity, ref=concern.ref)
        tally["raised", case.ngo.raised or case.identity_mode] += 1
        for element in case.ngo.elements:
            tally["element", element] += 1
        tally["professional_group",
              case.ngo.professional_group or case.professional_group or "not-known"] += 1
        if case.ngo.speak_up_again:
            tally["speak_up_again", case.ngo.speak_up_again] += 1
        tally["status", concern.status] += 1
    sections["professional_group"] = (*sections["professional_group"], *sorted(
        {item for section, item in tally if section == "professional_group"}
        - set(sections["professional_group"])))
    sections["status"] = tuple(code for code, _ in STATUSES)
    counts = tuple((section, item, tally[section, item])
                   for section, items in sections.items() for item in items)
    audit.record(db, actor=_actor(identity), action="ngo.return", detail=f"{start}..{end}")
    return NgoReturn(start, end, len(concerns), counts, settings.min_cell_size)


@dataclass(frozen=True)
class ReportingPeriod:
    """A financial-year quarter or a whole financial year (1 April to 31 March), as the National
    Guardian's Office collects returns."""

    value: str  # "2026-27" (a year) or "2026-27-Q3" (its third quarter)
    label: str
    start: date
    end: date


def reporting_periods(today: date, years: int = 3) -> list[ReportingPeriod]:
    """This financial year and the ``years - 1`` before it, newest first: each year's quarters
    that have started, then the whole year."""
    first = today.year if today.month >= 4 else today.year - 1
    periods = []
    for year in range(first, first - years, -1):
        name = f"{year}-{(year + 1) % 100:02d}"
        starts = [date(year, 4, 1), date(year, 7, 1), date(year, 10, 1), date(year + 1, 1, 1)]
        ends = [date(year, 6, 30), date(year, 9, 30), date(year, 12, 31), date(year + 1, 3, 31)]
        months = ["April to June", "July to September", "October to December",
                  "January to March"]
        for q in range(4, 0, -1):
            if starts[q - 1] <= today:
                periods.append(ReportingPeriod(
                    f"{name}-Q{q}", f"{name} quarter {q} ({months[q - 1]} "
                    f"{starts[q - 1].year})", starts[q - 1], ends[q - 1]))
        periods.append(ReportingPeriod(name, f"{name}: the whole financial year "
                                             f"(April {year} to March {year + 1})",
                                       starts[0], ends[3]))
    return periods


NGO_RETURN_COLUMNS = ("section", "item", "count")


def ngo_return_csv(result: NgoReturn) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(NGO_RETURN_COLUMNS)
    writer.writerow(["period", f"{result.start}..{result.end}", ""])
    writer.writerow(["total", "cases", result.cases])
    for row in result.counts:
        writer.writerow(row)
    return out.getvalue()


# --- maintenance ------------------------------------------------------------------------------


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
        touch_indexes(db, concern)
        db.delete(concern)
    tokens = db.execute(delete(SubmissionToken).where(SubmissionToken.created_on < on))
    purged = PurgeResult(len(old), int(getattr(tokens, "rowcount", 0) or 0))
    audit.record(db, actor=actor, action="purge",
                 detail=f"concerns={purged.concerns} closed before {cutoff}")
    db.flush()
    return purged


# Tables the anonymous side writes to (or whose rows its actions write), with their key column:
# their rows' storage order and (PostgreSQL) transaction ids are re-written by `mix`.
MIXED_TABLES = (("concerns", "id"), ("concern_grants", "id"), ("messages", "id"),
                ("inbox_indexes", "staff_id"),
                ("attachments", "id"), ("submission_tokens", "id"), ("pending_records", "id"),
                ("records", "id"), ("survey_invitation_codes", "id"), ("spent_tokens", "digest"),
                ("rate_counters", "key"))


def mix(db: Session) -> int:
    """Re-write every row of the anonymous side's tables, in random order, in one transaction.

    On PostgreSQL a row's ``xmin`` is the id of the transaction that last wrote it, and ids of
    transactions that wrote audit rows (which carry times) bracket it, so a reporter's write
    (a concern, a message, a settled batch of survey answers or equality facts, a sign-in's
    spent challenge, a counter) could be dated to seconds by a reader of the live database; and
    a table's physical order is the order rows were written, which a pg_dump keeps. After `mix`
    every such row carries the mix's transaction id and sits in random order, so nothing finer
    than the last mix (and the day, which `received_on` and `created_on` state anyway) is left
    to a reader with the application's role. Run it often (the systemd timer runs it hourly,
    and `speakup purge` daily); VACUUM afterwards removes the old row versions from the files.
    Returns the number of rows re-written.

    On SQLite the tables are kept in random-id order already and there are no transaction ids;
    the caller runs `vacuum_sqlite` after committing, which rebuilds the file so that not even
    the order of cells within a page follows the order of writing.

    Not covered (outside what a reader with the application's role sees): PostgreSQL's write-
    ahead log and its archives (point-in-time-recovery backups, replicas) and TOAST tables hold
    commit order and the original transaction ids; see the README's threat model.
    """
    if db.get_bind().dialect.name != "postgresql":
        return 0
    total = 0
    rng = secrets.SystemRandom()
    for table, key in MIXED_TABLES:
        keys = list(db.scalars(text(f"SELECT {key} FROM {table}")))  # noqa: S608 - fixed names
        rng.shuffle(keys)
        for value in keys:
            db.execute(text(f"UPDATE {table} SET {key} = {key} WHERE {key} = :k"),  # noqa: S608
                       {"k": value})
        total += len(keys)
    db.flush()
    return total


def vacuum_sqlite(engine: Engine) -> None:
    """Rebuild a SQLite file (VACUUM, outside any transaction): rows are rewritten in key order,
    so the order in which cells were written within a page is gone too. No-op elsewhere."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
    finally:
        raw.close()
