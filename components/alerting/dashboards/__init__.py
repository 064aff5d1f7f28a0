"""Grafana dashboards as code: the JSON files next to this module, shipped as ConfigMaps.

kube-prometheus-stack's Grafana sidecar loads every ConfigMap carrying `DASHBOARD_LABEL` (the chart's default
label `grafana_dashboard` with value "1"); components/alerting/monitoring.py creates one ConfigMap per file. Every panel
queries the chart's default Prometheus datasource by its uid (`grafana.sidecar.datasources.uid`, default
`prometheus`), so a dashboard never depends on a datasource name a user can rename.

To add a dashboard, drop `<name>.json` here (export from Grafana with "share externally" off, so it references
the datasource by uid); tests/test_dashboards.py checks the JSON, panel ids, datasource uids and that every
query parses as PromQL.
"""

from __future__ import annotations

from pathlib import Path

DASHBOARD_LABEL = ("grafana_dashboard", "1")
DATASOURCE_UID = "prometheus"
DASHBOARDS_DIR = Path(__file__).parent


def dashboard_files() -> dict[str, str]:
    """{filename: JSON text} for every dashboard, ready to be a ConfigMap's data."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(DASHBOARDS_DIR.glob("*.json"))}
