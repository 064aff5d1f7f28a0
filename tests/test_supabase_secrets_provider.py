"""The Edge Function secrets dynamic provider (components/secrets/edge_functions.py) against a local Management API.

The local API is a stdlib `http.server` on 127.0.0.1 that implements `GET`, `POST` and `DELETE
/v1/projects/{ref}/secrets` as Supabase documents them (POST `[{"name", "value"}]`, DELETE
`["NAME"]`, GET `[{"name", "value": <digest>}]`, Bearer token, `{"message"}` on errors) and
records every request. The provider's methods are called directly with plain dicts, as the
dynamic provider host calls them; one test runs the resource class under Pulumi's mock engine to
check that the values stay secrets.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dill
import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.rpc import unwrap_rpc_secret

from components.platform import rest
from components.secrets.edge_functions import (
    EdgeFunctionSecrets,
    EdgeFunctionSecretsProvider,
    SupabaseApiError,
)

REF = "abcdefghijklmnopqrst"
OTHER_REF = "tsrqponmlkjihgfedcba"


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    content_type: str | None
    body: object


@dataclass
class FakeManagementApi:
    """The state behind the local API: secrets per project, the accepted token, requests, forced failures."""

    token: str
    projects: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[tuple[int, bytes]] = field(default_factory=list)  # answers for the next requests
    url: str = ""

    def stored(self, ref: str = REF) -> dict[str, str]:
        return self.projects.get(ref, {})


def make_handler(api: FakeManagementApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _answer(self, status: int, document: object) -> None:
            payload = document if isinstance(document, bytes) else json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            api.requests.append(Recorded(self.command, self.path, self.headers.get("Authorization"),
                                         self.headers.get("Content-Type"), body))
            parts = self.path.strip("/").split("/")
            if len(parts) != 4 or parts[:2] != ["v1", "projects"] or parts[3] != "secrets":
                return self._answer(404, {"message": "Not found"})
            if self.headers.get("Authorization") != f"Bearer {api.token}":
                return self._answer(401, {"message": "Unauthorized"})
            if api.failures:
                return self._answer(*api.failures.pop(0))
            project = api.projects.setdefault(parts[2], {})
            if self.command == "GET":
                return self._answer(200, [{"name": name, "value": hashlib.sha256(value.encode()).hexdigest()}
                                          for name, value in sorted(project.items())])
            if self.command == "POST":
                if any(item["name"].startswith("SUPABASE_") for item in body):
                    return self._answer(400, {"message": "Env var name cannot start with SUPABASE_"})
                project.update({item["name"]: item["value"] for item in body})
                return self._answer(201, b"")
            for name in body:
                project.pop(name, None)
            return self._answer(200, {})

        do_GET = do_POST = do_DELETE = _handle  # noqa: N815 - http.server's method names

    return Handler


@pytest.fixture
def api() -> Iterator[FakeManagementApi]:
    state = FakeManagementApi(token="fake-sbp-" + secrets.token_hex(12))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fake_value() -> str:
    return "fake-" + secrets.token_hex(12)


def props(api: FakeManagementApi, secrets_: dict[str, str], ref: str = REF) -> dict:
    return {"project_ref": ref, "api_url": api.url, "access_token": api.token, "secrets": secrets_, "names": None}


@pytest.fixture
def provider() -> EdgeFunctionSecretsProvider:
    return EdgeFunctionSecretsProvider()


@pytest.fixture
def created(api, provider):
    """A resource already created with two secrets; the request log is cleared afterwards."""
    desired = {"STRIPE_API_KEY": fake_value(), "WEBHOOK_SIGNING_KEY": fake_value()}
    result = provider.create(props(api, desired))
    api.requests.clear()
    return result


def test_create_posts_every_secret_with_the_bearer_token(api, provider):
    desired = {"WEBHOOK_SIGNING_KEY": fake_value(), "STRIPE_API_KEY": fake_value()}

    result = provider.create(props(api, desired))

    assert [(r.method, r.path) for r in api.requests] == [("POST", f"/v1/projects/{REF}/secrets")]
    request = api.requests[0]
    assert request.authorization == f"Bearer {api.token}"
    assert request.content_type == "application/json"
    assert request.body == [{"name": "STRIPE_API_KEY", "value": desired["STRIPE_API_KEY"]},
                            {"name": "WEBHOOK_SIGNING_KEY", "value": desired["WEBHOOK_SIGNING_KEY"]}]
    assert api.stored() == desired
    assert result.id == REF
    assert result.outs["names"] == ["STRIPE_API_KEY", "WEBHOOK_SIGNING_KEY"]
    assert result.outs["secrets"] == desired


def test_a_diff_with_no_change_reports_none_and_sends_nothing(api, provider, created):
    olds = {**created.outs, "__provider": "serialized"}
    news = {**props(api, dict(created.outs["secrets"])), "__provider": "serialized"}

    result = provider.diff(REF, olds, news)

    assert result.changes is False
    assert result.replaces == []
    assert api.requests == []


def test_an_update_without_changes_sends_nothing(api, provider, created):
    provider.update(REF, created.outs, props(api, dict(created.outs["secrets"])))

    assert api.requests == []


@pytest.mark.parametrize("change", ["value", "added", "removed", "token", "unknown"])
def test_a_diff_reports_an_in_place_update_for_secret_changes(api, provider, created, change):
    desired = dict(created.outs["secrets"])
    news = props(api, desired)
    if change == "value":
        desired["STRIPE_API_KEY"] = fake_value()
    elif change == "added":
        desired["OPENAI_API_KEY"] = fake_value()
    elif change == "removed":
        del desired["WEBHOOK_SIGNING_KEY"]
    elif change == "token":
        news["access_token"] = "fake-sbp-" + secrets.token_hex(12)
    else:
        news["secrets"] = Unknown()  # a preview where the values are not known yet

    result = provider.diff(REF, created.outs, news)

    assert result.changes is True
    assert result.replaces == []
    assert api.requests == []


def test_moving_to_another_project_replaces(api, provider, created):
    result = provider.diff(REF, created.outs, props(api, dict(created.outs["secrets"]), ref=OTHER_REF))

    assert result.changes is True
    assert result.replaces == ["project_ref"]


def test_update_posts_the_changed_and_new_secrets_and_deletes_the_removed(api, provider, created):
    old = created.outs["secrets"]
    desired = {"STRIPE_API_KEY": fake_value(), "OPENAI_API_KEY": fake_value()}

    result = provider.update(REF, created.outs, props(api, desired))

    assert [(r.method, r.body) for r in api.requests] == [
        ("POST", [{"name": "OPENAI_API_KEY", "value": desired["OPENAI_API_KEY"]},
                  {"name": "STRIPE_API_KEY", "value": desired["STRIPE_API_KEY"]}]),
        ("DELETE", ["WEBHOOK_SIGNING_KEY"]),
    ]
    assert all(r.authorization == f"Bearer {api.token}" for r in api.requests)
    assert api.stored() == desired
    assert old["STRIPE_API_KEY"] != desired["STRIPE_API_KEY"]
    assert result.outs["names"] == ["OPENAI_API_KEY", "STRIPE_API_KEY"]


def test_update_leaves_unchanged_secrets_out_of_the_request(api, provider, created):
    desired = {**created.outs["secrets"], "STRIPE_API_KEY": fake_value()}

    provider.update(REF, created.outs, props(api, desired))

    assert [(r.method, r.body) for r in api.requests] == [
        ("POST", [{"name": "STRIPE_API_KEY", "value": desired["STRIPE_API_KEY"]}])]


def test_delete_removes_only_the_managed_names(api, provider, created):
    unmanaged = fake_value()
    api.projects[REF]["SET_BY_HAND"] = unmanaged

    provider.delete(REF, created.outs)

    assert [(r.method, r.body) for r in api.requests] == [("DELETE", ["STRIPE_API_KEY", "WEBHOOK_SIGNING_KEY"])]
    assert api.stored() == {"SET_BY_HAND": unmanaged}


def test_refresh_drops_names_removed_outside_pulumi_so_the_next_update_restores_them(api, provider, created):
    del api.projects[REF]["WEBHOOK_SIGNING_KEY"]

    read = provider.read(REF, created.outs)

    assert [r.method for r in api.requests] == ["GET"]
    assert read.outs["names"] == ["STRIPE_API_KEY"]
    assert provider.diff(REF, read.outs, props(api, dict(created.outs["secrets"]))).changes is True
    provider.update(REF, read.outs, props(api, dict(created.outs["secrets"])))
    assert api.stored() == created.outs["secrets"]


def test_an_api_error_names_the_status_and_message_but_no_secret(api, provider):
    desired = {"STRIPE_API_KEY": fake_value()}
    api.failures.append((400, json.dumps({"message": "Secret quota exceeded for this project"}).encode()))

    with pytest.raises(SupabaseApiError) as raised:
        provider.create(props(api, desired))

    message = str(raised.value)
    assert "POST" in message and "HTTP 400" in message and "Secret quota exceeded for this project" in message
    assert desired["STRIPE_API_KEY"] not in message
    assert api.token not in message


def test_an_api_message_that_echoes_a_value_or_the_token_is_scrubbed(api, provider):
    desired = {"STRIPE_API_KEY": fake_value()}
    echo = f"invalid value {desired['STRIPE_API_KEY']} sent with token {api.token}"
    api.failures.append((422, json.dumps({"message": echo}).encode()))

    with pytest.raises(SupabaseApiError, match="HTTP 422") as raised:
        provider.create(props(api, desired))

    assert desired["STRIPE_API_KEY"] not in str(raised.value)
    assert api.token not in str(raised.value)
    assert "[redacted]" in str(raised.value)


def test_a_wrong_token_is_a_clear_401(api, provider):
    wrong = {**props(api, {"STRIPE_API_KEY": fake_value()}), "access_token": "fake-sbp-" + secrets.token_hex(12)}

    with pytest.raises(SupabaseApiError, match=r"HTTP 401: Unauthorized"):
        provider.create(wrong)


def test_an_unreachable_api_is_a_clear_error(provider):
    closed = {"project_ref": REF, "api_url": "http://127.0.0.1:9", "access_token": "fake-sbp-x",
              "secrets": {"STRIPE_API_KEY": fake_value()}}

    with pytest.raises(SupabaseApiError, match="unreachable"):
        provider.create(closed)


def test_check_refuses_supabase_reserved_names(api, provider):
    news = props(api, {"SUPABASE_URL": fake_value(), "STRIPE_API_KEY": fake_value(), "1BAD": fake_value()})

    failures = provider.check({}, news).failures

    reasons = sorted(f.reason for f in failures)
    assert {f.property for f in failures} == {"secrets"}
    assert len(reasons) == 2
    assert any("SUPABASE_URL starts with SUPABASE_" in reason for reason in reasons)
    assert any("1BAD is not an environment variable name" in reason for reason in reasons)


def test_check_accepts_valid_inputs_and_values_unknown_at_preview(api, provider):
    assert provider.check({}, props(api, {"STRIPE_API_KEY": fake_value()})).failures == []
    assert provider.check({}, {**props(api, {}), "secrets": Unknown()}).failures == []


@pytest.mark.parametrize("method", ["create", "update"])
def test_create_and_update_refuse_reserved_names_before_any_request(api, provider, created, method):
    desired = {**created.outs["secrets"], "SUPABASE_SERVICE_ROLE_KEY": fake_value()}

    with pytest.raises(ValueError, match="SUPABASE_SERVICE_ROLE_KEY starts with SUPABASE_"):
        if method == "create":
            provider.create(props(api, desired))
        else:
            provider.update(REF, created.outs, props(api, desired))

    assert api.requests == []


def test_the_token_is_never_sent_to_a_plain_http_host(provider):
    with pytest.raises(ValueError, match="api_url must be an https:// URL"):
        provider.create({"project_ref": REF, "api_url": "http://api.example.com", "access_token": "fake-sbp-x",
                         "secrets": {"STRIPE_API_KEY": fake_value()}})


@pytest.mark.parametrize("url", ["http://127.0.0.1.evil.example", "http://localhost.attacker.example:8080",
                                 "http://localhost@api.example.com"])
def test_a_host_that_only_starts_like_this_machine_is_refused(provider, url):
    with pytest.raises(ValueError, match="api_url must be an https:// URL"):
        provider.create({"project_ref": REF, "api_url": url, "access_token": "fake-sbp-x",
                         "secrets": {"STRIPE_API_KEY": fake_value()}})


def test_a_rate_limited_request_is_retried(api, provider, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(rest, "sleep", waits.append)
    api.failures.append((429, json.dumps({"message": "Too many requests"}).encode()))
    desired = {"STRIPE_API_KEY": fake_value()}

    provider.create(props(api, desired))

    assert [r.method for r in api.requests] == ["POST", "POST"]
    assert waits == [1.0]  # no Retry-After in the answer: the client's default wait
    assert api.stored() == desired


def test_the_provider_survives_pulumis_serialization():
    serialized = base64.b64decode(serialize_provider(EdgeFunctionSecretsProvider()))
    restored = dill.loads(serialized)  # noqa: S301 - the bytes were pickled just above

    assert isinstance(restored, EdgeFunctionSecretsProvider)


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps every RegisterResource request, to read the options the SDK sends."""

    def __init__(self, mocks):
        super().__init__(mocks)
        self.requests = []

    def RegisterResource(self, request):  # noqa: N802 - the engine's RPC name
        self.requests.append(request)
        return super().RegisterResource(request)


class _EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", {**args.inputs, "names": sorted(unwrap_rpc_secret(args.inputs["secrets"]))}

    def call(self, args):
        return {}


def test_values_and_token_stay_secrets_in_the_resource():
    mocks = _EchoMocks()
    monitor = _RecordingMonitor(mocks)
    runtime_settings.ROOT.set(None)  # a fresh stack, whatever an earlier mock run left behind
    pulumi.runtime.set_mocks(mocks, project="kingtavo", stack="staging", preview=False, monitor=monitor)
    checks = {}

    @pulumi.runtime.test
    def program():
        resource = EdgeFunctionSecrets("edge-function-secrets", project_ref=REF, access_token="fake-sbp-token",
                                       secrets={"STRIPE_API_KEY": "fake-value"}, api_url="https://api.supabase.com")

        def record(values):
            checks["secrets_secret"], checks["names"], checks["ref_secret"] = values

        async def secretness():
            return (await resource.secrets.is_secret(), await resource.names.future(),
                    await resource.project_ref.is_secret())

        return pulumi.Output.from_input(secretness()).apply(record)

    program()

    request = next(r for r in monitor.requests if r.type.endswith("EdgeFunctionSecrets"))
    assert request.type == "pulumi-python:dynamic/supabase:EdgeFunctionSecrets"
    assert set(request.additionalSecretOutputs) >= {"access_token", "secrets"}
    registered = request.object.fields
    for secret_input in ("access_token", "secrets"):
        assert registered[secret_input].struct_value.fields["value"] is not None
        assert "4dabf18193072939515e22adb298388d" in registered[secret_input].struct_value.fields
    assert "4dabf18193072939515e22adb298388d" not in registered["project_ref"].struct_value.fields
    assert checks == {"secrets_secret": True, "names": ["STRIPE_API_KEY"], "ref_secret": False}
