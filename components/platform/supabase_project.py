"""The Supabase project's platform settings as one component: PITR, SSL, network restrictions, query logging.

Built from `kingtavo:supabase` (and `kingtavo:backups.pointInTimeRecovery`, which the settings
tie to `pitrRetentionDays`) and the network plane's NAT addresses. Each child is a dynamic
resource of `components/platform/supabase_settings.py`; the access token is a secret input.

- PITR add-on: declared in every stack, so a plan always states it (production: the retention,
  protected from deletion; staging: none unless set, and drift shows if someone buys it by hand).
  The backup monitor (`components/backups/monitor.py`) keeps checking `pitr_enabled` afterwards.
- SSL enforcement: `supabase.sslEnforcement`, on by default.
- Network restrictions (`supabase.restrictNetwork`, on by default): the VPC's NAT gateways' public
  addresses (/32) plus `supabase.allowedCidrs` (CI's and the operators' ranges), and
  `supabase.allowedCidrsV6`.
- Query logging: `supabase.queryLogging`, off by default.

Log drains are not here: the Management API has no endpoint for them (see the README's "Known limits").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.core.context import StackContext
from components.core.settings import PROJECT, SupabaseSettings
from components.platform.supabase_settings import (
    OFF,
    NetworkRestrictions,
    PitrAddon,
    QueryLogging,
    SslEnforcement,
    pitr_variant,
)


def allowed_ipv4(nat_public_ips: list[str], extra: list[str]) -> list[str]:
    """The NAT addresses as /32 networks and the extra ranges, each once, sorted."""
    return sorted({f"{ip}/32" for ip in nat_public_ips if ip} | set(extra))


def role_settings(settings: SupabaseSettings) -> dict[str, dict[str, str]]:
    logging = settings.query_logging

    def value(ms: int) -> str:
        return OFF if ms < 0 else str(ms)

    return {role: {"log_min_duration_statement": value(logging.min_duration_ms),
                   "auto_explain.log_min_duration": value(logging.explain_min_duration_ms)}
            for role in logging.roles}


@dataclass(frozen=True)
class SupabaseProjectArgs:
    ctx: StackContext
    settings: SupabaseSettings
    access_token: pulumi.Input[str]  # the Management API token, a Pulumi secret
    nat_public_ips: pulumi.Input[list[str]]  # the network plane's NAT gateways' addresses


class SupabaseProject(pulumi.ComponentResource):
    """Outputs: `allowed_ipv4_cidrs` (None when unrestricted) and `summary` (the settings, for the plan)."""

    def __init__(self, name: str, args: SupabaseProjectArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:platform:SupabaseProject", name, None, opts)
        settings = args.settings
        common = {"project_ref": settings.project_ref, "access_token": args.access_token,
                  "api_url": settings.api_url}
        child = pulumi.ResourceOptions(parent=self)
        self.pitr = PitrAddon(f"{name}-pitr", setting=f"{PROJECT}:supabase.pitrRetentionDays",
                              config={"variant": pitr_variant(settings.pitr_retention_days)},
                              opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect), **common)
        self.ssl = SslEnforcement(f"{name}-ssl-enforcement", setting=f"{PROJECT}:supabase.sslEnforcement",
                                  config={"enforced": settings.ssl_enforcement}, opts=child, **common)
        self.allowed_ipv4_cidrs = None
        if settings.restrict_network:
            self.allowed_ipv4_cidrs = pulumi.Output.from_input(args.nat_public_ips).apply(
                lambda ips: allowed_ipv4(ips, list(settings.allowed_cidrs)))
            NetworkRestrictions(
                f"{name}-network-restrictions",
                setting=f"{PROJECT}:supabase.allowedCidrs (and the NAT gateways' addresses)",
                config={"ipv4_cidrs": self.allowed_ipv4_cidrs, "ipv6_cidrs": sorted(settings.allowed_cidrs_v6)},
                opts=child, **common)
        QueryLogging(f"{name}-query-logging", setting=f"{PROJECT}:supabase.queryLogging",
                     config={"role_settings": role_settings(settings)}, opts=child, **common)
        logging = settings.query_logging
        self.summary = pulumi.Output.from_input({
            "pitrAddon": pitr_variant(settings.pitr_retention_days),
            "sslEnforced": settings.ssl_enforcement,
            "dbAllowedCidrs": self.allowed_ipv4_cidrs if settings.restrict_network else "unrestricted",
            "dbAllowedCidrsV6": sorted(settings.allowed_cidrs_v6),
            "queryLogging": "off" if logging.min_duration_ms < 0 else
            f"statements >= {logging.min_duration_ms} ms for {', '.join(logging.roles)}",
            "vaultSecretNames": sorted(settings.vault_secret_names),
        })
        self.register_outputs({"summary": self.summary})
