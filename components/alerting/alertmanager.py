"""The cluster's Alertmanager configuration: critical pages through PagerDuty, warnings go to Slack.

Pure rendering, no Pulumi resources: components/alerting/monitoring.py puts the dict into kube-prometheus-stack's
`alertmanager.config` value. It routes the same way as the AWS side (components/alerting/routing.py):

- `alertname="Watchdog"` (severity none, always firing) -> `heartbeat`: a webhook to the dead man's switch
  (`kingtavo:heartbeatUrl`, a Healthchecks-style or PagerDuty heartbeat check), re-sent every
  `heartbeat_interval` so the check pages when the pings stop, i.e. when Prometheus, Alertmanager or the path
  between them dies. The URL holds a token, so it is read from a file: `webhook_configs[].url_file` (Alertmanager
  0.26 and later; kube-prometheus-stack 91.x deploys 0.33+). The amtool 0.25 on the test machines predates it,
  so tests/test_alertmanager_config.py checks that key against the deployed version's WebhookConfig and runs the
  old binaries on a copy that inlines a local URL instead;
- `severity=~"info|none"` -> `discard`: the chart's own informational alerts (and its InfoInhibitor) page nobody;
- everything else -> `ops-record` first, with `continue: true` (so the routes below still page and post): a
  webhook to the alert recorder's function URL (components/alerting/recorder.py), `send_resolved: true` so a
  cleared alert closes its row in `ops.alerts`, authenticated with `http_config.authorization` (type Bearer,
  `credentials_file` from the mounted Secret: the token is never in the configuration). Only when the stack
  has a recorder (`ops_record_url`);
- `severity="critical"` -> `pagerduty`, and on to Slack as well, so a page is visible where the team talks;
- `severity="warning"` -> `slack`; anything else (a rule without a severity) also lands in Slack rather than
  nowhere.

No key is in the configuration: the PagerDuty routing key and the Slack webhook URL are read from files that
Alertmanager mounts from a Kubernetes Secret (`alertmanager.alertmanagerSpec.secrets: [<name>]` mounts each key
of that Secret at /etc/alertmanager/secrets/<name>/<key>).

Helm merges maps and replaces lists: `route` is rendered with every field the chart's default sets, and our
`receivers` / `inhibit_rules` lists replace the chart's, so nothing of the chart's `null` routing survives.
"""

from __future__ import annotations

PAGERDUTY_RECEIVER = "pagerduty"
SLACK_RECEIVER = "slack"
HEARTBEAT_RECEIVER = "heartbeat"
DISCARD_RECEIVER = "discard"
OPS_RECORD_RECEIVER = "ops-record"
SECRETS_MOUNT_DIR = "/etc/alertmanager/secrets"

# Go templates, evaluated by Alertmanager per notification (a group of alerts).
_SLACK_TITLE = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
                "[%(environment)s] {{ .CommonLabels.alertname }}")
_SLACK_TEXT = """{{ range .Alerts }}*{{ .Labels.severity }}*: {{ .Annotations.summary }}
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
{{ end }}"""
_PAGERDUTY_DESCRIPTION = "[%(environment)s] {{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}"


def secret_file(secret_name: str, key: str) -> str:
    """Where Alertmanager finds one key of a Secret listed in `alertmanagerSpec.secrets`."""
    return f"{SECRETS_MOUNT_DIR}/{secret_name}/{key}"


def _route(heartbeat_interval: str, ops_record: bool = False) -> dict:
    route = {
        "receiver": SLACK_RECEIVER,
        "group_by": ["alertname", "namespace"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [
            {"matchers": ['alertname="Watchdog"'], "receiver": HEARTBEAT_RECEIVER,
             "group_wait": "0s", "group_interval": "1m", "repeat_interval": heartbeat_interval},
            {"matchers": ['severity=~"info|none"'], "receiver": DISCARD_RECEIVER},
            {"matchers": ['severity="critical"'], "receiver": PAGERDUTY_RECEIVER, "continue": True},
            {"matchers": ['severity=~"critical|warning"'], "receiver": SLACK_RECEIVER},
        ],
    }
    if ops_record:  # after the heartbeat and the discarded ones, before anything that pages or posts
        route["routes"].insert(2, {"receiver": OPS_RECORD_RECEIVER, "continue": True})
        # a matched child route takes the place of the root's receiver: strays (no severity) keep landing in Slack
        route["routes"].append({"receiver": SLACK_RECEIVER})
    return route


def _pagerduty_receiver(*, routing_key_file: str, environment: str) -> dict:
    return {"name": PAGERDUTY_RECEIVER, "pagerduty_configs": [{
        "routing_key_file": routing_key_file,
        "send_resolved": True,
        "severity": "critical",
        "group": environment,
        "description": _PAGERDUTY_DESCRIPTION % {"environment": environment},
        "links": [{"href": "{{ .CommonAnnotations.runbook_url }}", "text": "Runbook"}],
    }]}


def _slack_receiver(*, api_url_file: str, channel: str, environment: str) -> dict:
    return {"name": SLACK_RECEIVER, "slack_configs": [{
        "api_url_file": api_url_file,
        "channel": channel,
        "send_resolved": True,
        "title": _SLACK_TITLE % {"environment": environment},
        "text": _SLACK_TEXT,
    }]}


def _heartbeat_receiver(*, url_file: str) -> dict:
    # send_resolved off: the Watchdog never resolves, and a heartbeat check only counts pings.
    return {"name": HEARTBEAT_RECEIVER, "webhook_configs": [{
        "url_file": url_file, "send_resolved": False, "max_alerts": 1}]}


def _ops_record_receiver(*, url, token_file: str) -> dict:
    # max_alerts 0: every alert of the group, each is a row; the URL is not a secret, the token is a file.
    return {"name": OPS_RECORD_RECEIVER, "webhook_configs": [{
        "url": url, "send_resolved": True, "max_alerts": 0,
        "http_config": {"authorization": {"type": "Bearer", "credentials_file": token_file}}}]}


def render_alertmanager_config(*, secret_name: str, pagerduty_key_file: str, slack_url_file: str,
                               heartbeat_url_file: str, slack_channel: str, environment: str,
                               heartbeat_interval_minutes: int = 5, ops_record_url=None,
                               ops_record_token_file: str | None = None) -> dict:
    """The Alertmanager configuration. `pagerduty_key_file`, `slack_url_file`, `heartbeat_url_file` and
    `ops_record_token_file` are key names inside the Secret `secret_name` (PagerDuty Events API v2 routing key;
    Slack incoming-webhook URL; the dead man's switch's ping URL; the alert recorder's bearer token), not values.
    `ops_record_url` (the alert recorder's function URL, a string or an Output) adds the ops-record route."""
    if (ops_record_url is None) != (ops_record_token_file is None):
        raise ValueError("ops_record_url and ops_record_token_file: give both (the recorder) or neither")
    if not slack_channel.startswith("#"):
        raise ValueError(f"slack_channel {slack_channel!r} must be a channel name starting with #")
    if not 1 <= heartbeat_interval_minutes <= 60:
        raise ValueError(f"heartbeat_interval_minutes {heartbeat_interval_minutes} must be between 1 and 60")
    return {
        "route": _route(f"{heartbeat_interval_minutes}m", ops_record=ops_record_url is not None),
        "inhibit_rules": [
            # a critical alert silences the warning of the same alert in the same namespace
            {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
             "equal": ["alertname", "namespace"]},
        ],
        "receivers": [
            _pagerduty_receiver(routing_key_file=secret_file(secret_name, pagerduty_key_file),
                                environment=environment),
            _slack_receiver(api_url_file=secret_file(secret_name, slack_url_file), channel=slack_channel,
                            environment=environment),
            _heartbeat_receiver(url_file=secret_file(secret_name, heartbeat_url_file)),
            {"name": DISCARD_RECEIVER},
            *([_ops_record_receiver(url=ops_record_url, token_file=secret_file(secret_name, ops_record_token_file))]
              if ops_record_url is not None else []),
        ],
    }
