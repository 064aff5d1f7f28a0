"""Alertmanager's webhook to the ops record (components/alerting/alertmanager.py, `ops_record_url`): amtool
accepts it, every alert that pages or posts also reaches `ops-record` (and still pages and posts), and a real
Alertmanager delivers firing and resolved notifications to a local receiver with the bearer token read from
its credentials file."""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
import yaml

from components.alerting.alertmanager import OPS_RECORD_RECEIVER, render_alertmanager_config
from components.alerting.monitoring import OPS_RECORD_TOKEN_FILE
from tests.test_alertmanager_config import (
    HEARTBEAT_KEY,
    PAGERDUTY_KEY,
    SECRET_NAME,
    SLACK_KEY,
    WEBHOOK_CONFIG_KEYS,
    _alertmanager,
    _amtool,
    _routes,
    _wait_for,
    for_alertmanager_025,
)

FUNCTION_URL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-central-1.on.aws/"


def _config(url: str = FUNCTION_URL, **extra) -> dict:
    return render_alertmanager_config(secret_name=SECRET_NAME, pagerduty_key_file=PAGERDUTY_KEY,
                                      slack_url_file=SLACK_KEY, heartbeat_url_file=HEARTBEAT_KEY,
                                      slack_channel="#alerts", environment="production", ops_record_url=url,
                                      ops_record_token_file=OPS_RECORD_TOKEN_FILE, **extra)


def _local_copy(config: dict, token_file, directory) -> object:
    """For the Alertmanager 0.25 here: the heartbeat's url_file inlined, the token file a local one."""
    config = for_alertmanager_025(config, "http://127.0.0.1:9/heartbeat")
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            authorization = webhook.get("http_config", {}).get("authorization")
            if authorization:
                assert authorization["credentials_file"] == (
                    f"/etc/alertmanager/secrets/{SECRET_NAME}/{OPS_RECORD_TOKEN_FILE}")
                authorization["credentials_file"] = str(token_file)
    path = directory / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_the_ops_record_receiver_posts_every_alert_with_resolved_and_a_bearer_token_from_a_file():
    receivers = {receiver["name"]: receiver for receiver in _config()["receivers"]}
    assert receivers[OPS_RECORD_RECEIVER]["webhook_configs"] == [{
        "url": FUNCTION_URL, "send_resolved": True, "max_alerts": 0,
        "http_config": {"authorization": {
            "type": "Bearer",
            "credentials_file": f"/etc/alertmanager/secrets/{SECRET_NAME}/{OPS_RECORD_TOKEN_FILE}"}}}]
    for webhook in receivers[OPS_RECORD_RECEIVER]["webhook_configs"]:
        assert set(webhook) <= WEBHOOK_CONFIG_KEYS
    route = next(r for r in _config()["route"]["routes"] if r["receiver"] == OPS_RECORD_RECEIVER)
    assert route == {"receiver": OPS_RECORD_RECEIVER, "continue": True}


def test_url_and_token_file_come_together():
    with pytest.raises(ValueError, match="ops_record_url and ops_record_token_file"):
        render_alertmanager_config(secret_name=SECRET_NAME, pagerduty_key_file=PAGERDUTY_KEY,
                                   slack_url_file=SLACK_KEY, heartbeat_url_file=HEARTBEAT_KEY,
                                   slack_channel="#alerts", environment="production", ops_record_url=FUNCTION_URL)


def test_amtool_accepts_it(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("fake-token")
    result = _amtool("check-config", _local_copy(_config(), token_file, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "5 receivers" in result.stdout


@pytest.mark.parametrize(("labels", "receivers"), [
    ({"alertname": "KubeNodeNotReady", "severity": "critical"}, "ops-record,pagerduty,slack"),
    ({"alertname": "KubePodCrashLooping", "severity": "warning"}, "ops-record,slack"),
    ({"alertname": "SomethingWithoutSeverity"}, "ops-record,slack"),
    ({"alertname": "Watchdog", "severity": "none"}, "heartbeat"),   # the heartbeat is no history
    ({"alertname": "CPUThrottlingHigh", "severity": "info"}, "discard"),
])
def test_everything_that_pages_or_posts_is_also_recorded(labels, receivers, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("fake-token")
    assert _routes(_local_copy(_config(), token_file, tmp_path), labels) == receivers


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A local stand-in for the alert recorder's function URL: keeps each request's token and alerts."""

    calls: list[tuple[str, list[dict]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.headers.get("Authorization", ""),
                                 [(a["status"], a["labels"]["alertname"], a["fingerprint"]) for a in body["alerts"]]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_real_alertmanager_records_firing_then_resolved_with_the_token(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.calls = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "fake-am-token-" + secrets.token_hex(12)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    config = _config(url=f"http://127.0.0.1:{server.server_address[1]}/")
    config["route"].update(group_wait="1s", group_interval="1s")  # the same routing, faster for the test
    try:
        with _alertmanager(_local_copy(config, token_file, tmp_path), tmp_path / "data") as url:
            labels = {"alertname": "EtlRunsFailing", "severity": "warning", "namespace": "etl"}
            now = datetime.now(UTC)
            posted = requests.post(f"{url}/api/v2/alerts", json=[{"labels": labels,
                                                                  "startsAt": now.isoformat()}], timeout=5)
            assert posted.status_code == 200, posted.text
            _wait_for(lambda: any(alerts and alerts[0][0] == "firing" for _, alerts in _Recorder.calls),
                      "posted the firing alert to the ops record")
            ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
            requests.post(f"{url}/api/v2/alerts", json=[{"labels": labels, "startsAt": now.isoformat(),
                                                         "endsAt": ended}], timeout=5)
            _wait_for(lambda: any(alerts and alerts[0][0] == "resolved" for _, alerts in _Recorder.calls),
                      "posted the resolved alert to the ops record", attempts=150)
    finally:
        server.shutdown()
    assert {authorization for authorization, _ in _Recorder.calls} == {f"Bearer {token}"}
    firing = next(alerts for _, alerts in _Recorder.calls if alerts[0][0] == "firing")
    resolved = next(alerts for _, alerts in _Recorder.calls if alerts[0][0] == "resolved")
    assert firing[0][1] == resolved[0][1] == "EtlRunsFailing"
    assert firing[0][2] == resolved[0][2]  # the fingerprint the recorder resolves by
