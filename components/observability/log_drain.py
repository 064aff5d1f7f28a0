"""The Vercel log drain: the frontend's function, edge, build and request logs go to the configured endpoint.

One drain per stack, for that stack's Vercel target (staging = `preview`, production =
`production`), so each environment's logs are told apart at the receiver. Vercel signs every
delivery with the drain's secret (an `x-vercel-signature` HMAC); the secret is generated here
(`pulumi_random`), stays a Pulumi secret into the drain, and is exported only as a secret
output for the receiver to verify signatures with (`pulumi stack output --show-secrets`).

Before Vercel accepts the drain the endpoint must answer its verification request with the
`x-vercel-verify` header (the value is the team's endpoint verification code).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
import pulumiverse_vercel as vercel

from components.core.context import StackContext
from components.core.settings import LogsSettings

SIGNING_SECRET_LENGTH = 48


@dataclass(frozen=True)
class VercelLogDrainArgs:
    ctx: StackContext
    settings: LogsSettings
    # The frontend's Vercel project; without it the drain takes every project of the team.
    vercel_project_id: pulumi.Input[str] | None = None


class VercelLogDrain(pulumi.ComponentResource):
    """A signed log drain for this stack's Vercel target. Outputs: drain_id, signing_secret (secret)."""

    def __init__(self, name: str, args: VercelLogDrainArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:observability:VercelLogDrain", name, None, opts)
        settings = args.settings
        signing_secret = random.RandomPassword(f"{name}-signing-secret", length=SIGNING_SECRET_LENGTH, special=False,
                                               opts=pulumi.ResourceOptions(parent=self))
        self.drain = vercel.LogDrain(
            f"{name}-drain",
            name=f"kingtavo-{args.ctx.environment}",
            endpoint=settings.vercel_drain_endpoint,
            delivery_format=settings.vercel_drain_format,
            environments=[args.ctx.env.vercel_target],
            sources=list(settings.vercel_drain_sources),
            sampling_rate=settings.vercel_drain_sampling_rate,
            secret=signing_secret.result,
            project_ids=None if args.vercel_project_id is None else [args.vercel_project_id],
            opts=pulumi.ResourceOptions(parent=self))
        self.drain_id = self.drain.id
        self.signing_secret = pulumi.Output.secret(signing_secret.result)
        self.register_outputs({"drainId": self.drain_id, "signingSecret": self.signing_secret})
