"""Counting failed attempts without knowing who made them.

The anonymous side never sees an IP address, so receipt guessing is limited two ways: per
browser session (a random id kept in the encrypted session cookie) and across the whole
process. A receipt has 88 bits and each check costs two scrypt runs, so even the global
ceiling leaves guessing hopeless; the per-session limit stops a person who has the wrong
receipt from hammering the form. Counts live in memory only.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class AttemptLimiter:
    """Sliding-window counter of failures per key."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self.window:
            q.popleft()
        if not q:
            del self._failures[key]
            return deque()
        return q

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._trim(key, time.monotonic())) >= self.limit

    def record_failure(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._trim(key, now)
            self._failures[key].append(now)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
