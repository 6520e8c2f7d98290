"""Benchmark: staff sign-in time with the production key derivation (not a test).

Issue 8 raised Argon2id from 64 MiB to 128 MiB and put a server pepper in front of it; sign-in
must stay under a second on this machine. This measures, in one run and one process, against a
temporary SQLite database:

* the first release's derivation (Argon2id 64 MiB, t=3, no pepper) as the baseline;
* the new derivation (HMAC pepper + Argon2id 128 MiB, t=3);
* a whole ``accounts.services.authenticate`` (password, TOTP, attempt counting, key unwrap)
  for an account on the new derivation, and for one still on the first release's (which is
  upgraded on that sign-in, so it pays both derivations once).

Run: ``.venv/bin/python bench/login.py [--rounds 5]``; prints medians and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402
from sqlalchemy import update  # noqa: E402

from accounts import services as accounts  # noqa: E402
from accounts.models import StaffUser  # noqa: E402
from config.settings import KdfProfile, load_settings  # noqa: E402
from core.db import Database  # noqa: E402
from core.encryption import (  # noqa: E402
    derive_password_keys,
    derive_subkey,
    new_salt,
    seal,
    server_key,
    wrap_private_key,
)
from core.migrate import upgrade  # noqa: E402

PASSWORD = "kettle orbit velvet plum"


def median_seconds(action, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"SPEAKUP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp}/b.db",
                                  "SPEAKUP_INSTANCE_DIR": tmp})
        assert settings.kdf == KdfProfile.production()
        legacy = replace(settings.kdf, argon2_memory_kib=settings.kdf.legacy_argon2_memory_kib)
        pepper = server_key(settings.staff_secret, "password-pepper")
        salt = new_salt()
        old = median_seconds(lambda: derive_password_keys(PASSWORD, salt, legacy), args.rounds)
        new = median_seconds(lambda: derive_password_keys(PASSWORD, salt, settings.kdf, pepper),
                             args.rounds)

        database = Database.from_settings(settings)
        upgrade(database.engine, settings)
        with database.session() as db:
            account = accounts.create_staff(db, name="Bench Guardian", email="bench.guardian@example.nhs.uk",
                                            password=PASSWORD, role="guardian", settings=settings)
        totp = pyotp.TOTP(account.totp_secret)
        step = [0]

        def sign_in() -> None:
            # A fresh code each time (codes are single use): the next time step's.
            step[0] += 1
            when = time.time() + 30 * step[0]
            now = datetime.fromtimestamp(when, UTC)
            with database.session() as db:
                accounts.authenticate(db, email="bench.guardian@example.nhs.uk", password=PASSWORD,
                                      code=totp.at(when), settings=settings, now=now)

        full = median_seconds(sign_in, args.rounds)

        def legacy_sign_in() -> None:
            # Put the account back on the first release's derivation, then sign in (upgrade).
            keys = derive_password_keys(PASSWORD, salt, legacy)
            with database.session() as db:
                user = db.get(StaffUser, account.user.id)
                assert user is not None
                db.execute(update(StaffUser).where(StaffUser.id == user.id).values(
                    password_salt=salt, password_verifier=keys.verifier, password_kdf="v1",
                    private_key_by_password=wrap_private_key(keys.wrapping_key,
                                                             account.private_key,
                                                             purpose="password"),
                    totp_secret_by_key=None,
                    totp_secret_sealed=seal(derive_subkey(settings.staff_secret, "totp"),
                                            account.totp_secret.encode(),
                                            context=b"speakup/totp-secret")))
            sign_in()

        upgraded = median_seconds(legacy_sign_in, max(2, args.rounds // 2))
        database.dispose()
    print(f"Staff sign-in, median of {args.rounds} (load average at start "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print(f"  first release's derivation (64 MiB, no pepper)   {1000 * old:7.0f} ms   1.00x")
    print(f"  new derivation (pepper + 128 MiB)                {1000 * new:7.0f} ms   "
          f"{new / old:.2f}x")
    print(f"  whole sign-in on the new derivation              {1000 * full:7.0f} ms   "
          f"{full / old:.2f}x")
    print(f"  first sign-in of a not-yet-upgraded account      {1000 * upgraded:7.0f} ms   "
          f"{upgraded / old:.2f}x  (includes re-deriving and re-wrapping once)")
    return 0 if full < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
