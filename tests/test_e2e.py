"""tools/e2e.py driving Debian's Chromium through Playwright against pages this test serves: a healthy,
protected deployment wired to the stack's Supabase, and a broken one (an exception, a console error, a
failed request, a missing stylesheet, another project's Supabase URL and key, a failing named page)."""

from __future__ import annotations

import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools import e2e

STACK_URL = "https://stackrefabcdef.supabase.co"
STACK_KEY = "sb_publishable_fake-stack-key-" + secrets.token_hex(4)
ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture(autouse=True)
def chromium_installed():
    """A missing browser fails the tests (it would fail the deploy's check too), it does not skip them."""
    assert Path(e2e.DEBIAN_CHROMIUM).exists(), "Debian's chromium is missing: apt-get install chromium (.ci/run)"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pages(BaseHTTPRequestHandler):
    secret = ""
    api_origin = ""
    dead_port = 0
    bypass_seen: list[str] = []

    def log_message(self, *args):
        pass

    def _send(self, code: int, body: str, kind: str = "text/html"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        if self.headers.get(e2e.BYPASS_HEADER) is not None:
            type(self).bypass_seen.append(f"{self.server.server_port}{self.path}")
        path = self.path
        if path.startswith("/rest/v1/"):  # the "Supabase" origin
            self._send(200, "[]", "application/json")
        elif self.headers.get(e2e.BYPASS_HEADER) != self.secret and not path.startswith("/broken"):
            self._send(401, "<html><title>Authentication Required</title><body>Vercel Authentication</body></html>")
        elif path == "/":
            self._send(200, '<html><head><title>Kingtavo</title><script defer src="/_next/static/app.js"></script>'
                            '</head><body><div id="__next"></div></body></html>')
        elif path == "/_next/static/app.js":
            self._send(200, f'const env = {{NEXT_PUBLIC_SUPABASE_URL: "{STACK_URL}", '
                            f'NEXT_PUBLIC_SUPABASE_ANON_KEY: "{STACK_KEY}"}};\n'
                            'document.getElementById("__next").textContent = "Kingtavo dashboard";\n'
                            f'fetch("{self.api_origin}/rest/v1/").then(r => r.json());\n', "text/javascript")
        elif path == "/login":
            self._send(200, "<html><head><title>Sign in</title></head><body><h1>Sign in</h1></body></html>")
        elif path == "/broken/":
            self._send(200, '<html><head><title>Kingtavo</title><link rel="stylesheet" href="/broken/missing.css">'
                            '<script defer src="/broken/app.js"></script></head><body><div id="__next">'
                            'Kingtavo</div></body></html>')
        elif path == "/broken/app.js":
            self._send(200, 'const env = {NEXT_PUBLIC_SUPABASE_URL: "https://otherprojectref.supabase.co", '
                            'NEXT_PUBLIC_SUPABASE_ANON_KEY: "sb_publishable_fake-other-key"};\n'
                            'console.error("Hydration failed");\n'
                            f'fetch("http://127.0.0.1:{self.dead_port}/rest/v1/").catch(() => {{}});\n'
                            'throw new Error("boom in app.js");\n', "text/javascript")
        elif path == "/broken/login":
            self._send(500, "<html><title>Error</title><body>Internal Server Error</body></html>")
        else:
            self._send(404, "<html><title>404</title><body>NOT_FOUND</body></html>")


@pytest.fixture
def served(monkeypatch):
    Pages.secret = "fake-bypass-" + secrets.token_hex(8)
    Pages.bypass_seen = []
    Pages.dead_port = closed_port()
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Pages) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    app, api = (f"http://127.0.0.1:{s.server_port}" for s in servers)
    Pages.api_origin = api
    monkeypatch.setenv(e2e.BYPASS_ENV, Pages.secret)
    yield app, servers[1].server_port
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_healthy_protected_deployment_passes_and_the_bypass_stays_on_its_origin(served, capsys):
    app, api_port = served
    code = e2e.main(["--url", f"{app}/", "--bypass", "--supabase-url", STACK_URL, "--anon-key", STACK_KEY,
                     "--page", "/login", "--page-contains", "Sign in", "--timeout", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all checks passed" in out
    assert Pages.bypass_seen and not [seen for seen in Pages.bypass_seen if seen.startswith(str(api_port))]
    assert Pages.secret not in out


def test_without_the_bypass_the_protected_page_is_reported(served, capsys, monkeypatch):
    app, _ = served
    assert e2e.main(["--url", f"{app}/", "--supabase-url", STACK_URL, "--anon-key", STACK_KEY,
                     "--timeout", "20"]) == 1
    assert f"::error::e2e: {app}/: answered 401" in capsys.readouterr().out


def test_a_broken_deployment_fails_naming_every_problem(served, capsys):
    app, _ = served
    code = e2e.main(["--url", f"{app}/broken/", "--supabase-url", STACK_URL, "--anon-key", STACK_KEY,
                     "--page", "/broken/login", "--page-contains", "Sign in", "--timeout", "20"])
    out = capsys.readouterr().out
    assert code == 1
    for expected in (
        "console error: Hydration failed",
        "uncaught exception: boom in app.js",
        f"{app}/broken/missing.css answered 404",
        "request failed: http://127.0.0.1:",
        f"the page does not carry the stack's Supabase URL {STACK_URL}",
        "the page carries another Supabase project: otherprojectref.supabase.co",
        "the page does not carry the stack's anon key",
        "the page carries another Supabase publishable key than the stack's",
        f"{app}/broken/login: answered 500",
    ):
        assert expected in out, f"{expected!r} not reported:\n{out}"


def test_the_stack_file_supplies_the_expected_supabase_wiring(served, capsys, tmp_path):
    app, _ = served
    stack = tmp_path / "Pulumi.staging.yaml"
    stack.write_text(f"config:\n  kingtavo:supabase:\n    url: {STACK_URL}\n    anonKey: {STACK_KEY}\n")
    assert e2e.main(["--url", f"{app}/", "--bypass", "--stack-file", str(stack), "--timeout", "20"]) == 0
    staging = ROOT / "Pulumi.staging.yaml"
    assert e2e.main(["--url", f"{app}/", "--bypass", "--stack-file", str(staging), "--timeout", "20"]) == 1
    out = capsys.readouterr().out
    assert "the page carries another Supabase project: stackrefabcdef.supabase.co" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--url", ""], "--url: expected an http(s) URL"),
    (["--url", "https://x.example.invalid/"], "give --stack-file, or --supabase-url and --anon-key"),
    (["--url", "https://x.example.invalid/", "--supabase-url", "https://evil.example", "--anon-key", "k"],
     "--supabase-url: expected https://<project ref>.supabase.co"),
    (["--url", "https://x.example.invalid/", "--page-contains", "x"], "--page-contains must follow a --page"),
    (["--url", "https://x.example.invalid/", "--page", "login"], "--page: expected a path starting with /"),
])
def test_bad_input_exits_two_naming_the_option(args, message, capsys):
    with pytest.raises(SystemExit) as exited:
        e2e.main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
