"""The network plane, from the offline run of the real program."""

from __future__ import annotations

import ipaddress
import json

import pytest

from components.network.vpc import carve_subnets
from tests.support.plans import STACKS, plan


def _subnets(stack: str):
    return plan(stack).by_type("aws:ec2/subnet:Subnet")


@pytest.mark.parametrize("stack", STACKS)
def test_subnet_cidrs_are_inside_the_vpc_and_disjoint(stack):
    vpc = ipaddress.IPv4Network(plan(stack).one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    networks = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in _subnets(stack)]
    assert networks, "no subnets planned"
    assert all(n.subnet_of(vpc) for n in networks)
    for index, first in enumerate(networks):
        for second in networks[index + 1:]:
            assert not first.overlaps(second), f"{first} overlaps {second}"


@pytest.mark.parametrize(("stack", "zones"), [("staging", 2), ("production", 3)])
def test_a_public_and_a_private_subnet_in_each_zone(stack, zones):
    subnets = _subnets(stack)
    public = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert len(public) == len(private) == zones
    assert {s.inputs["availabilityZone"] for s in public} == {s.inputs["availabilityZone"] for s in private}
    assert len({s.inputs["availabilityZone"] for s in public}) == zones
    assert all(s.inputs["tags"]["kubernetes.io/cluster/kingtavo-" + stack] == "shared" for s in subnets)
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)


@pytest.mark.parametrize(("stack", "nats"), [("staging", 1), ("production", 3)])
def test_nat_gateways_single_in_staging_and_per_zone_in_production(stack, nats):
    result = plan(stack)
    gateways = result.by_type("aws:ec2/natGateway:NatGateway")
    assert len(gateways) == nats
    assert len(result.by_type("aws:ec2/eip:Eip")) == nats
    public_ids = {f"{s.name}-id" for s in _subnets(stack) if s.inputs["tags"].get("kubernetes.io/role/elb")}
    assert {g.inputs["subnetId"] for g in gateways} <= public_ids
    # every private route table's default route goes through a NAT gateway of this stack
    routes = [r for r in result.by_type("aws:ec2/route:Route") if "private" in r.name]
    assert {r.inputs["natGatewayId"] for r in routes} == {f"{g.name}-id" for g in gateways}


def test_production_vpc_is_protected_and_staging_is_not():
    assert plan("production").one("aws:ec2/vpc:Vpc").protect
    assert not plan("staging").one("aws:ec2/vpc:Vpc").protect
    # protection is for the stateful VPC itself, not inherited by every route
    assert not any(r.protect for r in plan("production").by_type("aws:ec2/route:Route"))


@pytest.mark.parametrize("stack", STACKS)
def test_flow_logs_go_to_an_encrypted_log_group(stack):
    result = plan(stack)
    flow_log = result.one("aws:ec2/flowLog:FlowLog")
    group = result.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestination"].endswith(f"logGroup/{group.inputs['name']}")
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    policy = json.loads(result.one("aws:iam/role:Role", "network-flow-logs-role").inputs["assumeRolePolicy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_default_security_group_is_closed(stack):
    sg = plan(stack).one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg.inputs.get("ingress", []) == [] and sg.inputs.get("egress", []) == []


def test_carving_is_deterministic_and_private_first():
    private, public = carve_subnets("10.0.0.0/16", 20, 3)
    assert private == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
    assert public == ["10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"]
