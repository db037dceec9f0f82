"""A JSON GET over httpx that retries what is worth retrying, within bounds.

429 (rate limited) and 5xx are tried again, at most ``max_tries`` times in all, waiting what
the server's Retry-After asks (seconds or an HTTP date), else 0.5 s, 1 s, 2 s ...; when the
next wait would take the total past ``max_wait_s`` it gives up at once instead of sleeping.
Every failure is a ``ServiceError`` whose message has the secret redacted (an httpx error
can carry the URL, and a v3 key travels in the URL).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from shared.keys import redact

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ServiceError(Exception):
    """The service could not answer (down, unreachable, rate limited, key refused)."""


def retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: the Retry-After header (delta seconds or
    an HTTP date) when the server sent one, else exponential backoff from 0.5 s."""
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return 0.5 * 2 ** (attempt - 1)


class JsonGetter:
    def __init__(self, client: Any, service: str, secret: str | None, *, max_tries: int,
                 max_wait_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client  # an httpx.Client with base_url, auth and timeout set
        self.service = service
        self.secret = secret
        self.max_tries = max_tries
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.requests = 0

    def _error(self, message: str) -> ServiceError:
        return ServiceError(redact(f"{self.service}: {message}", self.secret))

    def get(self, path: str, params: dict[str, Any]) -> dict | None:
        """The JSON object at ``path``; None when the service says 404 (no such thing)."""
        import httpx

        waited = 0.0
        for attempt in range(1, self.max_tries + 1):
            self.requests += 1
            try:
                response = self.client.get(path, params=params)
            except httpx.TimeoutException:
                raise self._error(f"no answer within {self.client.timeout.read} s "
                                  "(timed out)") from None
            except httpx.HTTPError as e:
                raise self._error(f"unreachable ({type(e).__name__}: {e})") from None
            status = response.status_code
            if status == 200:
                try:
                    data = response.json()
                except ValueError:
                    raise self._error("the answer is not JSON") from None
                if not isinstance(data, dict):
                    raise self._error("the answer is not a JSON object")
                return data
            if status == 404:
                return None
            if status in (401, 403):
                raise self._error(f"the API key was refused (HTTP {status}: "
                                  f"{_status_message(response)})")
            if status not in RETRY_STATUSES:
                raise self._error(f"HTTP {status} ({_status_message(response)})")
            delay = retry_after(response.headers.get("Retry-After"), attempt)
            what = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
            if attempt == self.max_tries:
                raise self._error(f"{what} after {attempt} tries")
            if waited + delay > self.max_wait_s:
                raise self._error(f"{what}; waiting {delay:.1f} s more would pass "
                                  f"max_retry_wait_s ({self.max_wait_s:g} s)")
            logger.info("%s: %s, try %d of %d in %.1f s", self.service, what, attempt + 1,
                        self.max_tries, delay)
            self.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _status_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    if isinstance(body, dict) and body.get("status_message"):
        return str(body["status_message"])[:200]
    return response.reason_phrase or "no message"
