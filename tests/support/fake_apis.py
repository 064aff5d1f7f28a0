"""Local stand-ins for the Supabase Management API and the Vercel REST API, on 127.0.0.1.

They implement the endpoints the dynamic providers call as the published references describe them
(paths, methods, bodies, status codes: Supabase's `api_v1_openapi.json`, Vercel's REST reference and
CLI), keep state so that a drift can be made "by hand", and record every request:

- Bearer token checked on every call (401 `{"message": "Unauthorized"}` / Vercel's
  `{"error": {"code": "forbidden", ...}}` 403);
- `rate_limit(n, retry_after)` answers the next n requests with 429 and `Retry-After`;
- `fail(status, body)` answers the next request with that status and body;
- Supabase's SQL endpoint runs the statement with its `parameters` on a real PostgreSQL database
  (pg8000), answering the rows as a JSON array (201) or 400 `{"message": "Failed to run sql query: ..."}`;
- the error messages' wording is the fakes' own; the status codes are the references'.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PITR_VARIANTS = {"pitr_7": 7, "pitr_14": 14, "pitr_28": 28}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: Any


@dataclass
class FakeProject:
    plan: str = "pro"
    compute: str = "ci_small"
    addons: dict[str, str] = field(default_factory=dict)  # type -> variant id
    ssl: bool = False
    entitlement: str = "allowed"
    ipv4: list[str] = field(default_factory=lambda: ["0.0.0.0/0"])
    ipv6: list[str] = field(default_factory=lambda: ["::/0"])


@dataclass
class FakeApi:
    token: str
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    queued: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)

    def rate_limit(self, times: int, retry_after: str = "0") -> None:
        self.queued += [(429, {"Retry-After": retry_after}, json.dumps({"message": "Too many requests"}).encode())
                        for _ in range(times)]

    def fail(self, status: int, body: Any) -> None:
        self.queued.append((status, {}, body if isinstance(body, bytes) else json.dumps(body).encode()))

    def paths(self) -> list[tuple[str, str]]:
        return [(c.method, c.path) for c in self.calls]


@dataclass
class FakeSupabase(FakeApi):
    projects: dict[str, FakeProject] = field(default_factory=dict)
    sql: Callable[[str, list], list[dict]] | None = None  # runs a statement on the real database
    organization_projects: list[dict] = field(default_factory=list)

    def project(self, ref: str) -> FakeProject:
        return self.projects.setdefault(ref, FakeProject())


@dataclass
class FakeVercel(FakeApi):
    projects: dict[str, dict] = field(default_factory=dict)  # id -> {webAnalytics: {...}, speedInsights: {...}}
    members: list[dict] = field(default_factory=list)
    clock: int = 1_700_000_000_000


def _handler(api: FakeApi, route: Callable[[FakeApi, Call], tuple[int, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            call = Call(self.command, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                        self.headers.get("Authorization"), json.loads(raw) if raw else None)
            api.calls.append(call)
            if call.authorization != f"Bearer {api.token}":
                if isinstance(api, FakeVercel):
                    return self._send(403, json.dumps({"error": {"code": "forbidden",
                                                                 "message": "Not authorized"}}).encode())
                return self._send(401, json.dumps({"message": "Unauthorized"}).encode())
            if api.queued:
                status, headers, body = api.queued.pop(0)
                return self._send(status, body, headers)
            status, document = route(api, call)
            self._send(status, b"" if document is None else json.dumps(document).encode())

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server's names

    return Handler


PROJECT_PATH = re.compile(r"^/v1/projects/(?P<ref>[a-z]{20})/(?P<rest>.+)$")


def supabase_route(api: FakeSupabase, call: Call) -> tuple[int, Any]:
    if call.path.startswith("/v1/organizations/") and call.path.endswith("/projects"):
        offset, limit = int(call.query.get("offset", 0)), min(int(call.query.get("limit", 100)), 100)
        page = api.organization_projects[offset:offset + limit]
        return 200, {"projects": page, "pagination": {"count": len(api.organization_projects), "limit": limit,
                                                      "offset": offset}}
    match = PROJECT_PATH.match(call.path)
    if not match:
        return 404, {"message": "Cannot find route"}
    project, rest, method = api.project(match["ref"]), match["rest"], call.method
    if rest == "billing/addons" and method == "GET":
        selected = [{"type": kind, "variant": {"id": variant, "name": variant, "price": {
            "description": "fake", "type": "fixed", "interval": "monthly", "amount": 100}}}
            for kind, variant in project.addons.items()]
        return 200, {"selected_addons": selected, "available_addons": []}
    if rest == "billing/addons" and method == "PATCH":
        if call.body.get("addon_type") != "pitr" or call.body.get("addon_variant") not in PITR_VARIANTS:
            return 400, {"message": "addon_variant must be a valid add-on variant"}
        if project.plan == "free" or project.compute in ("ci_nano", "ci_micro"):
            return 403, {"message": "Point in time recovery requires a paid plan and at least the Small compute"}
        project.addons["pitr"] = call.body["addon_variant"]
        return 200, None
    if rest.startswith("billing/addons/") and method == "DELETE":
        variant = rest.rsplit("/", 1)[1]
        if project.addons.get("pitr") != variant:
            return 400, {"message": f"Add-on variant {variant} is not selected"}
        del project.addons["pitr"]
        return 200, None
    if rest == "ssl-enforcement" and method == "GET":
        return 200, {"currentConfig": {"database": project.ssl}, "appliedSuccessfully": True}
    if rest == "ssl-enforcement" and method == "PUT":
        project.ssl = bool(call.body["requestedConfig"]["database"])
        return 200, {"currentConfig": {"database": project.ssl}, "appliedSuccessfully": True}
    if rest == "network-restrictions" and method == "GET":
        return 200, {"entitlement": project.entitlement, "status": "applied",
                     "config": {"dbAllowedCidrs": project.ipv4, "dbAllowedCidrsV6": project.ipv6}}
    if rest == "network-restrictions/apply" and method == "POST":
        if project.entitlement != "allowed":
            return 403, {"message": "Network restrictions are not available for this project"}
        project.ipv4, project.ipv6 = list(call.body.get("dbAllowedCidrs") or []), list(
            call.body.get("dbAllowedCidrsV6") or [])
        return 201, {"entitlement": "allowed", "status": "stored",
                     "config": {"dbAllowedCidrs": project.ipv4, "dbAllowedCidrsV6": project.ipv6}}
    if rest == "database/query" and method == "POST":
        try:
            return 201, api.sql(call.body["query"], list(call.body.get("parameters") or []))
        except Exception as error:  # noqa: BLE001 - the API reports every database error the same way
            return 400, {"message": f"Failed to run sql query: {error}"}
    return 404, {"message": "Cannot find route"}


def vercel_route(api: FakeVercel, call: Call) -> tuple[int, Any]:
    if call.path.startswith("/v9/projects/") and call.method == "GET":
        project = api.projects.get(call.path.rsplit("/", 1)[1])
        if project is None or not (call.query.get("teamId") or call.query.get("slug")):
            return 404, {"error": {"code": "not_found", "message": "Project not found"}}
        return 200, {"id": call.path.rsplit("/", 1)[1], "name": "kingtavo-web", **project}
    toggles = {"/web/insights/toggle": "webAnalytics", "/speed-insights/toggle": "speedInsights"}
    if call.path in toggles and call.method == "POST":
        project = api.projects.get(call.query.get("projectId", ""))
        if project is None:
            return 404, {"error": {"code": "not_found", "message": "Project not found"}}
        api.clock += 1000
        feature = project.setdefault(toggles[call.path], {})
        if call.body.get("value"):
            feature.update(enabledAt=api.clock, hasData=False)
        else:
            feature["disabledAt"] = api.clock
        return 200, {"value": bool(call.body.get("value"))}
    if call.path.startswith("/v2/teams/") and call.path.endswith("/members"):
        limit, until = int(call.query.get("limit", 20)), call.query.get("until")
        ordered = sorted(api.members, key=lambda m: -m["joinedFrom"]["at"])
        if until:
            ordered = [m for m in ordered if m["joinedFrom"]["at"] < int(until)]
        page = ordered[:limit]
        more = len(ordered) > limit
        return 200, {"members": page, "pagination": {"hasNext": more, "count": len(page),
                                                     "next": page[-1]["joinedFrom"]["at"] if more else None}}
    return 404, {"error": {"code": "not_found", "message": "The requested path was not found"}}


@contextmanager
def serving(api: FakeApi) -> Iterator[FakeApi]:
    route = supabase_route if isinstance(api, FakeSupabase) else vercel_route
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api, route))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pg_runner(connect_kwargs: dict) -> Callable[[str, list], list[dict]]:
    """Run one statement with `$n` parameters on a real database, as the SQL endpoint does; rows as dicts."""
    import pg8000.native

    def run(query: str, parameters: list) -> list[dict]:
        connection = pg8000.native.Connection(**connect_kwargs)
        try:
            context = connection.execute_unnamed(query, vals=parameters)
            columns = [column["name"] for column in context.columns or []]
            return [dict(zip(columns, row, strict=True)) for row in context.rows or []]
        finally:
            connection.close()

    return run
