"""What the main stacks read from the bootstrap project (bootstrap/), through `pulumi.StackReference`.

The bootstrap project is applied first, by an administrator: the GitHub OIDC provider, the CI
roles and the ETL image registry (shared by both environments, owned by the production bootstrap
stack). The main program never copies an ARN or a repository URL; it reads them here, by the
output names of the bootstrap's contract (bootstrap/README.md):

- from this environment's bootstrap stack: `deployRoleArn` (cluster admin), `previewRoleArn` (view);
- from the registry's bootstrap stack: `etlRepositoryUrl`, `etlRepositoryArn`.
"""

from __future__ import annotations

import pulumi

from components.core.settings import BootstrapSettings


class BootstrapOutputs:
    """The bootstrap stacks' outputs this stack uses (one StackReference per distinct stack)."""

    def __init__(self, settings: BootstrapSettings):
        own = pulumi.StackReference(settings.stack)
        registry = own if settings.registry_stack == settings.stack else pulumi.StackReference(
            settings.registry_stack)
        self.deploy_role_arn: pulumi.Output[str] = own.require_output("deployRoleArn")
        self.preview_role_arn: pulumi.Output[str] = own.require_output("previewRoleArn")
        self.etl_repository_url: pulumi.Output[str] = registry.require_output("etlRepositoryUrl")
        self.etl_repository_arn: pulumi.Output[str] = registry.require_output("etlRepositoryArn")
