"""The `kingtavo-secret-hygiene` policy pack: `pulumi preview --policy-pack policies`.

Only assembles the pack: constructing `PolicyPack` starts the analyzer's gRPC server and blocks, so nothing
imports this module. The rules live in the package beside it (`rules/`, `catalogue.py`); the CLI runs this
file with the pack's directory as the working directory, so the package is imported by that directory's name.
"""

import importlib
import sys
from pathlib import Path

from pulumi_policy import PolicyPack

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
rules = importlib.import_module(f"{HERE.name}.rules")

PolicyPack(
    rules.PACK_NAME,
    policies=rules.POLICIES,
    enforcement_level=rules.PACK_ENFORCEMENT,
    description="Kingtavo secret hygiene: no secret in plain configuration, every secret store encrypted and rotated.",
)
