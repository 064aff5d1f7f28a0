"""The rules of the `kingtavo-secret-hygiene` pack, importable without starting it (one module per sink or vendor).

`POLICIES` is what `policies/__main__.py` hands to `PolicyPack` and what the offline gate
(`tools/policy_gate.py`) applies to a planned stack. Every rule is mandatory: a violation means a secret is,
or will be, readable by someone who should not read it. `base.py` says how rules read resources.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from . import aws, generic, kubernetes, rotation, sinks, vercel

PACK_NAME = "kingtavo-secret-hygiene"
PACK_ENFORCEMENT = EnforcementLevel.MANDATORY

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    *vercel.POLICIES,
    *kubernetes.POLICIES,
    generic.POLICY,
    aws.POLICIES["secretsmanager-customer-managed-kms"],
    rotation.POLICY,
    aws.POLICIES["kms-key-rotation-enabled"],
    aws.POLICIES["eks-secrets-encryption"],
    aws.POLICIES["sns-topic-kms-encryption"],
    aws.POLICIES["cloudwatch-log-group-kms-encryption"],
    aws.POLICIES["lambda-environment-no-secrets"],
    sinks.POLICY,
]
