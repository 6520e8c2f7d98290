"""The crypto module: round trips, and every wrong key or tampered byte fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import KdfProfile
from core import encryption as enc

FAST = KdfProfile.fast()
CTX = enc.concern_context("ABCDEFGH", "body")


@given(st.binary(max_size=4096))
def test_seal_round_trip(data: bytes) -> None:
    key = enc.new_key()
    assert enc.open_sealed(key, enc.seal(key, data, context=CTX), context=CTX) == data


def test_wrong_key_fails() -> None:
    blob = enc.seal(enc.new_key(), b"secret", context=CTX)
    with pytest.raises(enc.DecryptionError):
        enc.open_sealed(enc.new_key(), blob, context=CTX)


def test_wrong_context_fails() -> None:
    key = enc.new_key()
    blob = enc.seal(key, b"secret", context=CTX)
    with pytest.raises(enc.DecryptionError):
        enc.open_sealed(key, blob, context=enc.concern_context("OTHERREF", "body"))


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_fails(position: int, flip: int) -> None:
    key = enc.new_key()
    blob = bytearray(enc.seal(key, b"the rota is unsafe", context=CTX))
    blob[position % len(blob)] ^= flip
    with pytest.raises(enc.DecryptionError):
        enc.open_sealed(key, bytes(blob), context=CTX)


def test_truncated_blob_fails() -> None:
    key = enc.new_key()
    blob = enc.seal(key, b"x", context=CTX)
    for cut in range(len(blob)):
        with pytest.raises(enc.DecryptionError):
            enc.open_sealed(key, blob[:cut], context=CTX)


def test_public_key_sealing_round_trip_and_other_guardian_fails() -> None:
    alice, bob = enc.generate_keypair(), enc.generate_keypair()
    concern_key = enc.new_key()
    sealed = enc.seal_to_public_key(alice.public, concern_key, context=CTX)
    assert enc.open_with_private_key(alice.private, sealed, context=CTX) == concern_key
    with pytest.raises(enc.DecryptionError):
        enc.open_with_private_key(bob.private, sealed, context=CTX)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(enc.DecryptionError):
        enc.open_with_private_key(alice.private, bytes(tampered), context=CTX)
    assert enc.public_key_of(alice.private) == alice.public


def test_password_keys_are_independent_and_checked() -> None:
    salt = enc.new_salt()
    keys = enc.derive_password_keys("correct horse battery", salt, FAST)
    assert keys.verifier != keys.wrapping_key
    assert enc.verify_password("correct horse battery", salt, keys.verifier, FAST) == keys
    assert enc.verify_password("correct horse batterY", salt, keys.verifier, FAST) is None


def test_private_key_wrapping_by_password_and_recovery() -> None:
    pair = enc.generate_keypair()
    salt = enc.new_salt()
    keys = enc.derive_password_keys("pw pw pw pw pw", salt, FAST)
    wrapped = enc.wrap_private_key(keys.wrapping_key, pair.private, purpose="password")
    assert pair.private not in wrapped
    assert enc.unwrap_private_key(keys.wrapping_key, wrapped, purpose="password") == pair.private
    with pytest.raises(enc.DecryptionError):
        enc.unwrap_private_key(keys.wrapping_key, wrapped, purpose="recovery")

    recovery = enc.generate_recovery_key()
    rsalt = enc.new_salt()
    rwrapped = enc.wrap_private_key(enc.recovery_wrapping_key(recovery, rsalt, FAST),
                                    pair.private, purpose="recovery")
    # Typed in lower case without dashes, the recovery key still works.
    typed = recovery.lower().replace("-", " ")
    assert enc.unwrap_private_key(enc.recovery_wrapping_key(typed, rsalt, FAST), rwrapped,
                                  purpose="recovery") == pair.private


def test_receipt_has_at_least_80_bits_and_normalises() -> None:
    receipt = enc.generate_receipt()
    words = receipt.split()
    assert len(words) == enc.RECEIPT_WORDS
    bits = len(words) * (len(enc._WORDS) - 1).bit_length()
    assert bits >= 80
    messy = "  " + "-".join(w.upper() for w in words) + "\n"
    assert enc.normalise_receipt(messy) == receipt
    prefixes = " ".join(w[:4] for w in words)
    assert enc.normalise_receipt(prefixes) == receipt
    for bad in ("", "one two", receipt + " extra", "zzzz " * 8):
        with pytest.raises(enc.ReceiptFormatError):
            enc.normalise_receipt(bad)


def test_receipt_derivation_uses_separate_salts_and_the_pepper() -> None:
    pepper = b"p" * 32
    receipt = enc.generate_receipt()
    a = enc.derive_receipt_secrets(receipt, pepper, FAST)
    assert a.lookup != a.key
    assert enc.derive_receipt_secrets(receipt, pepper, FAST) == a
    assert enc.derive_receipt_secrets(receipt, b"q" * 32, FAST).lookup != a.lookup
    other = enc.generate_receipt()
    assert enc.derive_receipt_secrets(other, pepper, FAST).lookup != a.lookup
