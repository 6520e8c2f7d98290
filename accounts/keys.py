"""Staff public keys and the MACs that bind them to their accounts.

A database writer who replaces a staff member's public key (or changes their role) cannot
compute the binding MAC, which needs a server secret: nothing is ever sealed to a public key
whose binding fails (finding 2 of issue 8).
"""

from __future__ import annotations

from accounts.models import StaffUser
from config.settings import Settings
from core.encryption import bind_public_key, fingerprint, public_key_bound, server_key


class KeyBindingError(Exception):
    """A stored public key does not carry a valid binding MAC: it was written by someone
    without the server secret, so nothing may be sealed to it."""


def _binding_key(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, "key-binding")


def bind_key(user: StaffUser, settings: Settings) -> None:
    """(Re)compute the MAC that ties the user's public key to their role and email."""
    user.public_key_binding = bind_public_key(_binding_key(settings), user.owner, user.public_key)


def key_is_bound(user: StaffUser, settings: Settings) -> bool:
    return public_key_bound(_binding_key(settings), user.owner, user.public_key,
                            user.public_key_binding)


def sealable_public_key(user: StaffUser, settings: Settings) -> bytes:
    """The public key to seal to, after checking its binding MAC; raises
    :class:`KeyBindingError` (and seals nothing) if a database writer changed it."""
    if not key_is_bound(user, settings):
        raise KeyBindingError(f"the public key of staff account {user.id} is not bound")
    return user.public_key


def key_fingerprint(user: StaffUser) -> str:
    return fingerprint(user.public_key)
