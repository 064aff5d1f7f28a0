"""A small JSON-over-HTTPS client shared by the dynamic providers (Supabase Management API, Vercel REST API).

Why our own and not a library: the dynamic providers are pickled into the Pulumi state and run in
the provider host, so they should depend on the standard library only (no `requests` among the
program's dependencies), and the behaviour that matters here is small and specific:

- the bearer token goes only to an `https://` URL, or to plain `http://` on this machine
  (`localhost`, `127.0.0.1`, `::1`: the tests' local APIs). The host is parsed with
  `urllib.parse`, never compared with `startswith`, so `http://127.0.0.1.evil.example` is refused;
- 429 (and 503) are retried, waiting what `Retry-After` says (seconds or an HTTP date; Vercel's
  `X-RateLimit-Reset` epoch if that is all there is), at most `max_attempts` times and never
  longer than `max_wait` seconds in all; other errors are not retried;
- an error becomes one exception with the method, the path (no query), the HTTP status and the
  API's own message (`message`, `error`, `error.message`, `msg`), cut to 300 characters, with the
  token and every value in `redact` replaced by `[redacted]`;
- `paginate_offset` follows Supabase's `offset`/`limit` convention and `paginate_cursor` Vercel's
  `pagination.next` cursor (`until=`), so a list that spans pages is read whole.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

HTTP_TIMEOUT_SECONDS = 30
MESSAGE_LIMIT = 300
REDACTED = "[redacted]"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
RETRIED_STATUSES = frozenset({429, 503})


class ApiError(RuntimeError):
    """An API call failed. The message has the method, path, status and the API's message, never a secret."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def is_allowed_base_url(url: str) -> bool:
    """https to any host; plain http only to this machine (parsed host, not a prefix match)."""
    try:
        parsed = urllib.parse.urlsplit(url)
        host = parsed.hostname
        parsed.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if not host or parsed.username or parsed.password:
        return False
    if parsed.scheme == "https":
        return True
    return parsed.scheme == "http" and host in LOCAL_HOSTS


def api_message(body: bytes) -> str:
    """The API's own message from its JSON error body, else the start of the body."""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text[:MESSAGE_LIMIT] or "(empty body)"
    if isinstance(document, dict):
        nested = document.get("error")
        if isinstance(nested, dict) and isinstance(nested.get("message"), str):
            return nested["message"][:MESSAGE_LIMIT]
        for key in ("message", "error", "msg"):
            if isinstance(document.get(key), str):
                return document[key][:MESSAGE_LIMIT]
    return text[:MESSAGE_LIMIT]


def retry_delay(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before retrying, from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = headers.get("X-RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def sleep(seconds: float) -> None:
    """Module-level so tests can record the waits instead of sleeping."""
    time.sleep(seconds)


@dataclass(frozen=True)
class JsonApi:
    """One API at `base_url` with a bearer token. Built per operation, never kept on a provider."""

    base_url: str
    token: str = field(repr=False)
    name: str = "API"  # "Supabase Management API", "Vercel REST API": the start of every error
    user_agent: str = "kingtavo-pulumi"
    redact: tuple[str, ...] = field(default=(), repr=False)
    error: type[ApiError] = ApiError
    max_attempts: int = 5
    max_wait: float = 60.0
    default_wait: float = 1.0  # when a 429 names no delay

    def request(self, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        """The parsed JSON answer (None for an empty body). Raises `self.error`, scrubbed of secrets."""
        if not is_allowed_base_url(self.base_url):
            raise self.error(f"refusing to send the token to {self.base_url!r}: not https (plain http only to "
                             f"localhost or 127.0.0.1)")
        url = self.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "User-Agent": self.user_agent, **({"Content-Type": "application/json"} if data else {})}
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - checked
            try:
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                    raw = response.read()
                return json.loads(raw) if raw.strip() else None
            except urllib.error.HTTPError as failure:
                raw = failure.read()
                delay = retry_delay(failure.headers or {})
                delay = self.default_wait if delay is None else delay
                if (failure.code in RETRIED_STATUSES and attempt < self.max_attempts
                        and waited + delay <= self.max_wait):
                    waited += delay
                    sleep(delay)
                    continue
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise self.error(f"{self.name} {method} {path} failed{tries}: HTTP {failure.code}: "
                                 f"{self.scrub(api_message(raw))}", failure.code) from None
            except (urllib.error.URLError, TimeoutError) as failure:
                reason = self.scrub(str(getattr(failure, "reason", failure)))
                raise self.error(f"{self.name} {method} {path}: unreachable: {reason}") from None
            except json.JSONDecodeError:
                raise self.error(f"{self.name} {method} {path}: the answer is not JSON") from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def paginate_offset(self, path: str, items_key: str, limit: int = 100) -> Iterator[Any]:
        """Every item of a Supabase offset/limit list (`{items_key: [...], pagination: {count, offset}}`)."""
        offset = 0
        while True:
            page = self.request("GET", path, query={"offset": offset, "limit": limit}) or {}
            items = page.get(items_key) or []
            yield from items
            count = (page.get("pagination") or {}).get("count", 0)
            offset += len(items)
            if not items or offset >= count:
                return

    def paginate_cursor(self, path: str, items_key: str, query: Mapping[str, Any] | None = None,
                        limit: int = 100) -> Iterator[Any]:
        """Every item of a Vercel cursor list (`{items_key: [...], pagination: {next}}`, next page `until=next`)."""
        cursor = None
        while True:
            page = self.request("GET", path, query={**(query or {}), "limit": limit, "until": cursor}) or {}
            yield from page.get(items_key) or []
            cursor = (page.get("pagination") or {}).get("next")
            if cursor is None:
                return

    def scrub(self, text: str) -> str:
        for value in sorted({self.token, *self.redact}, key=len, reverse=True):
            if value:
                text = text.replace(value, REDACTED)
        return text
