"""The shared JSON client (components/platform/rest.py) against local HTTP servers: hosts, 429s, errors, pages."""

from __future__ import annotations

import email.utils
import secrets
import time

import pytest

from components.platform import rest
from components.platform.rest import ApiError, JsonApi, is_allowed_base_url, retry_delay
from components.secrets.supabase_api import ManagementApi, SupabaseApiError
from tests.support.fake_apis import FakeSupabase, FakeVercel, serving

REF = "abcdefghijklmnopqrst"


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Record the client's waits instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(rest, "sleep", recorded.append)
    return recorded


@pytest.fixture
def supabase():
    with serving(FakeSupabase(token="fake-sbp-" + secrets.token_hex(12))) as api:
        yield api


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://api.supabase.com", True),
    ("http://127.0.0.1:8080", True),
    ("http://localhost:9", True),
    ("http://[::1]:9", True),
    ("http://127.0.0.1.evil.example", False),  # a prefix match would let this through
    ("http://localhost.evil.example:80", False),
    ("http://api.supabase.com", False),
    ("http://" + "user:fake@" + "127.0.0.1", False),  # credentials in the URL (assembled: no URL-with-password in git)
    ("ftp://127.0.0.1", False),
    ("https://", False),
    ("http://127.0.0.1:notaport", False),
])
def test_the_token_goes_only_to_https_or_a_parsed_local_host(url, allowed):
    assert is_allowed_base_url(url) is allowed


def test_a_refused_host_gets_no_request(supabase):
    api = JsonApi("http://127.0.0.1.nip.io:1", supabase.token, name="Supabase Management API")

    with pytest.raises(ApiError, match="refusing to send the token"):
        api.request("GET", "/v1/projects")

    assert supabase.calls == []


def test_429_is_retried_after_the_wait_retry_after_names(supabase, waits):
    supabase.rate_limit(2, retry_after="3")

    enforced = ManagementApi(supabase.url, REF, supabase.token).ssl_enforced()

    assert enforced is False
    assert waits == [3.0, 3.0]
    assert supabase.paths() == [("GET", f"/v1/projects/{REF}/ssl-enforcement")] * 3


def test_retry_after_as_an_http_date_and_vercels_reset_header():
    now = time.time()
    later = email.utils.formatdate(now + 7, usegmt=True)
    assert 5.0 <= retry_delay({"Retry-After": later}, now=now) <= 7.0
    assert retry_delay({"X-RateLimit-Reset": str(int(now) + 4)}, now=now) == pytest.approx(4, abs=1)
    assert retry_delay({}) is None


def test_429_gives_up_after_the_attempts_with_the_status_and_message(supabase, waits):
    supabase.rate_limit(5, retry_after="1")

    with pytest.raises(SupabaseApiError, match=r"failed after 5 attempts: HTTP 429: Too many requests") as raised:
        ManagementApi(supabase.url, REF, supabase.token).ssl_enforced()

    assert raised.value.status == 429
    assert waits == [1.0] * 4


def test_429_asking_longer_than_the_wait_budget_fails_at_once(supabase, waits):
    supabase.rate_limit(1, retry_after="3600")

    with pytest.raises(SupabaseApiError, match="HTTP 429"):
        ManagementApi(supabase.url, REF, supabase.token).ssl_enforced()

    assert waits == []


def test_other_errors_are_not_retried_and_are_redacted(supabase, waits):
    value = "fake-" + secrets.token_hex(10)
    supabase.fail(400, {"message": f"bad value {value} for token {supabase.token}"})

    with pytest.raises(SupabaseApiError) as raised:
        ManagementApi(supabase.url, REF, supabase.token, redact=(value,)).apply_network_restrictions(["1.2.3.4/32"], [])

    message = str(raised.value)
    assert message.startswith(f"Supabase Management API POST /v1/projects/{REF}/network-restrictions/apply failed: "
                              f"HTTP 400: bad value [redacted] for token [redacted]")
    assert value not in message and supabase.token not in message
    assert waits == [] and len(supabase.calls) == 1


def test_a_non_json_error_body_is_quoted_short(supabase):
    supabase.fail(502, b"<html>" + b"x" * 1000 + b"</html>")

    with pytest.raises(SupabaseApiError, match="HTTP 502: <html>x+$") as raised:
        ManagementApi(supabase.url, REF, supabase.token).ssl_enforced()

    assert len(str(raised.value)) < 420


def test_offset_pagination_reads_every_page(supabase):
    supabase.organization_projects = [{"ref": f"{i:020d}", "name": f"p{i}"} for i in range(7)]
    api = JsonApi(supabase.url, supabase.token)

    names = [p["name"] for p in api.paginate_offset("/v1/organizations/kingtavo/projects", "projects", limit=3)]

    assert names == [f"p{i}" for i in range(7)]
    assert [c.query["offset"] for c in supabase.calls] == ["0", "3", "6"]


def test_cursor_pagination_follows_next_until_it_ends():
    with serving(FakeVercel(token="fake-vercel-" + secrets.token_hex(8))) as vercel:
        vercel.members = [{"uid": f"user{i}", "joinedFrom": {"at": 1000 + i}} for i in range(5)]
        api = JsonApi(vercel.url, vercel.token)

        uids = [m["uid"] for m in api.paginate_cursor("/v2/teams/team_x/members", "members", limit=2)]

        assert uids == ["user4", "user3", "user2", "user1", "user0"]
        assert [c.query.get("until") for c in vercel.calls] == [None, "1003", "1001"]


def test_vercels_nested_error_message_is_reported():
    with serving(FakeVercel(token="fake-vercel-" + secrets.token_hex(8))) as vercel, \
            pytest.raises(ApiError, match=r"HTTP 403: Not authorized"):
        JsonApi(vercel.url, "fake-wrong-token", name="Vercel REST API").request("GET", "/v9/projects/prj_x")
