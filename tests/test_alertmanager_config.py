"""The Alertmanager configuration (components/alerting/alertmanager.py) against the real amtool and Alertmanager.

`amtool check-config` validates it; `amtool config routes test` shows where each severity goes, for every rule
in components/alerting/rules.py with its real labels; a real Alertmanager (Debian `prometheus-alertmanager`) shows
the inhibition; `amtool template render` renders the Slack and PagerDuty templates; and no key is in the text.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import yaml

from components.alerting.alertmanager import render_alertmanager_config
from components.alerting.rules import render_rule_groups

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("staging", "production")
SECRET_NAME = "alertmanager-receivers"
PAGERDUTY_KEY = "pagerduty-routing-key"
SLACK_KEY = "slack-webhook-url"
HEARTBEAT_KEY = "heartbeat-url"
# The deployed Alertmanager's WebhookConfig (prometheus/alertmanager config/notifiers.go, v0.26 through v0.33): its
# YAML keys (NotifierConfig's send_resolved inlined), and its rule that exactly one of url / url_file is set.
WEBHOOK_CONFIG_KEYS = {"send_resolved", "http_config", "url", "url_file", "max_alerts"}
EXPECTED_RECEIVERS = {"critical": "pagerduty,slack", "warning": "slack", "none": "heartbeat"}


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: install the Debian package `prometheus-alertmanager` (.ci/run does)"
    return found


def _alerting(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["kingtavo:alerting"]


def _config(stack: str) -> dict:
    return render_alertmanager_config(secret_name=SECRET_NAME, pagerduty_key_file=PAGERDUTY_KEY,
                                      slack_url_file=SLACK_KEY, heartbeat_url_file=HEARTBEAT_KEY,
                                      slack_channel=_alerting(stack)["slackChannelName"], environment=stack)


def for_alertmanager_025(config: dict, heartbeat_url: str) -> dict:
    """The same configuration for the Debian amtool / Alertmanager 0.25 here, which predate `url_file` in webhook
    configs: the heartbeat's url_file becomes an inline (local, test-only) url. Nothing else changes; the
    url_file form itself is checked against the deployed version's schema in test_heartbeat_webhook_*."""
    config = json.loads(json.dumps(config))
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            if "url_file" not in webhook:  # the ops record's webhook has an inline URL (not a secret)
                continue
            assert webhook.pop("url_file").startswith("/etc/alertmanager/secrets/")
            webhook["url"] = heartbeat_url
    return config


def _config_file(stack: str, directory: Path, heartbeat_url: str = "http://127.0.0.1:9/heartbeat") -> Path:
    path = directory / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(for_alertmanager_025(_config(stack), heartbeat_url), sort_keys=False))
    return path


def _amtool(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("amtool"), *map(str, args)], capture_output=True, text=True, check=False)


def _routes(config_file: Path, labels: dict[str, str]) -> str:
    result = _amtool("config", "routes", "test", f"--config.file={config_file}",
                     *(f"{key}={value}" for key, value in labels.items()))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_accepts_the_config(stack, tmp_path):
    result = _amtool("check-config", _config_file(stack, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "4 receivers" in result.stdout and "1 inhibit rules" in result.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_reaches_the_receivers_of_its_severity(stack, tmp_path):
    """Each of our alerts, with the labels its rule gives it, routed by amtool."""
    config_file = _config_file(stack, tmp_path)
    groups = render_rule_groups(environment=stack, etl_no_success_hours=6,
                                runbook_base_url="https://runbooks.example.invalid")
    for rule in (rule for group in groups["groups"] for rule in group["rules"]):
        labels = {"alertname": rule["alert"], **rule["labels"]}
        assert _routes(config_file, labels) == EXPECTED_RECEIVERS[labels["severity"]], rule["alert"]


@pytest.mark.parametrize(("labels", "receivers"), [
    ({"alertname": "Watchdog", "severity": "none"}, "heartbeat"),        # also the chart's own Watchdog
    ({"alertname": "InfoInhibitor", "severity": "none"}, "discard"),
    ({"alertname": "CPUThrottlingHigh", "severity": "info"}, "discard"),
    ({"alertname": "KubePodCrashLooping", "severity": "warning"}, "slack"),
    ({"alertname": "KubeNodeNotReady", "severity": "critical"}, "pagerduty,slack"),
    ({"alertname": "SomethingWithoutSeverity"}, "slack"),                # never dropped on the floor
])
def test_the_charts_own_alerts_and_strays_are_routed_too(labels, receivers, tmp_path):
    assert _routes(_config_file("production", tmp_path), labels) == receivers


@pytest.mark.parametrize("stack", STACKS)
def test_receivers_read_their_keys_from_the_mounted_secret(stack):
    receivers = {receiver["name"]: receiver for receiver in _config(stack)["receivers"]}
    mount = f"/etc/alertmanager/secrets/{SECRET_NAME}"
    pagerduty = receivers["pagerduty"]["pagerduty_configs"]
    slack = receivers["slack"]["slack_configs"]
    assert [c["routing_key_file"] for c in pagerduty] == [f"{mount}/{PAGERDUTY_KEY}"]
    assert [c["api_url_file"] for c in slack] == [f"{mount}/{SLACK_KEY}"]
    assert [c["channel"] for c in slack] == [_alerting(stack)["slackChannelName"]]
    assert receivers["heartbeat"]["webhook_configs"] == [
        {"url_file": f"{mount}/{HEARTBEAT_KEY}", "send_resolved": False, "max_alerts": 1}]
    assert receivers["discard"] == {"name": "discard"}


@pytest.mark.parametrize("stack", STACKS)
def test_heartbeat_webhook_keeps_the_deployed_alertmanagers_schema(stack):
    """amtool 0.25 cannot parse url_file, so the webhook is held to the deployed WebhookConfig's keys and rule."""
    for receiver in _config(stack)["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            assert set(webhook) <= WEBHOOK_CONFIG_KEYS, set(webhook) - WEBHOOK_CONFIG_KEYS
            assert ("url" in webhook) != ("url_file" in webhook), "exactly one of url / url_file"
            assert isinstance(webhook["max_alerts"], int) and webhook["max_alerts"] >= 0


def test_the_heartbeat_is_resent_at_the_configured_interval():
    config = render_alertmanager_config(secret_name=SECRET_NAME, pagerduty_key_file=PAGERDUTY_KEY,
                                        slack_url_file=SLACK_KEY, heartbeat_url_file=HEARTBEAT_KEY,
                                        slack_channel="#a", environment="staging", heartbeat_interval_minutes=3)
    watchdog = config["route"]["routes"][0]
    assert watchdog["matchers"] == ['alertname="Watchdog"'] and watchdog["repeat_interval"] == "3m"
    with pytest.raises(ValueError, match="heartbeat_interval_minutes 0"):
        render_alertmanager_config(secret_name=SECRET_NAME, pagerduty_key_file=PAGERDUTY_KEY,
                                   slack_url_file=SLACK_KEY, heartbeat_url_file=HEARTBEAT_KEY,
                                   slack_channel="#a", environment="staging", heartbeat_interval_minutes=0)


def _keys(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


@pytest.mark.parametrize("stack", STACKS)
def test_no_key_appears_in_the_clear(stack):
    config = _config(stack)
    inline_secret_fields = {"routing_key", "service_key", "api_url", "url", "api_key", "password", "token",
                            "bearer_token", "credentials", "http_config"}
    assert not inline_secret_fields & set(_keys(config))
    text = yaml.safe_dump(config)
    assert "hooks.slack.com" not in text and "events.pagerduty.com" not in text
    assert not re.search(r"[A-Za-z0-9]{32}", text), "something key-shaped is in the configuration"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, what: str, attempts: int = 100) -> None:
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"Alertmanager never {what}")


@contextmanager
def _alertmanager(config_file: Path, storage: Path) -> Iterator[str]:
    """A real Alertmanager on a free local port, clustering off; notifications never leave the machine in time
    (group_wait is 30s and the receivers' key files do not exist here)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_tool("prometheus-alertmanager"), f"--config.file={config_file}", f"--storage.path={storage}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def ready() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
            try:
                return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        _wait_for(ready, "became ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_critical_inhibits_the_warning_of_the_same_alert_and_namespace(tmp_path):
    alerts = [
        {"alertname": "EtlDiskFilling", "severity": "critical", "namespace": "etl"},
        {"alertname": "EtlDiskFilling", "severity": "warning", "namespace": "etl"},     # inhibited
        {"alertname": "EtlDiskFilling", "severity": "warning", "namespace": "batch"},   # other namespace
        {"alertname": "EtlRunsFailing", "severity": "warning", "namespace": "etl"},     # other alert
    ]
    with _alertmanager(_config_file("production", tmp_path), tmp_path / "data") as url:
        response = requests.post(f"{url}/api/v2/alerts", json=[{"labels": labels} for labels in alerts], timeout=5)
        assert response.status_code == 200, response.text

        def statuses() -> dict[tuple[str, str, str], tuple[str, list[str]]]:
            listed = requests.get(f"{url}/api/v2/alerts", timeout=5).json()
            return {(a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["namespace"]):
                    (a["status"]["state"], sorted(r["name"] for r in a["receivers"])) for a in listed}

        inhibited = ("EtlDiskFilling", "warning", "etl")
        _wait_for(lambda: statuses().get(inhibited, ("",))[0] == "suppressed", "inhibited the warning")
        assert statuses() == {
            ("EtlDiskFilling", "critical", "etl"): ("active", ["pagerduty", "slack"]),
            inhibited: ("suppressed", ["slack"]),
            ("EtlDiskFilling", "warning", "batch"): ("active", ["slack"]),
            ("EtlRunsFailing", "warning", "etl"): ("active", ["slack"]),
        }


def _render_template(template: str, data: dict, directory: Path) -> str:
    (directory / "none.tmpl").write_text("")
    (directory / "data.json").write_text(json.dumps(data))
    result = _amtool("template", "render", f"--template.glob={directory / 'none.tmpl'}",
                     f"--template.data={directory / 'data.json'}", f"--template.text={template}")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_slack_and_pagerduty_texts_render_the_alert_and_its_runbook(tmp_path):
    rule = render_rule_groups(environment="production", etl_no_success_hours=6,
                              runbook_base_url="https://runbooks.example.invalid")["groups"][0]["rules"][1]
    annotations = {**rule["annotations"], "description": "ETL runs that failed in the last 30 minutes: about 2."}
    labels = {"alertname": rule["alert"], **rule["labels"]}
    data = {"receiver": "slack", "status": "firing", "externalURL": "http://alertmanager.invalid",
            "groupLabels": {"alertname": rule["alert"]}, "commonLabels": labels, "commonAnnotations": annotations,
            "alerts": [{"status": "firing", "labels": labels, "annotations": annotations,
                        "startsAt": "2025-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "", "fingerprint": "0"}]}
    receivers = {receiver["name"]: receiver for receiver in _config("production")["receivers"]}
    slack = receivers["slack"]["slack_configs"][0]
    pagerduty = receivers["pagerduty"]["pagerduty_configs"][0]

    assert _render_template(slack["title"], data, tmp_path) == "[FIRING:1] [production] EtlRunsFailing"
    assert _render_template(slack["text"], data, tmp_path).splitlines() == [
        "*warning*: ETL runs are failing",
        "ETL runs that failed in the last 30 minutes: about 2.",
        "Runbook: https://runbooks.example.invalid/etl-runs-failing.md",
    ]
    assert _render_template(pagerduty["description"], data, tmp_path) == (
        "[production] EtlRunsFailing: ETL runs are failing")
    assert _render_template(pagerduty["links"][0]["href"], data, tmp_path) == (
        "https://runbooks.example.invalid/etl-runs-failing.md")


def test_a_channel_id_is_refused_where_a_channel_name_belongs():
    with pytest.raises(ValueError, match="starting with #"):
        render_alertmanager_config(secret_name=SECRET_NAME, pagerduty_key_file=PAGERDUTY_KEY,
                                   slack_url_file=SLACK_KEY, heartbeat_url_file=HEARTBEAT_KEY,
                                   slack_channel="C0PRODALERTS", environment="production")


class _HeartbeatCheck(http.server.BaseHTTPRequestHandler):
    """A local stand-in for the dead man's switch: records every ping's JSON body."""

    pings: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).pings.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_real_alertmanager_pings_the_heartbeat_with_the_watchdog_and_nothing_else(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _HeartbeatCheck)
    _HeartbeatCheck.pings = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        heartbeat_url = f"http://127.0.0.1:{server.server_address[1]}/ping/check-id"
        with _alertmanager(_config_file("production", tmp_path, heartbeat_url), tmp_path / "data") as url:
            alerts = [{"labels": {"alertname": "Watchdog", "severity": "none", "environment": "production"}},
                      {"labels": {"alertname": "EtlRunsFailing", "severity": "warning", "namespace": "etl"}}]
            response = requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=5)
            assert response.status_code == 200, response.text
            _wait_for(lambda: bool(_HeartbeatCheck.pings), "pinged the heartbeat")
    finally:
        server.shutdown()
    ping = _HeartbeatCheck.pings[0]
    assert ping["receiver"] == "heartbeat" and ping["status"] == "firing"
    assert [alert["labels"]["alertname"] for alert in ping["alerts"]] == ["Watchdog"]
