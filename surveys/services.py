"""Pulse surveys: definitions, waves, invitation codes, unlinkable responses, import.

Results are in :mod:`surveys.results`, which puts every figure through the one
disclosure-control module, :mod:`analysis.disclosure`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from accounts import orgkeys
from config.settings import Settings
from config.vocabulary import PREFER_NOT_TO_SAY
from core import audit, unlinkable
from core.db import today
from core.encryption import keyed_digest, new_id, pad, server_key, token_digest, unpad
from core.themes import engine as theme_engine
from surveys.definition import DefinitionError, SurveyDefinition, parse_definition
from surveys.models import DEMOGRAPHIC_COLUMNS, InvitationCode, IssuedCode, Survey, SurveyWave

CODE_GROUPS = 3

class SurveyError(Exception):
    """Root of survey errors; the message is written for the person who caused it."""


class SurveyNotFoundError(SurveyError):
    pass


class SurveyClosedError(SurveyError):
    pass


class CodeError(SurveyError):
    """Unknown, used or malformed invitation code (one message for all three)."""


class AnswerError(SurveyError):
    """An answer outside what the question allows; ``field`` names the question."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ImportRowError:
    line: int
    message: str


class ImportRowsError(SurveyError):
    """Some rows of an import are invalid; nothing was imported."""

    def __init__(self, errors: list[ImportRowError]) -> None:
        super().__init__(f"{len(errors)} invalid row(s); nothing was imported")
        self.errors = errors


def definition_of(survey: Survey, settings: Settings) -> SurveyDefinition:
    return parse_definition(survey.definition, directorates=settings.organisation.directorates)


def find_survey(db: Session, key: str | int) -> Survey:
    """A survey by numeric id or by slug."""
    survey = None
    if isinstance(key, int) or str(key).isdigit():
        survey = db.get(Survey, int(key))
    if survey is None:
        survey = db.scalar(select(Survey).where(Survey.slug == str(key)))
    if survey is None:
        raise SurveyNotFoundError(f"No survey {key!r}.")
    return survey


def save_survey(db: Session, *, definition_text: str, settings: Settings,
                actor: str) -> Survey:
    """Create the survey the definition names, or update its definition.

    Question ids that already have answers cannot be removed or change kind.
    """
    definition = parse_definition(definition_text, directorates=settings.organisation.directorates)
    survey = db.scalar(select(Survey).where(Survey.slug == definition.id))
    if survey is None:
        survey = Survey(slug=definition.id, title=definition.title, definition=definition_text)
        db.add(survey)
        db.flush()
        audit.record(db, actor=actor, action="survey.create", target=f"survey:{survey.id}")
        return survey
    old = definition_of(survey, settings)
    answered = {qid for w in survey.waves for r in wave_responses(db, wave_=w, settings=settings)
                for qid in (*r.answers, *(c.question for c in r.comments))}
    for q in old.questions:
        if q.id in answered:
            try:
                new_q = definition.question(q.id)
            except KeyError as e:
                raise DefinitionError(f"question {q.id} already has answers; keep it") from e
            if new_q.kind != q.kind or not set(q.option_ids) <= set(new_q.option_ids):
                raise DefinitionError(f"question {q.id} already has answers; keep its kind "
                                      "and options")
    survey.title = definition.title
    survey.definition = definition_text
    audit.record(db, actor=actor, action="survey.update", target=f"survey:{survey.id}")
    db.flush()
    return survey


def wave(db: Session, survey: Survey, label: str) -> SurveyWave:
    """The wave of ``survey`` with ``label``, created (as a draft) if it does not exist."""
    label = "".join(ch for ch in label if ch.isprintable()).strip()[:40] or "Wave 1"
    found = db.scalar(select(SurveyWave).where(SurveyWave.survey_id == survey.id,
                                               SurveyWave.label == label))
    if found is None:
        found = SurveyWave(survey_id=survey.id, label=label, status="draft")
        db.add(found)
        db.flush()
    return found


def open_wave(db: Session, *, wave_: SurveyWave, open_link: bool, actor: str) -> SurveyWave:
    if wave_.status == "closed":
        raise SurveyClosedError("This wave has closed; start a new wave instead.")
    wave_.status = "open"
    wave_.opened_on = wave_.opened_on or today()
    if open_link and wave_.open_link is None:
        wave_.open_link = secrets.token_urlsafe(18)
    audit.record(db, actor=actor, action="survey.open", target=f"wave:{wave_.id}")
    db.flush()
    return wave_


def close_wave(db: Session, *, wave_: SurveyWave, actor: str, settings: Settings) -> SurveyWave:
    """Close a wave: its last pending responses settle (in a batch padded with settled ones)
    and its unspent codes are deleted, so the database no longer says who did not answer."""
    wave_.status = "closed"
    wave_.closed_on = today()
    wave_.open_link = None
    unlinkable.settle(db, stream=stream_of(wave_), settings=settings, force=True)
    db.execute(delete(InvitationCode).where(InvitationCode.wave_id == wave_.id))
    db.execute(delete(IssuedCode).where(IssuedCode.wave_id == wave_.id))
    audit.record(db, actor=actor, action="survey.close", target=f"wave:{wave_.id}")
    db.flush()
    return wave_


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _code_key(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, "survey-code")


def _code_rows(code: str, settings: Settings,
               table: type[InvitationCode] | type[IssuedCode] = InvitationCode) -> (
        ColumnElement[bool]):
    """The condition matching ``code``'s row: its keyed digest, or (codes issued by the first
    release) its plain SHA-256 digest."""
    normal = _normalise_code(code)
    return or_(table.code_digest == keyed_digest(_code_key(settings), normal),
               (table.code_digest == token_digest(normal)) & table.keyed.is_(False))


def generate_codes(db: Session, *, wave_: SurveyWave, count: int, actor: str,
                   settings: Settings) -> list[str]:
    """``count`` new single-use codes (60 bits each), returned once and stored as keyed
    digests."""
    if not 1 <= count <= 100_000:
        raise SurveyError("Ask for between 1 and 100,000 codes.")
    if wave_.status == "closed":
        raise SurveyClosedError("This wave has closed; start a new wave instead.")
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(10)).decode()[: 4 * CODE_GROUPS]
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    key = _code_key(settings)
    # Stored in an order unrelated to the list handed out (a table's storage order is the
    # order rows were written): nothing ties a row to a line of the mail merge.
    stored = list(codes)
    secrets.SystemRandom().shuffle(stored)
    digests = [keyed_digest(key, _normalise_code(c)) for c in stored]
    # Core bulk inserts (executemany), not ORM objects: 5,000 codes in well under a second
    # (bench/survey_codes.py).
    db.execute(insert(InvitationCode.__table__), [
        {"id": new_id(), "wave_id": wave_.id, "code_digest": d, "keyed": True} for d in digests])
    secrets.SystemRandom().shuffle(digests)
    db.execute(insert(IssuedCode.__table__), [
        {"id": new_id(), "wave_id": wave_.id, "code_digest": d, "keyed": True} for d in digests])
    wave_.codes_issued = (wave_.codes_issued or 0) + count
    audit.record(db, actor=actor, action="survey.codes", target=f"wave:{wave_.id}",
                 detail=str(count))
    db.flush()
    return codes


def check_code(db: Session, *, wave_: SurveyWave, code: str, settings: Settings) -> None:
    """Raise :class:`CodeError` unless ``code`` is an unused code of this wave."""
    found = db.scalar(select(InvitationCode).where(_code_rows(code, settings),
                                                   InvitationCode.wave_id == wave_.id))
    if found is None:
        raise CodeError("That code is not right, or it has already been used.")


def wave_for_code(db: Session, code: str, settings: Settings) -> SurveyWave:
    """The open wave a code was issued for, spent or not (see `IssuedCode`: entering a code
    never tells whether it was used). Raises :class:`CodeError` or SurveyClosedError."""
    found = db.scalar(select(IssuedCode).where(_code_rows(code, settings, IssuedCode)))
    if found is None:
        raise CodeError("That code is not right. Check it against your invitation.")
    wave_ = db.get(SurveyWave, found.wave_id)
    if wave_ is None or wave_.status != "open":
        raise SurveyClosedError("This survey is not open at the moment.")
    return wave_


_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def wave_for_link(db: Session, token: str) -> SurveyWave:
    if not _LINK_TOKEN.match(token):
        raise SurveyClosedError("This survey link is not open at the moment.")
    wave_ = db.scalar(select(SurveyWave).where(SurveyWave.open_link == token))
    if wave_ is None or wave_.status != "open":
        raise SurveyClosedError("This survey link is not open at the moment.")
    return wave_


def validate_answers(definition: SurveyDefinition, answers: Mapping[str, object]) -> (
    dict[str, object]
):
    """Check every answer against its question; unknown keys are refused.

    Values: a str option id (single-choice kinds and demographics), a list of option ids
    (multiple), a str (text). Empty values mean "not answered".
    """
    clean: dict[str, object] = {}
    allowed_keys = {q.id for q in definition.questions} | {d.id for d in definition.demographics}
    for key in answers:
        if key not in allowed_keys:
            raise AnswerError(f"There is no question {key!r} in this survey.", key)
    for d in definition.demographics:
        value = answers.get(d.id)
        if value in (None, ""):
            continue
        if value not in {o for o, _ in d.options} | {PREFER_NOT_TO_SAY[0]}:
            raise AnswerError("Choose one of the options given.", d.id)
        clean[d.id] = value
    for q in definition.questions:
        value = answers.get(q.id)
        if value in (None, "", []):
            continue
        if q.kind == "text":
            if not isinstance(value, str):
                raise AnswerError("Write your answer as text.", q.id)
            if len(value) > q.max_length:
                raise AnswerError(f"Keep it under {q.max_length:,} characters.", q.id)
            if value.strip():
                clean[q.id] = value.strip()
        elif q.kind == "multiple":
            values = value if isinstance(value, list) else [value]
            if any(v not in q.option_ids for v in values) or len(set(values)) != len(values):
                raise AnswerError("Choose from the options given.", q.id)
            clean[q.id] = list(values)
        else:
            if value not in q.option_ids:
                raise AnswerError("Choose one of the options given.", q.id)
            clean[q.id] = value
    return clean


def _comment_tags(db: Session, text: str, settings: Settings) -> tuple[list[str], float | None]:
    """Theme ids (never the words that matched) and tone (one decimal) of a free-text answer;
    no themes and no tone for empty or non-English text.

    Never raises: an answer must be stored even if the theme engine fails, so it is then
    stored untagged. Nothing is logged: this runs for an anonymous respondent.
    """
    try:
        tagged = theme_engine(db, settings).tag(text)
    except Exception:  # any failure: tagging must never make a submission fail
        return [], None
    if not tagged.english:
        return [], None
    return [hit.theme for hit in tagged.themes], round(tagged.tone, 1)


# --- responses --------------------------------------------------------------------------------


def stream_of(wave_: SurveyWave) -> str:
    """The unlinkable-record stream holding a wave's responses."""
    return f"survey:{wave_.id}"


@dataclass(frozen=True)
class Comment:
    """A free-text answer: its themes and tone in the clear (inside the sealed response), its
    text sealed to the analysis key (open it with :func:`comment_text`)."""

    question: str
    themes: tuple[str, ...]
    tone: float | None
    text_sealed: bytes


@dataclass(frozen=True)
class Response:
    """One person's answers to one wave, as settled (no id, no time, no order)."""

    demographics: Mapping[str, str]
    answers: Mapping[str, tuple[str, ...]]
    comments: tuple[Comment, ...]


_COMMENT_PURPOSE = "survey-comment"


def comment_text(comment: Comment, analysis_private: bytes) -> str:
    """A comment's text, opened with the analysis private key (an EDI lead's session)."""
    return unpad(orgkeys.open_for_analysis(analysis_private, comment.text_sealed,
                                           purpose=_COMMENT_PURPOSE)).decode()


def _payload(db: Session, *, definition: SurveyDefinition, answers: Mapping[str, object],
             settings: Settings) -> bytes:
    demographics = {c: v for c in DEMOGRAPHIC_COLUMNS
                    if isinstance(v := answers.get(c), str)}
    chosen: dict[str, list[str]] = {}
    comments = []
    for q in definition.questions:
        value = answers.get(q.id)
        if value is None:
            continue
        if q.kind == "text" and isinstance(value, str):
            themes, tone = _comment_tags(db, value, settings)
            sealed = orgkeys.seal_for_analysis(db, settings, pad(value.encode()),
                                               purpose=_COMMENT_PURPOSE)
            comments.append({"q": q.id, "t": themes, "tone": tone,
                             "x": base64.b64encode(sealed).decode()})
        else:
            chosen[q.id] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return json.dumps({"d": demographics, "a": chosen, "c": comments},
                      separators=(",", ":")).encode()


def _response(payload: bytes) -> Response:
    data = json.loads(payload)
    return Response(
        demographics=dict(data["d"]),
        answers={q: tuple(v) for q, v in data["a"].items()},
        comments=tuple(Comment(c["q"], tuple(c["t"]), c["tone"], base64.b64decode(c["x"]))
                       for c in data["c"]))


_responses_cache: OrderedDict[tuple[object, ...], tuple[Response, ...]] = OrderedDict()
_responses_lock = threading.Lock()


def wave_responses(db: Session, *, wave_: SurveyWave, settings: Settings) -> tuple[Response, ...]:
    """The settled responses of a wave, opened (cached per wave and response count: settled
    records only change when more settle)."""
    stream = stream_of(wave_)
    count = unlinkable.counts(db, streams=[stream])[stream]
    key = (str(db.get_bind().url), stream, count, settings.staff_secret)
    with _responses_lock:
        if key in _responses_cache:
            _responses_cache.move_to_end(key)
            return _responses_cache[key]
    found = tuple(_response(p) for p in unlinkable.read(db, stream=stream, settings=settings))
    with _responses_lock:
        _responses_cache[key] = found
        while len(_responses_cache) > 64:
            _responses_cache.popitem(last=False)
    return found


def response_counts(db: Session, waves: Sequence[SurveyWave]) -> dict[int, int]:
    """Settled responses per wave."""
    found = unlinkable.counts(db, streams=[stream_of(w) for w in waves])
    return {w.id: found[stream_of(w)] for w in waves}


def submit_response(db: Session, *, wave_: SurveyWave, code: str | None,
                    answers: Mapping[str, object], settings: Settings) -> None:
    """Store one response unlinkably, spending the invitation code in the same transaction.

    The code's row is deleted with a conditional DELETE, so of two concurrent submissions with
    one code exactly one succeeds (the other raises :class:`CodeError` and stores nothing). The
    response is a pending unlinkable record (see `core.unlinkable`), settled with at least
    ``settings.batch_size`` others. Without a code the wave must have an open link.
    """
    if wave_.status != "open":
        raise SurveyClosedError("This survey has closed. Thank you for your time.")
    definition = definition_of(wave_.survey, settings)
    clean = validate_answers(definition, answers)
    if not any(q.id in clean for q in definition.questions):
        # Only "about you" answers (or none) would be an empty response that still counts.
        raise AnswerError("Answer at least one question before sending. Every question is "
                          "optional, but an empty response tells us nothing.",
                          definition.questions[0].id)
    if code is None:
        if wave_.open_link is None:
            raise CodeError("This survey needs an invitation code.")
    else:
        result = db.execute(delete(InvitationCode).where(_code_rows(code, settings),
                                                         InvitationCode.wave_id == wave_.id))
        if getattr(result, "rowcount", 0) != 1:
            raise CodeError("That code is not right, or it has already been used.")
    unlinkable.add(db, stream=stream_of(wave_), settings=settings,
                   payload=_payload(db, definition=definition, answers=clean, settings=settings))


def codes_left(db: Session, wave_: SurveyWave) -> int:
    return int(db.scalar(select(func.count()).select_from(InvitationCode)
                         .where(InvitationCode.wave_id == wave_.id)) or 0)


def import_responses(db: Session, *, survey: Survey, csv_text: str, wave_label: str,
                     settings: Settings, actor: str) -> int:
    """Import a CSV whose columns are question ids (answers as option ids).

    Multiple-choice answers are separated by ``|``. A ``wave`` column, if present, names each
    row's wave; otherwise ``wave_label``. A wave that was never opened is closed by the import
    (its answers are all in); an open wave is refused. Every row is checked first: if any is invalid,
    :class:`ImportRowsError` lists them by line number and nothing is imported.
    """
    definition = definition_of(survey, settings)
    reader = csv.DictReader(io.StringIO(csv_text))
    known = {q.id for q in definition.questions} | {d.id for d in definition.demographics} | {
        "wave"}
    unknown = [c for c in (reader.fieldnames or []) if c not in known]
    if not reader.fieldnames:
        raise ImportRowsError([ImportRowError(1, "the file has no header row")])
    if unknown:
        raise ImportRowsError([ImportRowError(1, "unknown column(s): " + ", ".join(unknown))])
    multiple = {q.id for q in definition.questions if q.kind == "multiple"}
    parsed: list[tuple[str, dict[str, object]]] = []
    errors: list[ImportRowError] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append(ImportRowError(line, "more values than columns"))
            continue
        raw: dict[str, object] = {}
        for key, value in row.items():
            if key == "wave" or value is None:
                continue
            value = value.strip()
            raw[key] = [v for v in value.split("|") if v] if key in multiple else value
        try:
            parsed.append((row.get("wave") or wave_label, validate_answers(definition, raw)))
        except AnswerError as e:
            errors.append(ImportRowError(line, f"{e.field}: {e}"))
    if errors:
        raise ImportRowsError(errors)
    by_wave: dict[str, list[bytes]] = {}
    for label, answers in parsed:
        by_wave.setdefault(label, []).append(
            _payload(db, definition=definition, answers=answers, settings=settings))
    targets = {label: wave(db, survey, label) for label in by_wave}
    for label, target in targets.items():
        if target.status == "open":
            raise SurveyError(f"Wave {label!r} is open: close it before importing into it.")
    for label, payloads in by_wave.items():
        target = targets[label]
        unlinkable.add_many(db, stream=stream_of(target), payloads=payloads, settings=settings)
        if target.status == "draft":
            # Imported answers are a finished wave: it takes no more answers, and its
            # results are published (a draft would read as a wave still to run).
            target.status = "closed"
            target.closed_on = today()
    audit.record(db, actor=actor, action="survey.import", target=f"survey:{survey.id}",
                 detail=f"rows={len(parsed)}")
    db.flush()
    return len(parsed)

