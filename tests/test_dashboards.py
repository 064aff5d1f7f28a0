"""The Grafana dashboards (components/alerting/dashboards/): valid JSON, unique panel ids, one datasource uid, and every
query parsed by the real promtool (as a recording rule); the live-color query is also evaluated by promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from components.alerting.dashboards import DASHBOARD_LABEL, DATASOURCE_UID, dashboard_files

FILES = dashboard_files()
# Grafana's built-in interval variables, replaced by a duration so the query is plain PromQL.
GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range")


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install the Debian package `prometheus` (.ci/run does)"
    return found


def _panels(dashboard: dict) -> Iterator[dict]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def _targets(dashboard: dict) -> Iterator[tuple[dict, dict]]:
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def _datasources(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasources(item)


def _plain_promql(expr: str) -> str:
    for variable in GRAFANA_INTERVALS:
        expr = expr.replace(variable, "5m")
    return expr


def _dashboard(filename: str) -> dict:
    return json.loads(FILES[filename])


def test_the_etl_and_supabase_dashboards_ship():
    assert set(FILES) == {"etl.json", "supabase.json"}
    assert DASHBOARD_LABEL == ("grafana_dashboard", "1")  # kube-prometheus-stack's sidecar default


@pytest.mark.parametrize("filename", sorted(FILES))
def test_dashboard_is_valid_json_with_a_stable_uid(filename):
    dashboard = json.loads(FILES[filename])
    assert dashboard["uid"] == f"kingtavo-{filename.removesuffix('.json')}"
    assert dashboard["title"].startswith("Kingtavo / ")
    assert isinstance(dashboard["schemaVersion"], int)


def test_dashboard_uids_are_unique():
    uids = [json.loads(text)["uid"] for text in FILES.values()]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("filename", sorted(FILES))
def test_panel_ids_are_unique_and_every_panel_queries(filename):
    dashboard = _dashboard(filename)
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {filename}: {ids}"
    for panel in _panels(dashboard):
        if panel["type"] != "row":
            assert panel["targets"], f"{filename}: panel {panel['title']!r} has no query"
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


@pytest.mark.parametrize("filename", sorted(FILES))
def test_every_datasource_is_the_charts_prometheus_by_uid(filename):
    datasources = list(_datasources(_dashboard(filename)))
    assert datasources, "no datasource at all"
    assert all(ds == {"type": "prometheus", "uid": DATASOURCE_UID} for ds in datasources), datasources
    assert "${DS_" not in FILES[filename], "an exported datasource input: the sidecar does not resolve __inputs"


def test_every_query_parses_with_promtool(tmp_path):
    rules = []
    for filename, text in sorted(FILES.items()):
        for panel, target in _targets(json.loads(text)):
            expr = _plain_promql(target["expr"])
            assert "$" not in re.sub(r'"\$[0-9]+"', "", expr), f"{filename}: unknown variable in {expr!r}"
            rules.append({"record": f"dashboard:{filename.removesuffix('.json')}:panel{panel['id']}_{target['refId']}",
                          "expr": expr})
    rules_file = tmp_path / "dashboard-queries.rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    result = subprocess.run([_promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def _queries(filename: str) -> str:
    return "\n".join(target["expr"] for _, target in _targets(_dashboard(filename)))


def test_etl_dashboard_shows_requests_5xx_share_run_outcomes_and_live_color():
    titles = {panel["title"] for panel in _panels(_dashboard("etl.json"))}
    assert {"Request rate by color", "5xx share by color", "Run outcomes per hour", "Live color"} <= titles
    queries = _queries("etl.json")
    assert 'http_requests_total{job="etl", code=~"5.."}' in queries
    assert 'sum by (status) (increase(etl_runs_total{job="etl"}' in queries
    assert 'endpoint="etl-live"' in queries
    assert "blue" not in queries and "green" not in queries, "the dashboard must not hard-code the live color"


def test_supabase_dashboard_shows_cpu_disk_and_connections():
    queries = _queries("supabase.json")
    for metric in ("node_cpu_seconds_total", 'mountpoint="/data"', "pg_stat_database_num_backends",
                   "max_connections_connection_count", "pg_up"):
        assert metric in queries
    assert all('job="supabase"' in target["expr"] for _, target in _targets(_dashboard("supabase.json")))


def test_live_color_panel_names_the_color_behind_etl_live(tmp_path):
    """promtool evaluates the panel's query: green pods ready behind etl-live, blue behind etl-preview."""
    live_color = next(target["expr"] for panel, target in _targets(_dashboard("etl.json"))
                      if panel["title"] == "Live color")
    pods = [("blue", "10.10.32.14"), ("blue", "10.10.33.20"), ("green", "10.10.48.9"), ("green", "10.10.49.3")]
    series = [{"series": f'up{{job="etl", namespace="etl", color="{color}", instance="{ip}:8080"}}', "values": "1x5"}
              for color, ip in pods]
    series += [{"series": f'kube_endpoint_address{{job="kube-state-metrics", namespace="etl", '
                          f'endpoint="etl-{"live" if color == "green" else "preview"}", ip="{ip}", ready="true"}}',
                "values": "1x5"} for color, ip in pods]
    # a green pod that is not ready is not counted
    series[-1]["series"] = series[-1]["series"].replace('ready="true"', 'ready="false"')
    test_file = tmp_path / "live-color.test.yaml"
    test_file.write_text(yaml.safe_dump({"rule_files": [], "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": live_color, "eval_time": "2m",
                              "exp_samples": [{"labels": '{color="green"}', "value": 1}]}],
    }]}))
    result = subprocess.run([_promtool(), "test", "rules", str(test_file)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
