"""Staff login: password + TOTP, lockout, replay, sessions, disabling, recovery."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from accounts import services as accounts
from accounts.models import StaffSession
from core.db import utcnow
from speakup import services
from tests.conftest import Staff
from tests.inbox_helpers import inbox_cases


def _auth(db, settings, staff: Staff, *, password=None, code=None, now=None):
    return accounts.authenticate(db, email=staff.email, password=password or staff.password,
                                 code=code or staff.code(), settings=settings, now=now)


def test_login_needs_password_and_totp(db, settings, guardian: Staff) -> None:
    user, private = _auth(db, settings, guardian)
    assert user.email == guardian.email and len(private) == 32
    with pytest.raises(accounts.LoginError):
        _auth(db, settings, guardian, password="wrong password 123")
    with pytest.raises(accounts.LoginError):
        _auth(db, settings, guardian, code="000000")
    with pytest.raises(accounts.LoginError):
        accounts.authenticate(db, email="nobody@example.org", password="x", code="1",
                              settings=settings)


def test_totp_code_cannot_be_replayed(db, settings, guardian: Staff) -> None:
    now = utcnow()
    code = pyotp.TOTP(guardian.totp_secret).at(now)
    _auth(db, settings, guardian, code=code, now=now)
    db.commit()
    with pytest.raises(accounts.LoginError):
        _auth(db, settings, guardian, code=code, now=now)


def test_lockout_after_repeated_failures(db, settings, guardian: Staff) -> None:
    now = utcnow()
    for _ in range(settings.lockout_threshold):
        with pytest.raises(accounts.LoginError):
            _auth(db, settings, guardian, password="wrong password 123", now=now)
    # Even the right password and code are refused while locked.
    with pytest.raises(accounts.AccountLockedError):
        _auth(db, settings, guardian, now=now)
    later = now + timedelta(minutes=settings.lockout_minutes, seconds=1)
    code = pyotp.TOTP(guardian.totp_secret).at(later)
    user, _ = _auth(db, settings, guardian, code=code, now=later)
    assert user.failed_logins == 0


def test_session_idles_out_and_ends_at_logout(db, settings, guardian: Staff) -> None:
    user, private = _auth(db, settings, guardian)
    token = accounts.start_session(db, user=user, private_key=private)
    db.commit()
    identity = accounts.resume_session(db, token=token, settings=settings)
    assert identity is not None and identity.private_key == private
    # The stored row does not hold the private key in the clear.
    row = db.query(StaffSession).one()
    assert private not in row.private_key_sealed
    late = utcnow() + timedelta(minutes=settings.staff_idle_minutes + 1)
    assert accounts.resume_session(db, token=token, settings=settings, now=late) is None
    token = accounts.start_session(db, user=user, private_key=private)
    accounts.end_session(db, token=token)
    assert accounts.resume_session(db, token=token, settings=settings) is None


def test_disabled_guardian_cannot_log_in_or_resume(db, settings, guardian: Staff) -> None:
    user, private = _auth(db, settings, guardian)
    token = accounts.start_session(db, user=user, private_key=private)
    accounts.disable_staff(db, email=guardian.email)
    db.commit()
    assert accounts.resume_session(db, token=token, settings=settings) is None
    with pytest.raises(accounts.LoginError):
        _auth(db, settings, guardian)


def test_recovery_key_keeps_access_to_cases(db, settings, guardian: Staff) -> None:
    services.submit_concern(db, draft=services.ConcernDraft(
        text="sealed before the password was lost", kind="other", identity_mode="anonymous"),
        form_token="t" * 30, settings=settings)
    db.commit()
    new_recovery = accounts.recover_account(
        db, email=guardian.email, recovery_key=guardian.recovery_key,
        new_password="a brand new password 456", settings=settings)
    db.commit()
    assert new_recovery != guardian.recovery_key
    user, private = accounts.authenticate(db, email=guardian.email,
                                          password="a brand new password 456",
                                          code=guardian.code(), settings=settings)
    identity = accounts.StaffIdentity(user=user, private_key=private, session_token="x")
    rows = inbox_cases(db, identity=identity, settings=settings)
    case = services.open_case(db, identity=identity, ref=rows[0].concern.ref)
    assert case.text == "sealed before the password was lost"
    with pytest.raises(accounts.LoginError):
        accounts.recover_account(db, email=guardian.email, recovery_key=guardian.recovery_key,
                                 new_password="another new password 789", settings=settings)


def test_weak_password_and_duplicate_email_refused(db, settings, guardian: Staff) -> None:
    with pytest.raises(accounts.WeakPasswordError):
        accounts.create_staff(db, name="X", email="x@example.org", password="short",
                              role="guardian", settings=settings)
    with pytest.raises(accounts.AccountExistsError):
        accounts.create_staff(db, name="Y", email=guardian.email.upper(),
                              password="long enough password", role="guardian",
                              settings=settings)
