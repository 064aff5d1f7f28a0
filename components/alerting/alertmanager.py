"""The cluster's Alertmanager configuration: critical pages through PagerDuty, warnings go to Slack.

Pure rendering, no Pulumi resources: components/alerting/monitoring.py puts the dict into kube-prometheus-stack's
`alertmanager.config` value. It routes the same way as the AWS side (components/alerting/routing.py):

- `alertname="Watchdog"` (severity none, always firing) -> `heartbeat`, which has no integration yet: a
  dead man's switch (a webhook that expects the Watchdog every few minutes) belongs there. Its URL holds a
  token, so it must come from a file, and `webhook_configs[].url_file` needs Alertmanager 0.26+ (the chart's
  Alertmanager has it; the amtool 0.25 these tests run on does not, so it is not rendered here yet);
- `severity=~"info|none"` -> `discard`: the chart's own informational alerts (and its InfoInhibitor) page nobody;
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


def _route() -> dict:
    return {
        "receiver": SLACK_RECEIVER,
        "group_by": ["alertname", "namespace"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [
            {"matchers": ['alertname="Watchdog"'], "receiver": HEARTBEAT_RECEIVER,
             "group_wait": "0s", "group_interval": "1m", "repeat_interval": "5m"},
            {"matchers": ['severity=~"info|none"'], "receiver": DISCARD_RECEIVER},
            {"matchers": ['severity="critical"'], "receiver": PAGERDUTY_RECEIVER, "continue": True},
            {"matchers": ['severity=~"critical|warning"'], "receiver": SLACK_RECEIVER},
        ],
    }


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


def render_alertmanager_config(*, secret_name: str, pagerduty_key_file: str, slack_url_file: str,
                               slack_channel: str, environment: str) -> dict:
    """The Alertmanager configuration. `pagerduty_key_file` and `slack_url_file` are key names inside the
    Secret `secret_name` (PagerDuty Events API v2 routing key; Slack incoming-webhook URL), not values."""
    if not slack_channel.startswith("#"):
        raise ValueError(f"slack_channel {slack_channel!r} must be a channel name starting with #")
    return {
        "route": _route(),
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
            {"name": HEARTBEAT_RECEIVER},
            {"name": DISCARD_RECEIVER},
        ],
    }
