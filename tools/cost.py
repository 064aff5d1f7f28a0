"""An ESTIMATED monthly cost of a stack, per plane, from the planned resources and a committed price table.

    python -m tools.cost                         # staging and production side by side (`make cost`)
    python -m tools.cost --stack staging         # one stack, item by item

Prices and usage assumptions live in tools/prices.yaml with their date and region. Only the resources that
cost by the hour or by the month are priced (EKS control plane, node instances and their disks, NAT gateways
with an assumed data volume, public IPv4 addresses, KMS keys, secrets, log ingestion, S3, ECR, alarms); the
table says what is left out. Why our own code: cost tools (Infracost and the like) read Terraform plans or call a
pricing API, and neither exists for an offline Pulumi mock run; the rules here are a few lines per resource kind.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.harness import ROOT, PlannedResource, PlanResult, stack_config
from tools.planes import PlaneIndex

PRICES = ROOT / "tools" / "prices.yaml"
PRICE_KEYS = ("eks_cluster_hour", "ec2_instance_hour", "ebs_gp3_gb_month", "nat_gateway_hour", "nat_gateway_gb",
              "public_ipv4_hour", "kms_key_month", "secret_month", "log_ingestion_gb", "s3_standard_gb_month",
              "cloudwatch_alarm_month", "ecr_storage_gb_month")
ASSUMPTION_KEYS = ("nat_processed_gb", "log_ingested_gb", "s3_stored_gb", "ecr_stored_gb")
LABEL = "ESTIMATE"


class PriceTableError(ValueError):
    """The price table is missing a key or a price, or does not cover the stack."""


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    region: str
    currency: str
    hours: float
    prices: dict[str, Any]
    assumptions: dict[str, dict[str, float]]

    def usage(self, stack: str, key: str) -> float:
        if stack not in self.assumptions:
            raise PriceTableError(f"{PRICES.name}: assumptions.{stack} is missing "
                                  f"(expected {', '.join(ASSUMPTION_KEYS)})")
        return float(self.assumptions[stack][key])

    def caption(self) -> str:
        return (f"{LABEL}: {self.region} on-demand list prices as of {self.as_of} and usage assumptions "
                f"(tools/prices.yaml), in {self.currency}; not a quote")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PriceTableError(f"{PRICES.name}: {where} is {value!r}, expected a number >= 0")
    return float(value)


def load_prices(path: Path | None = None) -> PriceTable:
    """The price table, checked: every key present and every price a number (errors name the key)."""
    path = path or PRICES
    document = yaml.safe_load(path.read_text()) or {}
    for key in ("as_of", "region", "currency", "hours_per_month", "prices", "assumptions"):
        if key not in document:
            raise PriceTableError(f"{path.name}: {key} is missing")
    prices = document["prices"] or {}
    for key in PRICE_KEYS:
        if key not in prices:
            raise PriceTableError(f"{path.name}: prices.{key} is missing")
        if key == "ec2_instance_hour":
            if not isinstance(prices[key], dict):
                raise PriceTableError(f"{path.name}: prices.{key} must map instance types to hourly prices")
            for instance, price in prices[key].items():
                _number(price, f"prices.{key}.{instance}")
        else:
            _number(prices[key], f"prices.{key}")
    for stack, usage in (document["assumptions"] or {}).items():
        for key in ASSUMPTION_KEYS:
            _number((usage or {}).get(key), f"assumptions.{stack}.{key}")
    return PriceTable(str(document["as_of"]), str(document["region"]), str(document["currency"]),
                      _number(document["hours_per_month"], "hours_per_month"), prices, document["assumptions"])


@dataclass(frozen=True)
class LineItem:
    plane: str
    what: str  # the kind of charge, e.g. "NAT gateways (hours)"
    resource: str  # the resource's name
    monthly: float
    urn: str = ""


def _kinds(resources: list[PlannedResource]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in resources:
        counts[r.type] += 1
    return counts


def estimate(plan: PlanResult, table: PriceTable | None = None) -> list[LineItem]:
    """One line per priced charge of a declared resource."""
    table = table or load_prices()
    region = str(stack_config(plan.stack).get("aws:region", table.region))
    if region != table.region:
        raise PriceTableError(f"{PRICES.name} prices {table.region}, stack {plan.stack} runs in {region}: "
                              f"add that region's prices first")
    index = PlaneIndex(plan)
    declared = index.declared()
    counts, p, hours, items = _kinds(declared), table.prices, table.hours, []

    def add(resource: PlannedResource, what: str, monthly: float) -> None:
        items.append(LineItem(index.plane_of(resource), what, resource.name, round(monthly, 2), resource.urn))

    def share(kind: str, usage_key: str) -> float:
        return table.usage(plan.stack, usage_key) / counts[kind]

    for r in declared:
        kind = r.type
        if kind == "aws:eks/cluster:Cluster":
            add(r, "EKS control plane", p["eks_cluster_hour"] * hours)
        elif kind == "aws:eks/nodeGroup:NodeGroup":
            desired = int(r.inputs["scalingConfig"]["desiredSize"])
            instance = (r.inputs.get("instanceTypes") or ["t3.medium"])[0]
            if instance not in p["ec2_instance_hour"]:
                raise PriceTableError(f"{PRICES.name}: prices.ec2_instance_hour has no price for {instance!r} "
                                      f"(node group {r.name}): add it")
            add(r, f"EC2 nodes ({desired} x {instance})", desired * p["ec2_instance_hour"][instance] * hours)
            disk = int(r.inputs.get("diskSize") or 20)
            add(r, f"EBS node disks ({desired} x {disk} GB gp3)", desired * disk * p["ebs_gp3_gb_month"])
        elif kind == "aws:ec2/natGateway:NatGateway":
            add(r, "NAT gateways (hours)", p["nat_gateway_hour"] * hours)
            add(r, "NAT data processed (assumed)", share(kind, "nat_processed_gb") * p["nat_gateway_gb"])
        elif kind == "aws:ec2/eip:Eip":
            add(r, "public IPv4 addresses", p["public_ipv4_hour"] * hours)
        elif kind == "aws:kms/key:Key":
            add(r, "KMS keys", p["kms_key_month"])
        elif kind == "aws:secretsmanager/secret:Secret":
            add(r, "Secrets Manager secrets", p["secret_month"])
        elif kind == "aws:cloudwatch/logGroup:LogGroup":
            add(r, "log ingestion (assumed)", share(kind, "log_ingested_gb") * p["log_ingestion_gb"])
        elif kind in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            add(r, "S3 storage (assumed)", share(kind, "s3_stored_gb") * p["s3_standard_gb_month"])
        elif kind == "aws:ecr/repository:Repository":
            add(r, "ECR storage (assumed)", share(kind, "ecr_stored_gb") * p["ecr_storage_gb_month"])
        elif kind == "aws:cloudwatch/metricAlarm:MetricAlarm":
            add(r, "CloudWatch alarms", p["cloudwatch_alarm_month"])
    order = {plane: position for position, plane in enumerate(index.planes)}
    return sorted(items, key=lambda item: order[item.plane])


def per_plane(items: list[LineItem]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for item in items:
        totals[item.plane] += item.monthly
    return {plane: round(total, 2) for plane, total in totals.items()}


def per_kind(items: list[LineItem]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for item in items:
        totals[item.what.split(" (")[0]] += item.monthly
    return {kind: round(total, 2) for kind, total in totals.items()}


def money(value: float) -> str:
    return f"${value:,.2f}"


def side_by_side(stacks: list[str], table: PriceTable | None = None, run=None) -> str:
    """Each plane and each kind of charge, one column per stack (`make cost`); `run(stack)` plans a stack."""
    from tools.harness import run_stack

    table = table or load_prices()
    estimates = {stack: estimate((run or run_stack)(stack), table) for stack in stacks}
    head = f"{'':<34}" + "".join(f"{stack:>16}" for stack in stacks)
    lines = [f"Estimated monthly cost per stack. {table.caption()}.", "", head, "by plane"]
    planes = list(dict.fromkeys(item.plane for items in estimates.values() for item in items))
    for plane in planes:
        lines.append(f"  {plane:<32}" + "".join(f"{money(per_plane(estimates[s]).get(plane, 0.0)):>16}"
                                                for s in stacks))
    lines.append("by kind of charge")
    kinds = sorted({kind for items in estimates.values() for kind in per_kind(items)},
                   key=lambda kind: -max(per_kind(estimates[s]).get(kind, 0.0) for s in stacks))
    for kind in kinds:
        lines.append(f"  {kind:<32}" + "".join(f"{money(per_kind(estimates[s]).get(kind, 0.0)):>16}" for s in stacks))
    lines.append(f"{'total (' + LABEL.lower() + ')':<34}"
                 + "".join(f"{money(sum(i.monthly for i in estimates[s])):>16}" for s in stacks))
    lines.append("")
    for stack in stacks:
        usage = ", ".join(f"{key} {table.usage(stack, key):g}" for key in ASSUMPTION_KEYS)
        lines.append(f"assumed usage per month, {stack}: {usage}")
    lines.append("left out: data transfer out, request charges, log storage, Vercel/Sentry/Supabase subscriptions")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from components.core.environments import STACKS

    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=STACKS, help="one stack, item by item (default: all side by side)")
    args = parser.parse_args(argv)
    try:
        if not args.stack:
            print(side_by_side(list(STACKS)))
            return 0
        from tools.harness import run_stack

        table = load_prices()
        items = estimate(run_stack(args.stack), table)
    except PriceTableError as error:
        print(f"cost: {error}", file=sys.stderr)
        return 2
    print(f"Estimated monthly cost of stack '{args.stack}'. {table.caption()}.")
    for item in items:
        print(f"  {item.plane:<14} {item.what:<40} {item.resource[:44]:<44} {money(item.monthly):>12}")
    print(f"  {'total (' + LABEL.lower() + ')':<100} {money(sum(i.monthly for i in items)):>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
