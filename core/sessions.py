"""Encrypted cookie sessions.

Flask's default session cookie is signed but readable. Here the whole session is sealed with
AES-GCM under a key derived from the app's own secret, so a cookie copied from a browser
reveals nothing, and each app (anonymous side, staff side) has its own key and cookie name.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from core.encryption import DecryptionError, open_sealed, seal

_CONTEXT = b"speakup/session-cookie"


class _SealingSerializer:
    """The ``dumps``/``loads`` pair Flask's cookie session expects, sealing instead of signing."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._json = TaggedJSONSerializer()

    def dumps(self, value: dict[str, Any]) -> str:
        payload = self._json.dumps({"v": value, "t": int(time.time())}).encode()
        return base64.urlsafe_b64encode(seal(self._key, payload, context=_CONTEXT)).decode()

    def loads(self, value: str, max_age: int | None = None) -> dict[str, Any]:
        try:
            blob = base64.urlsafe_b64decode(value.encode())
            data = self._json.loads(open_sealed(self._key, blob, context=_CONTEXT).decode())
        except (DecryptionError, ValueError, UnicodeDecodeError) as e:
            raise BadSignature("session cookie did not open") from e
        if max_age is not None and time.time() - data["t"] > max_age:
            raise BadSignature("session expired")
        result: dict[str, Any] = data["v"]
        return result


class SealedCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self, key: bytes) -> None:
        self._key = key

    def get_signing_serializer(self, app: Flask) -> _SealingSerializer:  # type: ignore[override]
        return _SealingSerializer(self._key)
