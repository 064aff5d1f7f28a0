"""The environment table: every stack the program knows and what differs between them.

Stack names appear in this module only. Everything that behaves differently per environment
(settings minimums, which Vercel target a stack manages, who owns the shared Vercel project,
deletion protection, the tools' `--stack` choices, the tests' stack lists) reads this table, so
adding a `qa` stack is one entry here plus its `Pulumi.qa.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Minimums:
    """What a stack's settings must at least provide; settings validation checks them before any resource.

    The production minimums table: high availability (replicas, nodes, a NAT gateway per zone), an
    instant rollback (the idle color stays warm) and point-in-time recovery.
    """

    etl_replicas: int = 1  # etl.replicas: pods of the live color
    etl_idle_replicas: int = 0  # etl.idleReplicas: the idle color stays warm (a rollback needs no cold start)
    node_min_size: int = 1  # cluster.nodeMinSize
    nat_per_zone: bool = False  # network.natGateways must be 'per_az'
    point_in_time_recovery: bool = False  # backups.pointInTimeRecovery must be true


@dataclass(frozen=True)
class Environment:
    name: str
    # Vercel's environment whose variables this stack manages and to which it deploys.
    vercel_target: str
    # A Vercel custom environment of this name holds the stack's variables and deployments instead, so
    # its secrets never reach other builds of the same target (staging's never reach feature previews).
    vercel_custom_environment: str | None
    # The stack that declares (and protects) the shared Vercel project; the others look it up by name.
    owns_vercel_project: bool
    # Stateful resources (keys, secrets, the VPC, the cluster, archives) are protected from deletion.
    protect: bool
    # The Vercel 5xx rule on the project and its forwarder to PagerDuty (needs the owned project).
    pages_on_vercel_errors: bool
    minimums: Minimums
    # The environment whose recorded, smoke-tested deployments this one promotes (tools/release_gate.py).
    promotes_from: str | None = None

    @property
    def requires_pitr(self) -> bool:
        return self.minimums.point_in_time_recovery


ENVIRONMENTS: dict[str, Environment] = {
    "staging": Environment(
        name="staging", vercel_target="preview", vercel_custom_environment="staging", owns_vercel_project=False,
        protect=False,
        pages_on_vercel_errors=False, minimums=Minimums()),
    "production": Environment(
        name="production", vercel_target="production", vercel_custom_environment=None, owns_vercel_project=True,
        protect=True,
        pages_on_vercel_errors=True,
        minimums=Minimums(etl_replicas=2, etl_idle_replicas=1, node_min_size=2, nat_per_zone=True,
                          point_in_time_recovery=True),
        promotes_from="staging"),
}
STACKS: tuple[str, ...] = tuple(ENVIRONMENTS)


def environment(stack: str) -> Environment:
    """The environment a stack deploys; the error names the known stacks."""
    try:
        return ENVIRONMENTS[stack]
    except KeyError:
        raise KeyError(f"stack {stack!r}: expected one of {', '.join(STACKS)} (the environment is the stack name)"
                       ) from None


def vercel_project_owner() -> Environment:
    owners = [env for env in ENVIRONMENTS.values() if env.owns_vercel_project]
    if len(owners) != 1:
        raise ValueError("exactly one environment must own the Vercel project")
    return owners[0]
