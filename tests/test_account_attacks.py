"""Attacks on staff accounts (issue 8, findings 2, 7 and 9): each reproduces what an outside
review did to the first release and checks it no longer works."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import text

from accounts import services as accounts
from accounts.keys import KeyBindingError, sealable_public_key
from accounts.models import StaffUser
from core import encryption
from core.db import utcnow
from tests.conftest import PASSWORD, Staff
from tests.inbox_helpers import inbox_cases


def _parallel(n: int, attempt: Callable[[], object]) -> list[object]:
    """Run ``attempt`` in ``n`` threads started together; each result or exception."""
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt()
        except BaseException as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _login(database, settings, staff: Staff, code: str) -> Callable[[], object]:
    def attempt() -> object:
        with database.session() as db:
            user, _private = accounts.authenticate(db, email=staff.email, password=staff.password,
                                                   code=code, settings=settings)
            return user.id
    return attempt


def test_forty_parallel_wrong_codes_are_checked_at_most_threshold_times(
        database, settings, guardian: Staff, monkeypatch) -> None:
    checked: list[int] = []
    real = accounts._totp_counter

    def counting(*args, **kwargs):
        checked.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(accounts, "_totp_counter", counting)
    results = _parallel(40, _login(database, settings, guardian, "000000"))
    refused = (accounts.LoginError, accounts.AccountLockedError)
    assert all(isinstance(r, refused) for r in results), {type(r).__name__ for r in results}
    assert 1 <= len(checked) <= settings.lockout_threshold
    assert sum(isinstance(r, accounts.AccountLockedError) for r in results) >= 40 - len(checked)
    # Locked now, even with the right code.
    with pytest.raises(accounts.AccountLockedError):
        _login(database, settings, guardian, guardian.code())()


def test_one_totp_code_signs_in_once_across_parallel_logins(database, settings,
                                                            guardian: Staff) -> None:
    code = pyotp.TOTP(guardian.totp_secret).at(utcnow())
    results = _parallel(6, _login(database, settings, guardian, code))
    assert sum(isinstance(r, int) for r in results) == 1
    # The others are refused: the code is spent, or (attempts being counted before they are
    # checked) six at once reach the lockout threshold of five.
    assert all(isinstance(r, int | accounts.LoginError | accounts.AccountLockedError)
               for r in results), {type(r).__name__ for r in results}


def test_stolen_database_cannot_test_password_guesses(db, settings, guardian: Staff) -> None:
    """The verifier is Argon2id over HMAC(pepper, password): the right password alone, without
    the server secret, does not reproduce it."""
    user = db.get(StaffUser, guardian.id)
    assert user.password_kdf == "peppered"
    no_pepper = encryption.derive_password_keys(PASSWORD, user.password_salt, settings.kdf)
    assert no_pepper.verifier != user.password_verifier
    with_pepper = encryption.derive_password_keys(
        PASSWORD, user.password_salt, settings.kdf,
        encryption.server_key(settings.staff_secret, "password-pepper"))
    assert with_pepper.verifier == user.password_verifier


def test_production_kdf_uses_at_least_128_mib() -> None:
    from config.settings import KdfProfile

    assert KdfProfile.production().argon2_memory_kib >= 128 * 1024


@pytest.mark.parametrize("weak", ["password1234", "Password123!", "qwertyuiop12", "aaaaaaaaaaaa",
                                  "abcabcabcabc", "iloveyou2024!", "123456789012"])
def test_common_passwords_are_refused(weak: str) -> None:
    with pytest.raises(accounts.WeakPasswordError):
        accounts.check_password_strength(weak, "gina@example.nhs.uk")


def test_a_passphrase_is_accepted() -> None:
    accounts.check_password_strength("kettle orbit velvet plum", "gina@example.nhs.uk")


def test_swapped_public_key_is_refused_and_restored_at_login(db, settings, guardian: Staff) -> None:
    attacker = encryption.generate_keypair()
    db.execute(text("UPDATE staff_users SET public_key = :k WHERE id = :i"),
               {"k": attacker.public, "i": guardian.id})
    db.commit()
    user = db.get(StaffUser, guardian.id)
    db.refresh(user)
    with pytest.raises(KeyBindingError):
        sealable_public_key(user, settings)
    user, private = accounts.authenticate(db, email=guardian.email, password=guardian.password,
                                          code=guardian.code(), settings=settings)
    db.commit()
    assert user.public_key == encryption.public_key_of(private)
    assert sealable_public_key(user, settings) == user.public_key


def test_a_role_changed_in_the_database_breaks_the_binding(db, settings) -> None:
    """An EDI lead made a guardian by a database writer would receive new concerns."""
    edi = accounts.create_staff(db, name="Eli Lead", email="eli@example.nhs.uk",
                                password=PASSWORD, role="edi", settings=settings).user
    db.commit()
    assert sealable_public_key(edi, settings) == edi.public_key
    db.execute(text("UPDATE staff_users SET role = 'guardian' WHERE id = :i"), {"i": edi.id})
    db.commit()
    db.refresh(edi)
    with pytest.raises(KeyBindingError):
        sealable_public_key(edi, settings)


def test_password_change_keeps_the_keys_and_totp(db, settings, guardian: Staff) -> None:
    user, private = accounts.authenticate(db, email=guardian.email, password=guardian.password,
                                          code=guardian.code(), settings=settings)
    token = accounts.start_session(db, user=user, private_key=private)
    identity = accounts.StaffIdentity(user, private, token)
    with pytest.raises(accounts.LoginError):
        accounts.change_password(db, identity=identity, current_password="not it at all 99",
                                 new_password="kettle orbit velvet plum", settings=settings)
    accounts.change_password(db, identity=identity, current_password=guardian.password,
                             new_password="kettle orbit velvet plum", settings=settings)
    db.commit()
    later = utcnow() + timedelta(seconds=30)
    again, private_again = accounts.authenticate(
        db, email=guardian.email, password="kettle orbit velvet plum",
        code=pyotp.TOTP(guardian.totp_secret).at(later), settings=settings, now=later)
    assert private_again == private and again.id == user.id


def test_key_rotation_reseals_every_case_and_the_account_page_shows_fingerprints(
        app, client, database, settings, guardian: Staff) -> None:
    from speakup import services
    from tests.conftest import csrf_token, login, submit_concern

    submit_concern(client, "Rotate me")
    staff = app.test_client()
    login(staff, guardian)
    page = staff.get("/staff/account").data.decode()
    assert "Key fingerprints" in page and "Gina Guardian (you)" in page
    with database.session() as db:
        old_fp = accounts.key_fingerprint(db.get(StaffUser, guardian.id))
    assert old_fp in page
    response = staff.post("/staff/account", data={"csrf_token": csrf_token(page),
                                                   "rot-password": "wrong password 12345"})
    assert response.status_code == 400 and "not right" in response.data.decode()
    response = staff.post("/staff/account", data={"csrf_token": csrf_token(page),
                                                   "rot-password": guardian.password})
    body = response.data.decode()
    assert response.status_code == 200 and "Your new recovery key" in body
    with database.session() as db:
        user = db.get(StaffUser, guardian.id)
        assert accounts.key_fingerprint(user) != old_fp and accounts.key_fingerprint(user) in body
        [row] = inbox_cases(db, identity=accounts.StaffIdentity(user, b"", "t"),
                               settings=settings)
        # The old private key no longer opens the case; the page (new session) does.
        with pytest.raises(services.CaseNotFoundError):
            services.open_case(db, identity=accounts.StaffIdentity(user, guardian.private_key,
                                                                   "t"), ref=row.concern.ref)
    assert "Rotate me" in staff.get(f"/staff/cases/{row.concern.ref}").data.decode()


def test_password_change_on_the_account_page(app, guardian: Staff) -> None:
    from tests.conftest import csrf_token, login

    staff = app.test_client()
    login(staff, guardian)
    page = staff.get("/staff/account").data.decode()
    weak = staff.post("/staff/account", data={"csrf_token": csrf_token(page),
                                               "pw-current": guardian.password,
                                               "pw-new": "password1234"})
    assert weak.status_code == 400 and "too common" in weak.data.decode()
    done = staff.post("/staff/account", data={"csrf_token": csrf_token(page),
                                               "pw-current": guardian.password,
                                               "pw-new": "kettle orbit velvet plum"})
    assert done.status_code == 302
