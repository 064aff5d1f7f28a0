"""The monthly cost estimate (tools/cost.py over tools/prices.yaml) and the DOT graph (`--graph`), on both stacks."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.plans import STACKS, plan
from tools import cost
from tools.graph import edges, to_dot
from tools.harness import stack_config
from tools.planes import PlaneIndex


@pytest.fixture(scope="module")
def table():
    return cost.load_prices()


def test_the_price_table_says_its_date_region_and_currency_and_covers_both_stacks(table):
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.as_of)
    assert table.currency == "USD" and table.hours == 730
    for stack in STACKS:
        assert stack_config(stack)["aws:region"] == table.region
        assert set(table.assumptions[stack]) == set(cost.ASSUMPTION_KEYS)


def test_node_instances_nat_and_control_plane_are_priced_from_the_table(table):
    items = cost.estimate(plan("production"), table)
    by_what = {item.what: item for item in items}
    node_group = plan("production").one("aws:eks/nodeGroup:NodeGroup")
    desired = node_group.inputs["scalingConfig"]["desiredSize"]
    first_type = node_group.inputs["instanceTypes"][0]
    nodes = by_what[f"EC2 nodes ({desired} x {first_type})"]
    assert nodes.monthly == round(desired * table.prices["ec2_instance_hour"][first_type] * 730, 2)
    assert nodes.plane == "compute"
    assert by_what["EKS control plane"].monthly == 73.0
    nats = [i for i in items if i.what == "NAT gateways (hours)"]
    assert len(nats) == len(plan("production").by_type("aws:ec2/natGateway:NatGateway")) == 3
    processed = sum(i.monthly for i in items if i.what == "NAT data processed (assumed)")
    assert processed == pytest.approx(500 * table.prices["nat_gateway_gb"], abs=0.02)
    assert {i.plane for i in items if i.what == "KMS keys"} == {"security", "compute", "secrets"}


def test_staging_costs_less_than_production_plane_by_plane_where_it_is_smaller(table):
    staging, production = (cost.per_plane(cost.estimate(plan(s), table)) for s in ("staging", "production"))
    assert sum(staging.values()) < sum(production.values())
    for plane in ("network", "compute"):  # one NAT gateway instead of three; fewer, smaller nodes
        assert staging[plane] < production[plane]


def test_an_instance_type_without_a_price_is_named(table):
    prices = dict(table.prices, ec2_instance_hour={"t3.large": 0.096})
    with pytest.raises(cost.PriceTableError, match=r"no price for 'm6i\.large' \(node group cluster-nodes\)"):
        cost.estimate(plan("production"), cost.PriceTable(**{**vars(table), "prices": prices}))


def test_a_broken_price_table_names_the_key(tmp_path):
    document = yaml.safe_load(cost.PRICES.read_text())
    document["prices"]["kms_key_month"] = "one dollar"
    del document["assumptions"]["staging"]["s3_stored_gb"]
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(cost.PriceTableError, match=r"prices\.kms_key_month is 'one dollar', expected a number"):
        cost.load_prices(path)
    document["prices"]["kms_key_month"] = 1
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(cost.PriceTableError, match=r"assumptions\.staging\.s3_stored_gb is None"):
        cost.load_prices(path)


def test_make_cost_puts_the_stacks_side_by_side_labelled_as_an_estimate():
    out = cost.side_by_side(list(STACKS), run=plan)
    assert out.startswith("Estimated monthly cost per stack. ESTIMATE: eu-central-1 on-demand list prices as of ")
    header = next(line for line in out.splitlines() if line.strip().startswith("staging"))
    assert header.split() == ["staging", "production"]
    total = next(line for line in out.splitlines() if line.startswith("total (estimate)"))
    staging_total, production_total = (float(v.strip("$").replace(",", "")) for v in total.split()[2:])
    assert 0 < staging_total < production_total
    for stack, shown in (("staging", staging_total), ("production", production_total)):
        assert shown == pytest.approx(sum(i.monthly for i in cost.estimate(plan(stack))), abs=0.01)
    assert "assumed usage per month, staging: nat_processed_gb 100" in out
    assert all(len(line) <= 120 for line in out.splitlines() if not line.startswith("Estimated"))


def test_the_cost_command_fails_with_the_key_when_the_table_is_broken(monkeypatch, tmp_path, capsys):
    broken = tmp_path / "prices.yaml"
    broken.write_text(cost.PRICES.read_text().replace("nat_gateway_hour: 0.052", "nat_gateway_hour: free"))
    monkeypatch.setattr(cost, "PRICES", broken)
    assert cost.main(["--stack", "staging"]) == 2
    assert "prices.nat_gateway_hour is 'free', expected a number >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("stack", STACKS)
def test_the_graph_is_dot_that_graphviz_renders_with_every_resource_once(stack):
    result = plan(stack)
    dot = to_dot(result)
    index = PlaneIndex(result)
    declared = index.declared()
    nodes = re.findall(r"^\s+(r\d+) \[label=", dot, flags=re.MULTILINE)
    assert len(nodes) == len(set(nodes)) == len(declared)
    for plane in index.planes:
        assert f'label="plane {plane}"' in dot
    assert dot.count(" -> ") == len(edges(result, index)) > 50
    dot_binary = shutil.which("dot")
    assert dot_binary, "Graphviz's dot is missing: tools/system-deps.sh installs graphviz"
    rendered = subprocess.run([dot_binary, "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    assert rendered.stdout.lstrip().startswith(("<?xml", "<svg")) and "aws:eks:NodeGroup" in rendered.stdout


def test_graph_edges_follow_the_inputs_that_feed_a_resource():
    result = plan("staging")
    pairs = {(result.resources[[r.urn for r in result.resources].index(a)].name,
              result.resources[[r.urn for r in result.resources].index(b)].name) for a, b in edges(result,
                                                                                                  PlaneIndex(result))}
    assert ("cluster-node-role", "cluster-nodes") in pairs  # the node group's nodeRoleArn
    assert ("network-vpc", "network-igw") in pairs  # the internet gateway's vpcId
    assert ("cluster-nodes", "cluster-node-role") not in pairs
