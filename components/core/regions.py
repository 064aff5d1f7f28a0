"""Availability zones per AWS region, as AWS offers them to a new account (checked 2026-12-01).

One table for the whole repository: settings validation refuses a `network.azCount` above the
region's zone count, and the offline plan's mock of `getAvailabilityZones` answers with the same
zones (tools/mocks.py imports this table). A region missing here
is refused by settings with a message that says to add it, rather than guessed.
"""

from __future__ import annotations

# region -> (Zone ID prefix, number of zones a new account gets)
REGION_ZONES: dict[str, tuple[str, int]] = {
    "eu-central-1": ("euc1", 3), "eu-central-2": ("euc2", 3), "eu-west-1": ("euw1", 3), "eu-west-2": ("euw2", 3),
    "eu-west-3": ("euw3", 3), "eu-north-1": ("eun1", 3), "eu-south-1": ("eus1", 3),
    "us-east-1": ("use1", 6), "us-east-2": ("use2", 3), "us-west-1": ("usw1", 2), "us-west-2": ("usw2", 4),
    "ca-central-1": ("cac1", 3), "ap-southeast-1": ("apse1", 3), "ap-southeast-2": ("apse2", 3),
    "ap-northeast-1": ("apne1", 3), "ap-south-1": ("aps1", 3), "sa-east-1": ("sae1", 3),
}


def zone_count(region: str) -> int | None:
    """How many availability zones the region offers, or None for a region the table does not know."""
    entry = REGION_ZONES.get(region)
    return entry[1] if entry else None
