"""The network plane: a VPC over several availability zones, like terraform-aws-modules/vpc.

Each zone gets a private subnet (nodes and pods; tagged for internal load balancers) and a
public subnet (NAT gateways and internet-facing load balancers). Subnet CIDRs are carved
from the VPC range in order, private ones first, so they never overlap. Egress leaves
through one NAT gateway (staging) or one per zone (production, so losing a zone does not
cut the others off). Flow logs go to a CloudWatch log group; the default security group is
emptied so nothing can use it by accident.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.compute.identity import service_trust_policy
from components.core.context import StackContext
from components.core.settings import NetworkSettings


def carve_subnets(vpc_cidr: str, prefix_length: int, az_count: int) -> tuple[list[str], list[str]]:
    """(private, public) subnet CIDRs: consecutive blocks of the VPC range, private first, never overlapping."""
    blocks = ipaddress.IPv4Network(vpc_cidr).subnets(new_prefix=prefix_length)
    carved = [str(next(blocks)) for _ in range(2 * az_count)]
    return carved[:az_count], carved[az_count:]


@dataclass(frozen=True)
class NetworkArgs:
    ctx: StackContext
    settings: NetworkSettings
    cluster_name: str


class Network(pulumi.ComponentResource):
    """VPC, subnets, gateways, routes and flow logs. Outputs: vpc_id, private/public subnet ids, azs."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:network:Network", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        tags = args.ctx.tags("network")

        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self))
        if len(zones.names) < settings.az_count:
            raise ValueError(f"kingtavo:network.azCount: {settings.az_count} zones requested but the region offers "
                             f"only {len(zones.names)}")
        self.availability_zones = list(zones.names[: settings.az_count])
        private_cidrs, public_cidrs = carve_subnets(settings.cidr, settings.subnet_prefix_length, settings.az_count)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"kingtavo-{args.ctx.environment}"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect),
        )
        # Children hang off the component, not the VPC, so that protecting the VPC protects only the VPC.
        vpc_child = child

        # Nothing may use the default security group: manage it with no rules at all.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg-closed", vpc_id=self.vpc.id, ingress=[], egress=[],
                                     tags={**tags, "Name": "default-closed"}, opts=vpc_child)

        internet_gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=vpc_child)
        public_routes = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=self.vpc.id,
                                           tags={**tags, "Name": "public"}, opts=vpc_child)
        aws.ec2.Route(f"{name}-public-default-route", route_table_id=public_routes.id,
                      destination_cidr_block="0.0.0.0/0", gateway_id=internet_gateway.id,
                      opts=pulumi.ResourceOptions(parent=public_routes))

        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        for index, zone in enumerate(self.availability_zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}", vpc_id=self.vpc.id, cidr_block=public_cidrs[index], availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, **cluster_tag, "Name": f"public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=vpc_child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}-rta", subnet_id=public.id,
                                          route_table_id=public_routes.id, opts=pulumi.ResourceOptions(parent=public))
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}", vpc_id=self.vpc.id, cidr_block=private_cidrs[index], availability_zone=zone,
                tags={**tags, **cluster_tag, "Name": f"private-{zone}", "kubernetes.io/role/internal-elb": "1"},
                opts=vpc_child)
            self.public_subnets.append(public)
            self.private_subnets.append(private)

        # NAT: one in the first zone (single) or one per zone (per_az); private subnets route to their zone's.
        nat_zones = self.availability_zones[:1] if settings.nat_gateways == "single" else self.availability_zones
        nat_gateways, nat_ips = [], []
        for index, zone in enumerate(nat_zones):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{zone}", domain="vpc", tags={**tags, "Name": f"nat-{zone}"},
                              opts=vpc_child)
            nat_ips.append(eip.public_ip)
            nat_gateways.append(aws.ec2.NatGateway(
                f"{name}-nat-{zone}", allocation_id=eip.id, subnet_id=self.public_subnets[index].id,
                tags={**tags, "Name": f"nat-{zone}"}, opts=pulumi.ResourceOptions(parent=self,
                                                                                   depends_on=[internet_gateway])))
        for index, zone in enumerate(self.availability_zones):
            nat = nat_gateways[index if len(nat_gateways) > 1 else 0]
            routes = aws.ec2.RouteTable(f"{name}-private-rt-{zone}", vpc_id=self.vpc.id,
                                        tags={**tags, "Name": f"private-{zone}"}, opts=vpc_child)
            aws.ec2.Route(f"{name}-private-{zone}-default-route", route_table_id=routes.id,
                          destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id,
                          opts=pulumi.ResourceOptions(parent=routes))
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone}-rta", subnet_id=self.private_subnets[index].id,
                                          route_table_id=routes.id,
                                          opts=pulumi.ResourceOptions(parent=self.private_subnets[index]))
        self.nat_gateway_count = len(nat_gateways)
        # What the internet (Supabase's network restrictions, say) sees as the private subnets' source address.
        self.nat_public_ips = pulumi.Output.all(*nat_ips)

        self._flow_logs(name, settings, args, tags, child)

        self.vpc_id = self.vpc.id
        self.private_subnet_ids = [subnet.id for subnet in self.private_subnets]
        self.public_subnet_ids = [subnet.id for subnet in self.public_subnets]
        self.register_outputs({
            "vpcId": self.vpc_id,
            "privateSubnetIds": self.private_subnet_ids,
            "publicSubnetIds": self.public_subnet_ids,
            "availabilityZones": self.availability_zones,
            "natPublicIps": self.nat_public_ips,
        })

    def _flow_logs(self, name: str, settings: NetworkSettings, args: NetworkArgs, tags: dict,
                   child: pulumi.ResourceOptions) -> None:
        """All VPC traffic metadata to an encrypted CloudWatch log group, through a role only flow logs assume."""
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", name=f"/kingtavo/{args.ctx.environment}/vpc-flow-logs",
            retention_in_days=settings.flow_log_retention_days, kms_key_id=args.ctx.key_arn, tags=tags, opts=child)
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            # only on behalf of this account (confused deputy): AWS documents aws:SourceAccount for flow logs
            assume_role_policy=service_trust_policy("vpc-flow-logs.amazonaws.com", args.ctx.aws.account_id),
            tags=tags, opts=child)
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=log_group.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [arn, f"{arn}:*"],
                }],
            })),
            opts=pulumi.ResourceOptions(parent=role))
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=self.vpc.id, traffic_type="ALL",
                        log_destination_type="cloud-watch-logs", log_destination=log_group.arn, iam_role_arn=role.arn,
                        max_aggregation_interval=60, tags=tags, opts=child)
