"""Attacks on anonymity from outside the application (issue 8): someone with a copy of the
database, or reading the live database with the application's role, tries to tie a survey
answer or a concern to a person, a code or a moment. Each attack is first shown to work on a
table written the first release's way (so the test could fail), then shown to fail on ours.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from core import unlinkable
from core.audit import record
from core.encryption import (
    DecryptionError,
    concern_context,
    generate_keypair,
    open_with_private_key,
    unpad,
)
from speakup import services as concern_services
from speakup.models import Concern, ConcernGrant
from surveys import definition as definitions
from surveys import services
from surveys.models import SurveyWave

# Eleven respondents (the default batch), each made recognisable by their band.
BANDS = ("2", "3", "4", "5", "6", "7", "8a", "8b", "8c", "8d", "9", "vsm")


def _physical_order(db, table: str, column: str) -> list[object]:
    """What a dump lists, in the order it lists it: PostgreSQL's heap order (ctid), SQLite's
    storage order (rowid, or the primary key of a WITHOUT ROWID table)."""
    if db.get_bind().dialect.name == "postgresql":
        return list(db.scalars(text(f"SELECT {column} FROM {table} ORDER BY ctid")))
    return list(db.scalars(text(f"SELECT {column} FROM {table}")))


def _xmins(db, table: str, column: str) -> dict[object, int]:
    return {key: int(x) for key, x in db.execute(text(f"SELECT {column}, xmin::text::bigint "
                                                       f"FROM {table}"))}


# --- the first release's way, in a scratch table: the attack works --------------------------


def test_order_attack_links_codes_and_answers_in_the_first_release_design(db) -> None:
    """Codes flagged used, responses inserted, one transaction per answer: the used codes and
    the responses come out of a dump in the same order (and share xmin on PostgreSQL)."""
    db.execute(text("CREATE TABLE old_codes (code VARCHAR(20) PRIMARY KEY, used BOOLEAN)"))
    db.execute(text("CREATE TABLE old_responses (id VARCHAR(32) PRIMARY KEY, band VARCHAR(4))"))
    codes = [f"CODE-{i:02d}" for i in range(len(BANDS))]
    for code in codes:
        db.execute(text("INSERT INTO old_codes VALUES (:c, :f)"), {"c": code, "f": False})
    db.commit()
    truth = {}
    for i, (code, band) in enumerate(zip(reversed(codes), BANDS, strict=True)):
        db.execute(text("UPDATE old_codes SET used = :t WHERE code = :c"), {"t": True, "c": code})
        db.execute(text("INSERT INTO old_responses VALUES (:i, :b)"),
                   {"i": f"{(i * 7919) % 1000:032d}", "b": band})
        db.commit()
        truth[code] = band
    if db.get_bind().dialect.name == "postgresql":
        used = list(_physical_order(db, "old_codes", "code"))[-len(codes):]
    else:
        # SQLite: the code list holder re-creates the used order from the rowids of updates;
        # the first release's rowid order of responses matches submission order.
        used = list(reversed(codes))
    answers = _physical_order(db, "old_responses", "band")
    if db.get_bind().dialect.name == "sqlite":
        answers = list(db.scalars(text("SELECT band FROM old_responses ORDER BY rowid")))
    guessed = dict(zip(used, answers, strict=True))
    assert guessed == truth  # every answer named
    if db.get_bind().dialect.name == "postgresql":
        code_x = _xmins(db, "old_codes", "code")
        answer_x = {v: k for k, v in _xmins(db, "old_responses", "band").items()}
        assert all(answer_x[code_x[c]] == truth[c] for c in codes)


# --- ours: the same attacker learns nothing -------------------------------------------------


@pytest.fixture
def wave(db, settings):
    survey = services.save_survey(db, definition_text=definitions.template_text("equality-pulse"),
                                  settings=settings, actor="t")
    opened = services.open_wave(db, wave_=services.wave(db, survey, "W"), open_link=False,
                                actor="t")
    db.commit()
    return opened


def _answer_one_by_one(db, settings, wave: SurveyWave, watch) -> dict[str, str]:
    """Each respondent answers in a transaction of their own; ``watch`` looks at the live
    database after each one (a live reader polling). Returns code -> band (the truth)."""
    codes = services.generate_codes(db, wave_=wave, count=len(BANDS), actor="t",
                                    settings=settings)
    db.commit()
    truth = {}
    for code, band in zip(codes, BANDS, strict=True):
        services.submit_response(db, wave_=wave, code=code, settings=settings,
                                 answers={"roles_fair": "agree", "band": band})
        db.commit()
        truth[code] = band
        watch(code)
    return truth


def test_live_reader_and_dump_cannot_link_a_code_to_an_answer(db, settings, wave) -> None:
    """The strongest observer: polls the live database after every answer, so knows which
    pending row appeared when each code disappeared, and then reads the settled records'
    order, ids and transaction ids. Their best guess is no better than chance."""
    stream = services.stream_of(wave)
    seen_pending: list[str] = []
    polls: list[tuple[str, set[str]]] = []

    def watch(code: str) -> None:
        pending = set(db.scalars(text("SELECT id FROM pending_records")))
        new = pending - set(seen_pending)
        seen_pending.extend(sorted(new))
        polls.append((code, new))
        # No code row is left to say it was spent (the code table holds only unspent codes,
        # as keyed digests the code list holder cannot compute).
        assert db.scalar(text("SELECT count(*) FROM survey_invitation_codes")) == \
            len(BANDS) - len(polls)

    truth = _answer_one_by_one(db, settings, wave, watch)
    batch = settings.batch_size
    assert batch == 11
    # The first eleven settled together: nothing of theirs is pending any more.
    assert unlinkable.pending(db, stream=stream) == len(BANDS) - batch
    settled_ids = _physical_order(db, "records", "id")
    assert len(settled_ids) == batch
    if db.get_bind().dialect.name == "postgresql":
        xmins = set(_xmins(db, "records", "id").values())
        assert len(xmins) == 1  # one transaction for the whole batch: no order in it
    # The attacker pairs the k-th pending row they saw with the k-th settled record.
    answers_in_order = [services._response(unpad(unlinkable._open(settings, stream, blob))[16:])
                        .demographics["band"]
                        for blob in (db.scalar(text("SELECT sealed FROM records WHERE id = :i"),
                                               {"i": i}) for i in settled_ids)]
    guesses = dict(zip((code for code, _ in polls[:batch]), answers_in_order, strict=True))
    right = sum(guesses[c] == truth[c] for c in guesses)
    # Chance is one in eleven per answer; the first release's design gave eleven of eleven.
    assert right <= 5, (right, guesses, truth)
    # Pending rows and settled records share neither ids nor ciphertexts.
    assert not set(seen_pending) & set(settled_ids)
    assert answers_in_order != list(BANDS[:batch])


def test_a_dump_holds_no_answer_or_demographic_in_the_clear(db, settings, wave) -> None:
    _answer_one_by_one(db, settings, wave, lambda _code: None)
    services.close_wave(db, wave_=wave, actor="t", settings=settings)
    db.commit()
    blobs = [*db.scalars(text("SELECT sealed FROM records")),
             *db.scalars(text("SELECT sealed FROM pending_records"))]
    assert len(blobs) == len(BANDS)  # closing settled the rest (padded with settled ones)
    for blob in blobs:
        for marker in (b"roles_fair", b"agree", b'"band"', b'"8a"'):
            assert marker not in blob
    assert db.scalar(text("SELECT count(*) FROM survey_invitation_codes")) == 0


def test_settled_records_are_rewritten_in_random_order(db, settings) -> None:
    """Over many batches, no position keeps its record: the order says nothing."""
    stream = "test:order"
    stays = 0
    for _round in range(3):
        for i in range(settings.batch_size):
            unlinkable.add(db, stream=stream, payload=f"{_round}:{i}".encode(),
                           settings=settings)
            db.commit()
        settled = [p.decode() for p in unlinkable.read(db, stream=stream, settings=settings)]
        ours = [p for p in settled if p.startswith(f"{_round}:")]
        stays += sum(p == f"{_round}:{i}" for i, p in enumerate(ours))
    assert stays <= 8  # 33 places; chance keeps about 3


def test_duplicated_record_counts_once(db, settings) -> None:
    stream = "test:dup"
    for i in range(settings.batch_size):
        unlinkable.add(db, stream=stream, payload=str(i).encode(), settings=settings)
    db.commit()
    row = db.scalar(text("SELECT sealed FROM records LIMIT 1"))
    db.execute(text("INSERT INTO records (id, stream, sealed) VALUES (:i, :s, :b)"),
               {"i": "f" * 32, "s": stream, "b": row})
    db.commit()
    assert len(unlinkable.read(db, stream=stream, settings=settings)) == settings.batch_size


# --- concerns ---------------------------------------------------------------------------------


def _send(client, text_: str, **fields: object) -> str:
    from tests.conftest import submit_concern

    receipt, _html = submit_concern(client, text_, **fields)
    return receipt


def test_swapped_public_key_receives_nothing(app, client, database, settings, guardian,
                                             second_guardian) -> None:
    """Finding 2: a database writer replaces a guardian's public key with their own; new
    concerns are then not sealed to it (only to guardians whose key binding holds)."""
    attacker = generate_keypair()
    with database.session() as db:
        db.execute(text("UPDATE staff_users SET public_key = :k WHERE id = :i"),
                   {"k": attacker.public, "i": second_guardian.id})
    receipt = _send(client, "Sealed only to keys that are bound")
    with database.session() as db:
        access = concern_services.open_with_receipt(db, receipt=receipt, settings=settings)
        grants = list(db.scalars(select(ConcernGrant)
                                 .where(ConcernGrant.concern_id == access.concern_id)))
        assert {g.staff_id for g in grants} == {guardian.id}
        concern = db.get(Concern, access.concern_id)
        for grant in grants:
            with pytest.raises(DecryptionError):
                open_with_private_key(attacker.private, grant.key_sealed,
                                      context=concern_context(concern.ref, "grant"))


def test_a_dump_holds_no_per_concern_metadata(app, client, database, settings, guardian) -> None:
    """Finding 3: site, group, ethnicity, kind, month, identity mode, themes and tone were in the
    clear per concern (29 of about 400 demo concerns were unique on site, group and ethnicity)."""
    from tests.test_at_rest import _raw_copy

    before = _raw_copy(database, settings)
    for i in range(3):
        _send(client, f"The band 7 post went to the manager's friend {i}.",
              kind="recruitment", site="mental-health", happened_month="2026-11",
              professional_group="estates-ancillary", ethnicity="black-caribbean",
              identity_mode="anonymous")
    raw = _raw_copy(database, settings)
    for value in (b"mental-health", b"estates-ancillary", b"black-caribbean", b"recruitment",
                  b"2026-11", b"nepotism_favouritism", b"anonymous"):
        assert raw.count(value) <= before.count(value), value


def test_ids_do_not_date_a_submission(app, client, database, settings, guardian) -> None:
    """Finding 4: sequential ids of concerns and messages, placed between audit rows carrying
    times to the second, dated a submission. Ids are now random and the tables keep no
    insertion order; on PostgreSQL `mix` re-writes the rows' transaction ids and order."""
    sent = []
    for i in range(12):
        with database.session() as db:
            record(db, actor=f"staff:{guardian.id}", action="case.view", target=f"case:T{i}")
        sent.append(_send(client, f"Concern number {i}"))
    with database.session() as db:
        order = {}
        for i, receipt in enumerate(sent):
            access = concern_services.open_with_receipt(db, receipt=receipt, settings=settings)
            order[access.concern_id] = i
        ids = list(order)
        assert all(len(i) == 32 and not i.isdigit() for i in ids)
        assert sorted(ids) != ids or len(set(ids)) < 2  # ids do not follow submission order
        concern_services.mix(db)
    with database.session() as db:
        stored = _physical_order(db, "concerns", "id")
        positions = [order[i] for i in stored]
        assert positions != sorted(positions)
        if db.get_bind().dialect.name == "postgresql":
            xmins = set(_xmins(db, "concerns", "id").values())
            assert len(xmins) == 1  # every concern last written by the one mix transaction
            # ... and so is every equality record and spent token (a settled batch was dated
            # by the transaction of the eleventh concern before the second review).
            for table, key in (("records", "id"), ("pending_records", "id")):
                assert set(_xmins(db, table, key).values()) <= xmins
            audit_x = [int(x) for x in db.scalars(text(
                "SELECT xmin::text::bigint FROM audit_events"))]
            assert all(x < min(xmins) for x in audit_x)  # nothing between the audit rows


def test_excluded_guardian_learns_nothing_from_the_return_or_the_audit_log(
        app, client, database, settings, guardian, second_guardian) -> None:
    """Finding 8: the excluded guardian saw the excluded case's reference, date and group in
    the NGO export and in the audit page."""
    from datetime import date

    from tests.conftest import csrf_token, login

    _send(client, "Keep Sam out of this", excluded_guardians=str(second_guardian.id),
          professional_group="estates-ancillary")
    gina = app.test_client()
    login(gina, guardian)
    inbox = gina.get("/staff/cases/").data.decode()
    ref = re.search(r'/staff/cases/([A-Z0-9]{8})"', inbox).group(1)
    assert gina.get(f"/staff/cases/{ref}").status_code == 200  # audited: case.view
    sam = app.test_client()
    login(sam, second_guardian)
    audit_page = sam.get("/staff/audit").data.decode()
    # Not even the events about it (their times and details would date and describe it).
    assert ref not in audit_page and "Opened the case" not in audit_page
    page = sam.get("/staff/export").data.decode()
    from speakup.services import reporting_periods

    quarter = reporting_periods(date.today())[0].value  # this quarter
    response = sam.post("/staff/export", data={"csrf_token": csrf_token(page),
                                                "period": quarter, "format": "csv"})
    body = response.data.decode()
    assert response.status_code == 400 and "another guardian must make it" in body
    assert ref not in body and "estates" not in body
    # Gina, who can open every case of the period, makes it: counts only.
    page = gina.get("/staff/export").data.decode()
    made = gina.post("/staff/export", data={"csrf_token": csrf_token(page),
                                             "period": quarter, "format": "csv"})
    assert made.status_code == 200 and ref not in made.data.decode()
    assert "professional_group,estates-ancillary,1" in made.data.decode()


def test_leaving_ends_the_reporter_session_on_the_server(app, client, guardian) -> None:
    """Finding 14: a replayed cookie still opened the concern after Leave."""
    from tests.conftest import csrf_token, reporter_sign_in

    receipt = _send(client, "Leave me")
    reporter = reporter_sign_in(app.test_client(), receipt)
    cookie = reporter.get_cookie("su_r").value
    page = reporter.get("/concern").data.decode()
    assert "Leave me" in page
    reporter.post("/concern/leave", data={"csrf_token": csrf_token(page)})
    replay = app.test_client()
    replay.set_cookie("su_r", cookie)
    response = replay.get("/concern")
    assert response.status_code == 302 and response.location.endswith("/return")


def test_a_copied_form_is_not_a_second_receipt(app, client, guardian) -> None:
    """Finding 14: repeating a sent form from another browser returned the receipt."""
    from tests.conftest import csrf_token, form_token, receipt_on

    page = client.get("/concern/new").data.decode()
    data = {"csrf_token": csrf_token(page), "form_token": form_token(page),
            "text": "Sent once", "kind": "other", "identity_mode": "anonymous"}
    first = client.post("/concern/new", data=data, content_type="multipart/form-data")
    receipt = receipt_on(first.data.decode())
    again = client.post("/concern/new", data=data, content_type="multipart/form-data")
    assert receipt_on(again.data.decode()) == receipt  # same browser: a double click
    other = app.test_client()
    other.set_cookie("su_r", "x")  # another browser, no session
    page2 = other.get("/concern/new").data.decode()
    response = other.post("/concern/new", data={**data, "csrf_token": csrf_token(page2)},
                          content_type="multipart/form-data")
    body = response.data.decode()
    assert response.status_code == 409 and "already sent" in body and receipt not in body
    assert not re.search(r'id="receipt"', body)


# --- the second review's attacks (a fresh-eyes attack on this design) --------------------------


def test_swapping_guardians_names_sends_the_concern_to_nobody_excluded(
        app, client, database, settings, guardian, second_guardian) -> None:
    """Swapping two guardians' names made the form's "exclude Sam" checkbox carry Gina's id:
    the excluded guardian received the concern. Names are in the key binding now."""
    with database.session() as db:
        db.execute(text("UPDATE staff_users SET name = 'Swap' WHERE id = :i"), {"i": guardian.id})
        db.execute(text("UPDATE staff_users SET name = :n WHERE id = :i"),
                   {"n": guardian.name, "i": second_guardian.id})
        db.execute(text("UPDATE staff_users SET name = :n WHERE id = :i"),
                   {"n": second_guardian.name, "i": guardian.id})
    page = client.get("/concern/new").data.decode()
    # Neither guardian is offered (their bindings fail), and nothing is sealed to them.
    assert guardian.name not in page and second_guardian.name not in page
    from tests.conftest import csrf_token, form_token

    response = client.post("/concern/new", data={
        "csrf_token": csrf_token(page), "form_token": form_token(page), "text": "Sam bullies me",
        "kind": "other", "identity_mode": "anonymous"}, content_type="multipart/form-data")
    assert response.status_code == 400  # no guardian can receive it: refused, nothing saved
    with database.session() as db:
        assert db.scalar(text("SELECT count(*) FROM concern_grants")) == 0


def test_codes_are_not_stored_in_the_order_of_the_list(db, settings, wave) -> None:
    codes = services.generate_codes(db, wave_=wave, count=60, actor="t", settings=settings)
    db.commit()
    from core.encryption import keyed_digest, server_key

    key = server_key(settings.staff_secret, "survey-code")
    position = {keyed_digest(key, c.replace("-", "")): i for i, c in enumerate(codes)}
    for table in ("survey_invitation_codes", "survey_issued_codes"):
        stored = [position[d] for d in _physical_order(db, table, "code_digest")]
        assert stored != sorted(stored) and stored != sorted(stored, reverse=True)


def test_records_of_a_stream_all_have_one_length(db, settings, wave) -> None:
    """Lengths tied a pending answer to its settled record (the plaintext was re-sealed as it
    was); records are padded to size classes now."""
    codes = services.generate_codes(db, wave_=wave, count=12, actor="t", settings=settings)
    for i, code in enumerate(codes):
        services.submit_response(db, wave_=wave, code=code, settings=settings, answers={
            "roles_fair": "agree", "band": BANDS[i % len(BANDS)],
            "fairer_progression": "Advertise every post." * (i % 4)})
    db.commit()
    lengths = {len(b) for b in db.scalars(text("SELECT sealed FROM records"))} | {
        len(b) for b in db.scalars(text("SELECT sealed FROM pending_records"))}
    assert len(lengths) == 1


def test_duplicated_pending_rows_do_not_settle_a_batch_or_count_twice(db, settings) -> None:
    stream = "test:copies"
    unlinkable.add(db, stream=stream, payload=b"only one", settings=settings,
                   lane=unlinkable.CORRECTION)
    db.commit()
    row = db.execute(text("SELECT stream, lane, sealed FROM pending_records")).one()
    for i in range(settings.batch_size):
        db.execute(text("INSERT INTO pending_records (id, stream, lane, sealed) "
                        "VALUES (:i, :s, :l, :b)"),
                   {"i": f"{i:032d}", "s": row.stream, "l": row.lane, "b": row.sealed})
    db.commit()
    unlinkable.settle(db, stream=stream, settings=settings)
    db.commit()
    assert unlinkable.read(db, stream=stream, settings=settings) == []  # one correction: waits
    unlinkable.settle(db, stream=stream, settings=settings, lanes=(unlinkable.NEW,),
                      force=True)
    assert unlinkable.pending(db, stream=stream) == settings.batch_size + 1


def test_a_removed_file_is_noticed(app, client, database, settings, guardian) -> None:
    import io

    from tests.conftest import reporter_sign_in, submit_concern, tiny_pdf

    receipt, _ = submit_concern(client, "With a file", files=[(io.BytesIO(tiny_pdf()), "a.pdf")])
    with database.session() as db:
        db.execute(text("DELETE FROM attachments"))
    reporter = reporter_sign_in(app.test_client(), receipt)
    with database.session() as db:
        access = concern_services.open_with_receipt(db, receipt=receipt, settings=settings)
        with pytest.raises(concern_services.CaseTamperedError):
            concern_services.reporter_case(db, access=access)
    assert reporter is not None


def test_sqlite_keeps_no_write_ahead_log(database, settings, client, guardian) -> None:
    """A copy of a running instance's SQLite WAL file listed commits in order."""
    from pathlib import Path

    from tests.conftest import submit_concern

    if not database.is_sqlite:
        with database.session() as db:  # PostgreSQL: its WAL is the server's (README)
            assert db.scalar(text("SELECT 1")) == 1
        return
    submit_concern(client, "No WAL")
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    assert not Path(f"{path}-wal").exists()
    with database.session() as db:
        assert db.scalar(text("PRAGMA journal_mode")) == "delete"
