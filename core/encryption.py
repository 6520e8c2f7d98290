"""All the platform's cryptography, behind domain verbs.

Design (after GlobaLeaks and SecureDrop):

* Every concern has its own random 256-bit key. The concern's text, its attachments and every
  message in its thread are sealed with it using AES-256-GCM; the associated data binds each
  ciphertext to its concern and purpose, so a ciphertext moved to another row does not open.
* Each guardian has an X25519 key pair. A concern key is sealed to a guardian's public key
  (ephemeral X25519, HKDF-SHA256, AES-GCM), so concerns can be sealed while nobody is logged in.
* A guardian's private key is stored only wrapped: by a key derived from their password
  (Argon2id), and separately by a key derived from their one-time recovery key. It is unwrapped
  into a staff session only, re-wrapped there under a random key that lives in the session
  cookie alone, so neither the database nor the cookie on its own reveals it.
* A receipt (eight words, 88 bits) derives with scrypt, under two different salts, the lookup
  value the server stores and the key that opens the reporter's copy of the concern key. The
  receipt itself is never stored.
* Secrets that are not in the database (the server secrets of `config.settings`) key what a
  database writer must not be able to forge or test offline: MACs binding each public key to its
  owner (`bind_public_key`), the audit chain, the password pepper, invitation-code digests and
  the outer seal of unlinkable records. Each purpose has its own HKDF label (`server_key`).

Plaintext is handled as ``bytes`` in memory only; this module never writes or logs anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from config.settings import KdfProfile

KEY_BYTES = 32
NONCE_BYTES = 12
RECEIPT_WORDS = 8
_VERSION = b"\x01"

_WORDS: tuple[str, ...] = tuple(
    (Path(__file__).parent / "data" / "receipt_words.txt").read_text().split()
)
_WORD_INDEX = {w: i for i, w in enumerate(_WORDS)}
_PREFIX_INDEX = {w[:4]: w for w in _WORDS}


class EncryptionError(Exception):
    """Root of every error raised by this module."""


class DecryptionError(EncryptionError):
    """A ciphertext did not open: wrong key, wrong context, or tampered data."""


class ReceiptFormatError(EncryptionError):
    """Text that cannot be a receipt (wrong number of words, unknown word)."""


# --- symmetric sealing -------------------------------------------------------------------


def new_key() -> bytes:
    """A fresh random 256-bit key (a concern key, a session key)."""
    return secrets.token_bytes(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``context``."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def open_sealed(key: bytes, blob: bytes, *, context: bytes) -> bytes:
    """Reverse :func:`seal`. Raises :class:`DecryptionError` on any mismatch."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != _VERSION:
        raise DecryptionError("not a sealed value")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, context)
    except (InvalidTag, ValueError) as e:
        raise DecryptionError("sealed value did not open") from e


def concern_context(concern_ref: str, purpose: str) -> bytes:
    """Associated data binding a ciphertext to one concern and one purpose."""
    return f"speakup/concern/{concern_ref}/{purpose}".encode()


def derive_subkey(secret: bytes, label: str, length: int = KEY_BYTES) -> bytes:
    """A key for one purpose from a long-term server secret (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=f"speakup/{label}".encode()
    ).derive(secret)


@functools.lru_cache(maxsize=64)
def server_key(secret: bytes, purpose: str) -> bytes:
    """The key for one purpose derived from a server secret (cached: derived once per process).

    Purposes in use: ``key-binding``, ``audit-chain``, ``password-pepper``, ``survey-code``,
    ``records`` (the outer seal of unlinkable records), ``pow`` (proof-of-work challenges),
    ``rate-limit`` (digests of rate-limit keys).
    """
    return derive_subkey(secret, f"server/{purpose}")


def mac(key: bytes, *parts: bytes | str) -> bytes:
    """HMAC-SHA256 over ``parts``, each length-prefixed so no two part lists collide."""
    h = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.digest()


def mac_matches(key: bytes, expected: bytes | None, *parts: bytes | str) -> bool:
    """Whether ``expected`` is the MAC of ``parts`` (constant time; None never matches)."""
    return expected is not None and hmac.compare_digest(mac(key, *parts), expected)


def bind_public_key(binding_key: bytes, owner: str, public: bytes) -> bytes:
    """A MAC tying ``public`` to ``owner`` (``staff:ID`` or ``org:NAME``).

    Stored next to the key and checked every time something is sealed to it: a database writer
    who swaps in their own key cannot make a valid MAC without the server secret.
    """
    return mac(binding_key, "speakup/public-key", owner, public)


def public_key_bound(binding_key: bytes, owner: str, public: bytes, binding: bytes | None) -> bool:
    return mac_matches(binding_key, binding, "speakup/public-key", owner, public)


def fingerprint(public: bytes) -> str:
    """A public key's fingerprint for people to compare: 16 hex digits in groups of four."""
    digest = hashlib.sha256(b"speakup/fingerprint" + public).hexdigest()[:16].upper()
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


# --- public-key sealing of concern keys ------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    private: bytes
    public: bytes


def generate_keypair() -> KeyPair:
    """A new X25519 key pair as raw 32-byte values."""
    private = X25519PrivateKey.generate()
    return KeyPair(
        private=private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        ),
        public=private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
    )


def public_key_of(private: bytes) -> bytes:
    """The public half of a raw X25519 private key."""
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _box_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral_public + recipient_public,
        info=b"speakup/sealed-box",
    ).derive(shared)


def seal_to_public_key(recipient_public: bytes, secret: bytes, *, context: bytes) -> bytes:
    """Seal ``secret`` so that only the holder of the matching private key can open it."""
    try:
        recipient = X25519PublicKey.from_public_bytes(recipient_public)
    except ValueError as e:
        raise EncryptionError("not an X25519 public key") from e
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key = _box_key(ephemeral.exchange(recipient), ephemeral_public, recipient_public)
    return ephemeral_public + seal(key, secret, context=context)


def open_with_private_key(private: bytes, blob: bytes, *, context: bytes) -> bytes:
    """Reverse :func:`seal_to_public_key`. Raises :class:`DecryptionError` on mismatch."""
    if len(blob) < 32:
        raise DecryptionError("not a sealed box")
    try:
        me = X25519PrivateKey.from_private_bytes(private)
        ephemeral = X25519PublicKey.from_public_bytes(blob[:32])
        shared = me.exchange(ephemeral)
    except ValueError as e:
        raise DecryptionError("sealed box did not open") from e
    my_public = me.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return open_sealed(_box_key(shared, blob[:32], my_public), blob[32:], context=context)


# --- passwords and private-key wrapping ------------------------------------------------------


@dataclass(frozen=True)
class PasswordKeys:
    """Two independent values from one Argon2id run: one to check, one to unwrap."""

    verifier: bytes
    wrapping_key: bytes


def derive_password_keys(password: str, salt: bytes, profile: KdfProfile,
                         pepper: bytes | None = None) -> PasswordKeys:
    """Argon2id over the password; the first half verifies it, the second unwraps keys.

    The stored verifier reveals nothing about the wrapping key: both are independent output
    blocks of the same memory-hard derivation. With a ``pepper`` (a server key that is not in the
    database) the password is first keyed with HMAC, so a stolen database alone cannot be used to
    test password guesses offline. ``pepper=None`` is the first release's derivation, kept only
    to sign in accounts not yet moved to the peppered one.
    """
    data = password.encode("utf-8")
    if pepper is not None:
        data = hmac.new(pepper, data, hashlib.sha256).digest()
    raw = Argon2id(
        salt=salt, length=2 * KEY_BYTES, iterations=profile.argon2_iterations, lanes=1,
        memory_cost=profile.argon2_memory_kib,
    ).derive(data)
    return PasswordKeys(verifier=raw[:KEY_BYTES], wrapping_key=raw[KEY_BYTES:])


def verify_password(password: str, salt: bytes, verifier: bytes, profile: KdfProfile,
                    pepper: bytes | None = None) -> PasswordKeys | None:
    """The derived keys if ``password`` matches ``verifier``, else None (constant time)."""
    keys = derive_password_keys(password, salt, profile, pepper)
    return keys if hmac.compare_digest(keys.verifier, verifier) else None


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def wrap_private_key(wrapping_key: bytes, private: bytes, *, purpose: str) -> bytes:
    """Seal a guardian's private key under a key derived from a password or recovery key."""
    return seal(wrapping_key, private, context=f"speakup/private-key/{purpose}".encode())


def unwrap_private_key(wrapping_key: bytes, blob: bytes, *, purpose: str) -> bytes:
    return open_sealed(wrapping_key, blob, context=f"speakup/private-key/{purpose}".encode())


def generate_recovery_key() -> str:
    """A one-time recovery key (160 bits) shown once, as groups of base32 characters."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def recovery_wrapping_key(recovery_key: str, salt: bytes, profile: KdfProfile) -> bytes:
    """The key that unwraps the recovery copy of a private key."""
    normalised = "".join(ch for ch in recovery_key.upper() if ch.isalnum())
    return derive_password_keys(normalised, salt, profile).wrapping_key


# --- receipts ------------------------------------------------------------------------------


def generate_receipt() -> str:
    """Eight words from a 2048-word list: 88 bits, easy to write down and read back."""
    return " ".join(secrets.choice(_WORDS) for _ in range(RECEIPT_WORDS))


def normalise_receipt(text: str) -> str:
    """Canonical form of a typed receipt: lower case, single spaces.

    Accepts any separators and capitalisation, and a word's first four letters (the list is
    unique in its first four letters), so small slips when copying still work.
    """
    words = "".join(ch if ch.isalpha() else " " for ch in text.lower()).split()
    if len(words) != RECEIPT_WORDS:
        raise ReceiptFormatError(f"a receipt has {RECEIPT_WORDS} words")
    out = []
    for word in words:
        if word in _WORD_INDEX:
            out.append(word)
        elif len(word) >= 4 and word[:4] in _PREFIX_INDEX:
            out.append(_PREFIX_INDEX[word[:4]])
        else:
            raise ReceiptFormatError("unknown word")
    return " ".join(out)


@dataclass(frozen=True)
class ReceiptSecrets:
    lookup: bytes
    key: bytes


def _scrypt(data: bytes, salt: bytes, profile: KdfProfile) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=profile.scrypt_n, r=8, p=1).derive(data)


def derive_receipt_secrets(receipt: str, pepper: bytes, profile: KdfProfile) -> ReceiptSecrets:
    """The lookup value and the reporter key, from two scrypt runs with separate salts.

    The salts come from a server secret (the pepper), so a copy of the database alone is not
    enough to test guesses against the stored lookup values.
    """
    data = receipt.encode()
    lookup_salt = derive_subkey(pepper, "receipt-lookup-salt", 16)
    key_salt = derive_subkey(pepper, "receipt-key-salt", 16)
    return ReceiptSecrets(
        lookup=_scrypt(data, lookup_salt, profile), key=_scrypt(data, key_salt, profile)
    )


def burn_receipt_derivation(pepper: bytes, profile: KdfProfile) -> None:
    """Spend the same time as :func:`derive_receipt_secrets` on input that is not a receipt.

    Malformed receipts then take as long to refuse as well-formed wrong ones.
    """
    derive_receipt_secrets(" ".join(_WORDS[:RECEIPT_WORDS]), pepper, profile)


def token_digest(token: str) -> bytes:
    """A one-way digest for random high-entropy tokens (session ids, submission tokens)."""
    return hashlib.sha256(token.encode()).digest()


def token_key(token: str) -> bytes:
    """A key derived from a random high-entropy token (independent of its digest)."""
    return derive_subkey(token.encode(), "token-key")


def keyed_digest(key: bytes, value: str) -> bytes:
    """HMAC-SHA256 of ``value``: a digest nobody without ``key`` can compute from a guess
    (invitation codes, pseudonymous ids, rate-limit keys)."""
    return hmac.new(key, value.encode(), hashlib.sha256).digest()


_PAD_MARK = b"\x00"


def pad(data: bytes, *, minimum: int = 512) -> bytes:
    """``data`` padded to the next power of two of at least ``minimum`` bytes, so a ciphertext's
    length says only which size class its plaintext is in (a case record, a survey answer, an
    equality record: all one class in practice). Marked with a leading NUL, which no JSON or
    text value starts with, so `unpad` also accepts the first release's unpadded values."""
    body = _PAD_MARK + len(data).to_bytes(4, "big") + data
    size = minimum
    while size < len(body):
        size *= 2
    return body + bytes(size - len(body))


def unpad(data: bytes) -> bytes:
    """Reverse `pad`; a value without its mark (stored before padding existed) is returned as
    it is."""
    if not data.startswith(_PAD_MARK) or len(data) < 5:
        return data
    length = int.from_bytes(data[1:5], "big")
    if 5 + length > len(data):
        raise DecryptionError("padded value is shorter than its length says")
    return data[5:5 + length]


def new_id() -> str:
    """A random row identifier (128 bits, hex): ids on the anonymous side say nothing about
    when or in which order rows were written."""
    return secrets.token_hex(16)
