"""tools/verify_flip.py deciding from recorded answers served by a local server: Prometheus' query API,
Sentry's organization issues API and the live page, in the shapes those services answer with."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tools import verify_flip

FLIP = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
QUERY = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'


def vector(*values: str) -> tuple[int, dict]:
    return 200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"namespace": "etl"}, "value": [FLIP.timestamp(), value]} for value in values]}}


PROM_ERROR = (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
PROM_DOWN = (503, {"status": "error", "errorType": "unavailable", "error": "storage not ready"})


def issues(*minutes_after_flip: int) -> tuple[int, list]:
    return 200, [{"id": str(i), "shortId": f"WEB-{i}", "title": "TypeError: x is undefined",
                  "firstSeen": (FLIP + timedelta(minutes=m)).isoformat().replace("+00:00", "Z")}
                 for i, m in enumerate(minutes_after_flip)]


class Recorded(BaseHTTPRequestHandler):
    answers: dict[str, list] = {}
    requests: list[tuple[str, dict, dict]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        parts = urlsplit(self.path)
        type(self).requests.append((parts.path, parse_qs(parts.query), dict(self.headers)))
        queue = self.answers.get(parts.path)
        if not queue:
            code, body = 404, {"detail": "not found"}
        else:
            code, body = queue.pop(0) if len(queue) > 1 else queue[0]
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    Recorded.answers, Recorded.requests = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "fake-sentry-" + secrets.token_hex(8)
    monkeypatch.setenv(verify_flip.SENTRY_TOKEN_ENV, token)
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    yield f"http://127.0.0.1:{server.server_port}", token, output
    server.shutdown()
    server.server_close()


def run(base: str, *extra: str, window: str = "0.5") -> int:
    return verify_flip.main(["--window", window, "--interval", "0.05", "--consecutive", "2", "--timeout", "2",
                             "--since", FLIP.isoformat(), *extra])


def prometheus(base: str) -> list[str]:
    return ["--prometheus-url", base, "--query", QUERY, "--max-5xx-ratio", "0.05"]


def sentry(base: str) -> list[str]:
    return ["--sentry-url", base, "--sentry-org", "kingtavo", "--sentry-project", "kingtavo-web-production",
            "--sentry-environment", "production", "--max-new-issues", "3"]


def test_a_healthy_window_holds(recorded, capsys):
    base, token, output = recorded
    Recorded.answers = {
        "/api/v1/query": [vector("0.01"), vector("0.02"), vector(), vector("NaN"), vector("0.004", "0.03")],
        "/api/0/organizations/kingtavo/issues/": [issues(-30, -5)],  # first seen before the flip: not new
        "/": [(200, '<div id="__next">app</div>')],
    }
    assert run(base, *prometheus(base), *sentry(base), "--endpoint", "live", f"{base}/", "--contains",
               'id="__next"') == 0
    out = capsys.readouterr().out
    assert "verify-flip: hold: no breach in" in out
    assert token not in out
    assert output.read_text().startswith("decision=hold\n")
    prom = [r for r in Recorded.requests if r[0] == "/api/v1/query"]
    assert prom[0][1]["query"] == [QUERY]
    sentry_request = next(r for r in Recorded.requests if r[0].endswith("/issues/"))
    assert sentry_request[1]["query"] == ["firstSeen:>=2026-12-01T10:00:00"]
    assert sentry_request[1]["environment"] == ["production"]
    assert sentry_request[2]["Authorization"] == f"Bearer {token}"


def test_a_sustained_5xx_breach_flips_back_at_once(recorded, capsys):
    base, _, output = recorded
    Recorded.answers = {"/api/v1/query": [vector("0.01"), vector("0.08"), vector("0.12"), vector("0.01")]}
    assert run(base, *prometheus(base), window="5") == 1
    out = capsys.readouterr().out
    assert "verify-flip: flip-back: 5xx ratio 0.12 over 0.05 in 2 sample(s) in a row" in out
    assert "sample 4" not in out  # the watch ends at the breach, not at the end of the window
    assert "decision=flip-back\nreason=5xx ratio 0.12 over 0.05" in output.read_text()


def test_a_single_5xx_blip_does_not_flip_back(recorded, capsys):
    base, _, _ = recorded
    Recorded.answers = {"/api/v1/query": [vector("0.09"), vector("0.01"), vector("0.07"), vector("0.02")]}
    assert run(base, *prometheus(base)) == 0
    assert "hold" in capsys.readouterr().out


def test_new_sentry_issues_over_the_limit_flip_back(recorded, capsys):
    base, _, _ = recorded
    Recorded.answers = {"/api/0/organizations/kingtavo/issues/": [issues(-10, 1), issues(-10, 1, 2, 3, 4)]}
    assert run(base, *sentry(base), window="5") == 1
    assert "flip-back: new Sentry issues 4 over 3 in 1 sample(s) in a row" in capsys.readouterr().out


def test_a_failing_live_page_flips_back(recorded, capsys):
    base, _, _ = recorded
    Recorded.answers = {"/": [(200, '<div id="__next">app</div>'), (502, "Bad Gateway"), (502, "Bad Gateway")]}
    assert run(base, "--endpoint", "live", f"{base}/", "--contains", 'id="__next"', window="5") == 1
    assert "flip-back: failing smoke endpoints 1 over 0 in 2 sample(s) in a row" in capsys.readouterr().out


def test_an_unobservable_flip_is_inconclusive_not_a_guess(recorded, capsys):
    base, _, output = recorded
    Recorded.answers = {"/api/v1/query": [PROM_DOWN, PROM_ERROR, vector("0.01"), PROM_DOWN]}
    assert run(base, *prometheus(base)) == 3
    out = capsys.readouterr().out
    assert "5xx ratio = unavailable" in out and "verify-flip: inconclusive: no signal could be read in" in out
    assert output.read_text().startswith("decision=inconclusive\n")


@pytest.mark.parametrize(("args", "message"), [
    ([], "nothing to watch"),
    (["--prometheus-url", "http://127.0.0.1:9"], "--prometheus-url and --query go together"),
    (["--sentry-org", "kingtavo"], "--sentry-org and --sentry-project go together"),
    (["--consecutive", "0", "--prometheus-url", "http://127.0.0.1:9", "--query", "up"], "--consecutive"),
    (["--since", "yesterday", "--sentry-org", "o", "--sentry-project", "p"], "--since: expected an ISO time"),
])
def test_bad_input_exits_two_naming_the_option(args, message, capsys, monkeypatch):
    monkeypatch.setenv(verify_flip.SENTRY_TOKEN_ENV, "fake-token")
    with pytest.raises(SystemExit) as exited:
        verify_flip.main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_sentry_signal_needs_its_token(monkeypatch, capsys):
    monkeypatch.delenv(verify_flip.SENTRY_TOKEN_ENV, raising=False)
    with pytest.raises(SystemExit):
        verify_flip.main(["--sentry-org", "o", "--sentry-project", "p"])
    assert "needs SENTRY_AUTH_TOKEN set" in capsys.readouterr().err
