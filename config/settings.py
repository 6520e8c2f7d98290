"""Typed, frozen settings built once from the environment.

Secrets have no defaults. In production (``SPEAKUP_ENV=production``, the default) a missing
secret stops start-up with a message naming the variable. In development and tests the
secrets are generated once and kept in ``instance/secrets.json`` so restarts keep sessions
and receipts working.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(__file__).resolve().parent

SECRET_NAMES = ("SPEAKUP_SOURCE_SECRET", "SPEAKUP_STAFF_SECRET", "SPEAKUP_RECEIPT_PEPPER")


class SettingsError(RuntimeError):
    """The environment does not describe a runnable configuration."""


@dataclass(frozen=True)
class KdfProfile:
    """Cost of the password and receipt key derivations.

    ``production`` is what every deployment uses; ``fast`` exists only so the test suite
    does not spend minutes in Argon2id. Never set ``SPEAKUP_KDF=fast`` on a real server.
    """

    name: str
    argon2_memory_kib: int
    argon2_iterations: int
    scrypt_n: int
    # The first release's Argon2id memory, to sign in accounts not yet upgraded.
    legacy_argon2_memory_kib: int = 64 * 1024

    @classmethod
    def production(cls) -> KdfProfile:
        return cls("production", argon2_memory_kib=128 * 1024, argon2_iterations=3, scrypt_n=2**14)

    @classmethod
    def fast(cls) -> KdfProfile:
        return cls("fast", argon2_memory_kib=8, argon2_iterations=1, scrypt_n=2**4,
                   legacy_argon2_memory_kib=8)


@dataclass(frozen=True)
class Organisation:
    """What a trust configures about itself: its name and its own lists."""

    name: str
    sites: tuple[tuple[str, str], ...]
    concern_kinds: tuple[tuple[str, str], ...]
    professional_groups: tuple[tuple[str, str], ...]
    directorates: tuple[tuple[str, str], ...] = ()
    # (name, a sentence about them) for each guardian, shown on the start page: no photos.
    guardians: tuple[tuple[str, str], ...] = ()
    # (heading, text) for the start page's "Need help now?" list: 999, incident reporting,
    # wellbeing and employee assistance, independent advice. Trusts write their own numbers.
    urgent_help: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_toml(cls, path: Path) -> Organisation:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"cannot read organisation file {path}: {e}") from e

        def pairs(key: str, first: str = "id", second: str = "label") -> (
                tuple[tuple[str, str], ...]):
            items = data.get(key, [])
            try:
                return tuple((str(i[first]), str(i[second])) for i in items)
            except (KeyError, TypeError) as e:
                raise SettingsError(
                    f"{path}: every entry of {key} needs a {first} and a {second}") from e

        return cls(
            name=str(data.get("name", "Your trust")),
            sites=pairs("sites"),
            concern_kinds=pairs("concern_kinds"),
            professional_groups=pairs("professional_groups"),
            directorates=pairs("directorates"),
            guardians=pairs("guardians", "name", "about"),
            urgent_help=pairs("urgent_help", "heading", "text"),
        )


@dataclass(frozen=True)
class ThemeEncoderSettings:
    """The theme engine's embedding layer (``analysis.themes.embedding``).

    ``SPEAKUP_THEME_ENCODER``: unset for the pinned all-MiniLM-L6-v2 package, ``off`` for no
    embedding layer, or a sentence-transformers model folder (a trust's own or fine-tuned one),
    which needs ``SPEAKUP_THEME_ENCODER_SHA256`` (its model.safetensors' SHA-256, checked at load).
    ``SPEAKUP_THEME_EMBEDDING_MODEL``: the classifier trained on that encoder's embeddings
    (default ``config/themes/embedding_model.json``, trained on the pinned encoder).
    """

    enabled: bool = True
    folder: Path | None = None
    sha256: str | None = None
    classifier: Path | None = None


def theme_encoder_settings(environ: Mapping[str, str]) -> ThemeEncoderSettings:
    """The embedding-layer settings in ``environ`` (needs no secret: the CLI reads them too)."""
    raw = environ.get("SPEAKUP_THEME_ENCODER", "").strip()
    sha256 = environ.get("SPEAKUP_THEME_ENCODER_SHA256", "").strip().lower() or None
    classifier = environ.get("SPEAKUP_THEME_EMBEDDING_MODEL", "").strip()
    if raw.lower() == "off":
        return ThemeEncoderSettings(enabled=False)
    if raw and (sha256 is None or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise SettingsError("SPEAKUP_THEME_ENCODER names a model folder, so SPEAKUP_THEME_ENCODER_SHA256 "
                            "must be the SHA-256 of its model.safetensors (sha256sum prints it)")
    return ThemeEncoderSettings(True, Path(raw) if raw else None, sha256 if raw else None,
                                Path(classifier) if classifier else None)


@dataclass(frozen=True)
class Settings:
    """Everything the application reads from its environment."""

    env: str
    database_url: str
    source_secret: bytes
    staff_secret: bytes
    receipt_pepper: bytes
    organisation: Organisation
    instance_dir: Path = ROOT / "instance"
    kdf: KdfProfile = field(default_factory=KdfProfile.production)
    https: bool = False
    escrow_public_key: bytes | None = None
    acknowledge_days: int = 7
    feedback_days: int = 90
    retention_days: int = 365
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 5
    staff_idle_minutes: int = 30
    staff_max_hours: int = 10
    reporter_session_minutes: int = 60
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    # Wrong receipts one browser session may try per window.
    receipt_session_limit: int = 5
    # Wrong receipts across the service per window above which every attempt needs proof of
    # work (see core.ratelimit).
    receipt_attack_threshold: int = 50
    receipt_window_seconds: int = 600
    min_cell_size: int = 11
    # Representative quotes come only from groups with at least this many comments.
    comment_threshold: int = 11
    # Unlinkable records (survey responses, concern analytics) are written in shuffled batches
    # of at least this many (0: the minimum cell size).
    record_batch: int = 0
    # Where `speakup audit checkpoint` appends the audit chain's head, outside the database
    # (None: instance_dir / "audit-checkpoints.log").
    audit_checkpoint_file: Path | None = None

    @property
    def batch_size(self) -> int:
        return max(2, self.record_batch or self.min_cell_size)

    @property
    def checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.instance_dir / "audit-checkpoints.log"
    theme_encoder: ThemeEncoderSettings = field(default_factory=ThemeEncoderSettings)

    @property
    def testing(self) -> bool:
        return self.env == "test"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _int(environ: dict[str, str] | os._Environ[str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from e
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


def _dev_secrets(instance: Path) -> dict[str, str]:
    path = instance / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
    else:
        stored = {}
    changed = False
    for name in SECRET_NAMES:
        if name not in stored:
            stored[name] = base64.b64encode(secrets.token_bytes(32)).decode()
            changed = True
    if changed:
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def _secret(value: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as e:
        raise SettingsError(f"{name} must be base64 (try: openssl rand -base64 32)") from e
    if len(raw) < 32:
        raise SettingsError(f"{name} must hold at least 32 random bytes")
    return raw


def load_settings(environ: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """Build the settings from ``environ`` (default: the process environment)."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("SPEAKUP_ENV", "production")
    if env not in ("production", "development", "test"):
        raise SettingsError("SPEAKUP_ENV must be production, development or test")
    instance = Path(env_vars.get("SPEAKUP_INSTANCE_DIR", ROOT / "instance"))

    if env == "production":
        missing = [n for n in SECRET_NAMES if not env_vars.get(n)]
        if missing:
            raise SettingsError(
                "missing secrets: " + ", ".join(missing)
                + " (each: openssl rand -base64 32; or set SPEAKUP_ENV=development)"
            )
        raw_secrets = {n: env_vars[n] for n in SECRET_NAMES}
    else:
        raw_secrets = {**_dev_secrets(instance), **{n: env_vars[n] for n in SECRET_NAMES if env_vars.get(n)}}

    database_url = env_vars.get("DATABASE_URL") or ""
    if not database_url:
        if env == "production":
            raise SettingsError("DATABASE_URL is not set (e.g. postgresql+psycopg://user@host/speakup)")
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'speakup.db'}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    kdf_name = env_vars.get("SPEAKUP_KDF", "production")
    if kdf_name == "fast" and env == "production":
        raise SettingsError("SPEAKUP_KDF=fast is for tests only")
    kdf = KdfProfile.fast() if kdf_name == "fast" else KdfProfile.production()

    escrow_raw = env_vars.get("SPEAKUP_ESCROW_PUBLIC_KEY")
    escrow = None
    if escrow_raw:
        try:
            escrow = base64.b64decode(escrow_raw, validate=True)
        except ValueError as e:
            raise SettingsError("SPEAKUP_ESCROW_PUBLIC_KEY must be base64") from e
        if len(escrow) != 32:
            raise SettingsError("SPEAKUP_ESCROW_PUBLIC_KEY must be a 32-byte X25519 public key")

    org_file = Path(env_vars.get("SPEAKUP_ORGANISATION_FILE", CONFIG_DIR / "organisation.toml"))

    return Settings(
        env=env,
        database_url=database_url,
        source_secret=_secret(raw_secrets["SPEAKUP_SOURCE_SECRET"], "SPEAKUP_SOURCE_SECRET"),
        staff_secret=_secret(raw_secrets["SPEAKUP_STAFF_SECRET"], "SPEAKUP_STAFF_SECRET"),
        receipt_pepper=_secret(raw_secrets["SPEAKUP_RECEIPT_PEPPER"], "SPEAKUP_RECEIPT_PEPPER"),
        organisation=Organisation.from_toml(org_file),
        instance_dir=instance,
        kdf=kdf,
        https=env_vars.get("SPEAKUP_HTTPS", "1" if env == "production" else "0") == "1",
        escrow_public_key=escrow,
        acknowledge_days=_int(env_vars, "SPEAKUP_ACKNOWLEDGE_DAYS", 7),
        feedback_days=_int(env_vars, "SPEAKUP_FEEDBACK_DAYS", 90),
        retention_days=_int(env_vars, "SPEAKUP_RETENTION_DAYS", 365),
        max_attachment_bytes=_int(env_vars, "SPEAKUP_MAX_ATTACHMENT_MB", 10) * 1024 * 1024,
        staff_idle_minutes=_int(env_vars, "SPEAKUP_STAFF_IDLE_MINUTES", 30),
        min_cell_size=_int(env_vars, "SPEAKUP_MIN_CELL_SIZE", 11),
        comment_threshold=_int(env_vars, "SPEAKUP_COMMENT_THRESHOLD", 11),
        record_batch=_int(env_vars, "SPEAKUP_RECORD_BATCH", 0),
        receipt_session_limit=_int(env_vars, "SPEAKUP_RECEIPT_SESSION_LIMIT", 5),
        receipt_attack_threshold=_int(env_vars, "SPEAKUP_RECEIPT_ATTACK_THRESHOLD", 50),
        audit_checkpoint_file=(Path(env_vars["SPEAKUP_AUDIT_CHECKPOINT_FILE"])
                               if env_vars.get("SPEAKUP_AUDIT_CHECKPOINT_FILE") else None),
        theme_encoder=theme_encoder_settings(env_vars),
    )
