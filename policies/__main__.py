"""The `kingtavo-secret-hygiene` policy pack: `pulumi preview --policy-pack policies`.

Only assembles the pack: constructing `PolicyPack` starts the analyzer's gRPC server and
blocks, so nothing imports this module. The rules live in `secret_hygiene.py` (tests and the
offline gate, `tools/policy_gate.py`, import them from there).
"""

from pulumi_policy import PolicyPack
from secret_hygiene import PACK_ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(
    PACK_NAME,
    policies=POLICIES,
    enforcement_level=PACK_ENFORCEMENT,
    description="Kingtavo secret hygiene: no secret in plain configuration, every secret store encrypted and rotated.",
)
