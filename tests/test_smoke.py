"""tools/smoke.py against a local HTTP server that behaves like the deployments it checks: one behind Vercel
Authentication (401 without the bypass header), a wrong page answering 200, a slow start, a hanging one."""

from __future__ import annotations

import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools import smoke

APP_PAGE = b'<html><head><title>Kingtavo</title></head><body><div id="__next">dashboard</div></body></html>'

# user:password, assembled at run time so no committed line is a URL with a password in it.
FAKE_USERINFO = ":".join(("u", "fake-p"))


class FakeVercel(BaseHTTPRequestHandler):
    secret = ""
    started = 0.0
    slow_start_seconds = 1.5
    seen_bypass: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, location: str | None = None):
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - the http.server API
        bypass = self.headers.get("x-vercel-protection-bypass")
        if bypass is not None:
            type(self).seen_bypass.append(self.path)
        if self.path == "/protected":
            if bypass == self.secret:
                self._send(200, APP_PAGE)
            else:
                self._send(401, b"<html>Authentication Required</html>")
        elif self.path == "/wrong":
            self._send(200, b"<html><title>Welcome to nginx</title></html>")
        elif self.path == "/slow":
            if time.monotonic() - type(self).started < self.slow_start_seconds:
                self._send(503, b"starting")
            else:
                self._send(200, APP_PAGE)
        elif self.path == "/login-redirect":
            self._send(307, b"", location="https://vercel.com/sso")
        elif self.path == "/hang":
            time.sleep(3)
            self._send(200, APP_PAGE)
        elif self.path == "/rest/v1/":
            self._send(401, b'{"message":"No API key found in request"}')
        else:
            self._send(404, b"DEPLOYMENT_NOT_FOUND")


@pytest.fixture
def site():
    FakeVercel.secret = "fake-bypass-" + secrets.token_hex(8)
    FakeVercel.started = time.monotonic()
    FakeVercel.seen_bypass = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVercel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", FakeVercel
    server.shutdown()
    server.server_close()


def test_a_protected_deployment_passes_with_the_bypass_header_and_the_header_goes_nowhere_else(
        site, monkeypatch, capsys):
    base, handler = site
    monkeypatch.setenv(smoke.BYPASS_ENV, handler.secret)
    code = smoke.main(["--deadline", "5", "--interval", "0.2",
                       "--endpoint", "idle", f"{base}/protected", "--status", "200", "--contains", "Kingtavo",
                       "--bypass",
                       "--endpoint", "supabase", f"{base}/rest/v1/", "--status", "200,401"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "smoke: ok idle" in out and "smoke: 2/2 passed" in out
    assert handler.seen_bypass == ["/protected"]
    assert handler.secret not in out


def test_without_the_bypass_a_protected_deployment_fails_and_says_so(site, monkeypatch, capsys):
    base, handler = site
    monkeypatch.setenv(smoke.BYPASS_ENV, "fake-wrong-secret")
    code = smoke.main(["--deadline", "1", "--interval", "0.3",
                       "--endpoint", "idle", f"{base}/protected", "--status", "200", "--bypass"])
    out = capsys.readouterr().out
    assert code == 1
    assert "smoke: FAILED idle" in out and "status 401, want 200 (protected: is --bypass and its secret right?)" in out
    assert "fake-wrong-secret" not in out


def test_a_wrong_page_answering_200_fails_on_its_content(site, capsys):
    base, _ = site
    code = smoke.main(["--deadline", "1", "--interval", "0.3",
                       "--endpoint", "live", f"{base}/wrong", "--contains", 'id="__next"'])
    out = capsys.readouterr().out
    assert code == 1
    assert "status 200 but the page lacks 'id=\"__next\"' (wrong page or deployment?)" in out


def test_a_slow_start_is_retried_until_it_answers(site, capsys):
    base, _ = site
    code = smoke.main(["--deadline", "10", "--interval", "0.3",
                       "--endpoint", "idle", f"{base}/slow", "--status", "200", "--contains", "Kingtavo"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "try 1: idle" in out and "status 503, want 200" in out and "smoke: ok idle" in out


def test_the_deadline_bounds_the_whole_run_even_against_a_hanging_server(site, capsys):
    base, _ = site
    started = time.monotonic()
    code = smoke.main(["--deadline", "1.5", "--interval", "0.2", "--timeout", "1",
                       "--endpoint", "hang", f"{base}/hang"])
    elapsed = time.monotonic() - started
    assert code == 1
    assert elapsed < 3.5
    assert "no answer (ReadTimeout)" in capsys.readouterr().out


def test_a_redirect_to_a_login_page_is_not_the_page(site, capsys):
    base, _ = site
    assert smoke.main(["--deadline", "0.5", "--endpoint", "idle", f"{base}/login-redirect"]) == 1
    assert "status 307, want 2xx" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    ([], "no --endpoint NAME URL to check"),
    (["--status", "200"], "--status must follow an --endpoint NAME URL"),
    (["--endpoint", "idle", ""], "--endpoint idle: empty URL"),
    (["--endpoint", "idle", "ftp://x.example.invalid/"], "not an http(s) URL"),
    (["--endpoint", "idle", "https://x.example.invalid/", "--status", "2XX"], "expected codes or classes"),
    (["--endpoint", "idle", "https://x.example.invalid/", "--bypass"], "needs VERCEL_AUTOMATION_BYPASS_SECRET set"),
    (["--deadline", "0", "--endpoint", "idle", "https://x.example.invalid/"], "--deadline: expected"),
])
def test_usage_errors_exit_two_naming_the_option(args, message, capsys, monkeypatch):
    monkeypatch.delenv(smoke.BYPASS_ENV, raising=False)
    with pytest.raises(SystemExit) as exited:
        smoke.main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_urls_are_printed_without_credentials_or_query():
    assert smoke.printable(f"https://{FAKE_USERINFO}@host.example.invalid:8443/p?token=x#f") == \
        "https://host.example.invalid:8443/p"
