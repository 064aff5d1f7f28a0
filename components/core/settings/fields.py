"""Field types of the settings: each type checks its value and says what was expected.

Strings are matched by pattern (`matching`), numbers and booleans are strict (pydantic's lax mode would
turn "yes" into True and "3" into 3; `pulumi config set --path` already stores integers and true/false
as YAML numbers and booleans). Our own checks are written where no library does the job: CIDR limits
AWS applies, Kubernetes quantities (compared request <= limit), EKS's offered versions. Cron schedules
are parsed by `croniter`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pulumi
from croniter import croniter
from pydantic import AfterValidator, BeforeValidator, Field

# --- secrets ---------------------------------------------------------------------------------------------


class Secret:
    """A secret config value. Its repr is masked; `.output()` gives the Pulumi secret Output to pass on."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self._value)

    def reveal(self) -> str:
        """The plain value, for validation and for dynamic providers that must send it; never log it."""
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty secret string (set it with `pulumi config set --secret`)")
    return Secret(value)


ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def to_secret_map(value: Any) -> dict[str, Secret]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("expected a JSON object of NAME: secret value") from None
    if not isinstance(value, Mapping):
        raise ValueError("expected an object of NAME: secret value")  # noqa: TRY004 - pydantic-style message
    result = {}
    for name, item in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an UPPER_SNAKE_CASE name")
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name}: expected a non-empty secret string")
        result[name] = Secret(item)
    return result


# --- strings by pattern ----------------------------------------------------------------------------------


def matching(pattern: str, expected: str) -> AfterValidator:
    """A string check by regular expression whose error says what was expected, e.g. `'x' is not a Git ref`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"{value!r} is not {expected}")
        return value

    return AfterValidator(check)


EnvName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
GitRef = Annotated[str, matching(r"^(?!.*\.\.)(?!/)(?!.*/$)[A-Za-z0-9._/-]{1,200}$",
                                 "a Git ref (a branch, tag or commit SHA)")]
Hostname = Annotated[str, matching(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                                   "a lower-case DNS name such as 'app.example.com'")]
HttpsUrl = Annotated[str, matching(r"^https://[^\s/$.?#][^\s]*$", "an https:// URL")]


def unique(value: list) -> list:
    """A name list holds each entry once (a repeated name is a copy-paste slip, or two resources with one URN)."""
    repeated = sorted({str(item) for item in value if value.count(item) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} listed more than once")
    return value


Unique = AfterValidator(unique)


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


# A float accepts a number or a numeric string (`pulumi config set --path` stores 0.5 as a string), never a bool.
Number = Annotated[float, BeforeValidator(_no_bool), Field(strict=False)]

# --- network ---------------------------------------------------------------------------------------------


def _cidr_check(network: type[ipaddress.IPv4Network] | type[ipaddress.IPv6Network], family: str):
    def check(value: str) -> str:
        try:
            network(value, strict=True)
        except ValueError:
            raise ValueError(f"{value!r} is not an {family} CIDR") from None
        return value

    return check


_ipv4_cidr = _cidr_check(ipaddress.IPv4Network, "IPv4")
Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
Ipv6Cidr = Annotated[str, AfterValidator(_cidr_check(ipaddress.IPv6Network, "IPv6"))]

# RFC 1918 and RFC 6598 (shared address space): the ranges AWS recommends for a VPC.
PRIVATE_RANGES = tuple(ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                           "100.64.0.0/10"))


def _vpc_cidr(value: str) -> str:
    network = ipaddress.IPv4Network(value)
    if not 16 <= network.prefixlen <= 28:
        raise ValueError(f"{value!r}: a VPC's CIDR must be between /16 and /28 (AWS refuses others)")
    if not any(network.subnet_of(private) for private in PRIVATE_RANGES):
        raise ValueError(f"{value!r} is not in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or "
                         f"100.64.0.0/10)")
    return value


VpcCidr = Annotated[str, AfterValidator(_ipv4_cidr), AfterValidator(_vpc_cidr)]

# The public API endpoint: no entry wider than a /8, and no more than a /8's worth of addresses in all,
# so the internet cannot be let in whole (0.0.0.0/0) or in pieces (0.0.0.0/1 + 128.0.0.0/1).
WIDEST_PUBLIC_PREFIX = 8
MAX_PUBLIC_ADDRESSES = 2 ** (32 - WIDEST_PUBLIC_PREFIX)


def public_access_problems(cidrs: list[str]) -> list[str]:
    problems = []
    networks = [ipaddress.IPv4Network(c) for c in cidrs]
    for cidr, network in zip(cidrs, networks, strict=True):
        if network.prefixlen < WIDEST_PUBLIC_PREFIX:
            problems.append(f"{cidr} is wider than a /{WIDEST_PUBLIC_PREFIX}; list the operators' and CI's ranges")
    total = sum(n.num_addresses for n in ipaddress.collapse_addresses(networks))
    if not problems and total > MAX_PUBLIC_ADDRESSES:
        problems.append(f"together they open the endpoint to {total} addresses, more than a "
                        f"/{WIDEST_PUBLIC_PREFIX}; list the operators' and CI's ranges")
    return problems


# --- compute ---------------------------------------------------------------------------------------------

CPU = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<milli>m?)$")
MEMORY = re.compile(r"^(?P<number>[0-9]+)(?P<unit>Ki|Mi|Gi|Ti)$")
MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def cpu_cores(quantity: str) -> Decimal:
    match = CPU.match(quantity)
    number = Decimal(match["number"])
    return number / 1000 if match["milli"] else number


def memory_bytes(quantity: str) -> int:
    match = MEMORY.match(quantity)
    return int(match["number"]) * MEMORY_UNITS[match["unit"]]


CpuQuantity = Annotated[str, matching(CPU.pattern, "a CPU quantity such as '250m' or '1'")]
MemoryQuantity = Annotated[str, matching(MEMORY.pattern, "a memory quantity such as '512Mi' or '2Gi'")]

# An image reference pinned by tag or digest: `registry/repo:tag` or `registry/repo@sha256:<64 hex>`.
IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._/-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))$"
)


def _pinned_image(value: str) -> str:
    match = IMAGE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not an image pinned by tag or digest (registry/repo:tag or repo@sha256:...)")
    if match.group("tag") == "latest":
        raise ValueError(f"{value!r} uses the mutable tag 'latest'; pin a release tag or a digest")
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]

# Kubernetes versions Amazon EKS offers: version -> end of extended support. A version is offered until
# that date; the table is as of EKS_VERSIONS_CHECKED (docs.aws.amazon.com/eks kubernetes-versions and its
# release calendar). Add a new version here when EKS releases it.
EKS_VERSIONS_CHECKED = date(2026, 12, 1)
EKS_EXTENDED_SUPPORT_END = {
    "1.31": date(2026, 11, 26), "1.32": date(2027, 3, 23), "1.33": date(2027, 7, 29),
    "1.34": date(2027, 12, 2), "1.35": date(2028, 3, 27),
}
EKS_VERSIONS = tuple(v for v, end in EKS_EXTENDED_SUPPORT_END.items() if end > EKS_VERSIONS_CHECKED)


def _eks_version(value: str) -> str:
    if value not in EKS_VERSIONS:
        raise ValueError(f"{value!r} is not a Kubernetes version EKS offers (one of {', '.join(EKS_VERSIONS)}, as "
                         f"of {EKS_VERSIONS_CHECKED.isoformat()})")
    return value


KubernetesVersion = Annotated[str, AfterValidator(_eks_version)]

# --- logs and schedules ----------------------------------------------------------------------------------

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ValueError(f"{value} is not a CloudWatch Logs retention period (one of {allowed})")
    return value


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]

# A Kubernetes CronJob takes the standard five fields (minute hour day-of-month month day-of-week) or a macro;
# croniter judges the ranges. Time zones go in the CronJob's timeZone field, never in the schedule.
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$")


def _cron(value: str) -> str:
    if value in CRON_MACROS:
        return value
    fields = value.split()
    if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields) or not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a cron schedule (five fields: minute 0-59, hour 0-23, day of month "
                         f"1-31, month 1-12, day of week 0-6; or one of {', '.join(CRON_MACROS)})")
    return value


CronSchedule = Annotated[str, AfterValidator(_cron)]
