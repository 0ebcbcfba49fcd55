"""Rate limits of the request form: per client address and per email address, in-process.

Kept in memory, per API-server worker process: with ``N`` workers a client gets at most ``N`` times the limit, and a
restart forgets the counts. That bounds abuse of a public form (floods of runs, mail bombing someone's address
through our acknowledgements) without a table; put a proxy limit in front for a hard global cap (docs/request-form.md).
Keys are HMACs of the address and the email, so this memory holds no personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

#: The key that hashes addresses for this process (never stored, never logged).
_KEY = secrets.token_bytes(32)


class RateLimiter:
    """At most ``limit`` hits per key within ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(value: str) -> str:
        return hmac.new(_KEY, value.strip().lower().encode(), hashlib.sha256).hexdigest()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def allowed(self, value: str) -> bool:
        """Would one more hit for ``value`` be within the limit? (Records nothing.)"""
        with self._lock:
            return len(self._recent(self.key(value), self._clock())) < self.limit

    def hit(self, value: str) -> bool:
        """Record a hit; False when it is over the limit (the hit is then not recorded)."""
        with self._lock:
            now = self._clock()
            hits = self._recent(self.key(value), now)
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle keys so memory stays bounded
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class UsedNonces:
    """The CSRF nonces already used, remembered for as long as their tokens are valid: each form posts once."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def use(self, nonce: str) -> bool:
        """True the first time a nonce is used; False after."""
        with self._lock:
            now = self._clock()
            if len(self._seen) > 10_000:
                self._seen = {n: t for n, t in self._seen.items() if t > now - self.ttl}
            if nonce in self._seen and self._seen[nonce] > now - self.ttl:
                return False
            self._seen[nonce] = now
            return True

    def forget(self, nonce: str) -> None:
        with self._lock:
            self._seen.pop(nonce, None)
