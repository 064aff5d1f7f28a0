"""The workflows' AWS role variables, set from the roles themselves (never copied ARNs).

Each bootstrap stack sets, in every GitHub environment whose jobs assume one of its roles
(ci_environments.py), the two variables those jobs read: `AWS_ROLE_ARN` (that environment's role) and
`AWS_REGION`. Environment variables are visible only to jobs that run in the environment, so a job
reads the role of its own environment (`vars.AWS_ROLE_ARN`) and no other, and a job in no environment
reads none. There are no repository-level role variables. The environments themselves are declared by
the stack that manages the repository settings (production), so that stack is applied first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github

ROLE_VARIABLE = "AWS_ROLE_ARN"
REGION_VARIABLE = "AWS_REGION"


@dataclass(frozen=True)
class WorkflowVariablesArgs:
    repository: str  # the repository's name, without the owner
    region: str
    # GitHub environment -> the role ARN its jobs assume
    environment_roles: dict[str, pulumi.Input[str]]
    # environment name -> its declared resource, when this stack declares it (for ordering)
    environment_resources: dict[str, github.RepositoryEnvironment]


class WorkflowVariables(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkflowVariablesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo-bootstrap:github:WorkflowVariables", name, None, opts)
        for environment, role_arn in sorted(args.environment_roles.items()):
            declared = args.environment_resources.get(environment)
            env_input = declared.environment if declared is not None else environment
            for variable, value in ((ROLE_VARIABLE, role_arn), (REGION_VARIABLE, args.region)):
                github.ActionsEnvironmentVariable(
                    f"{name}-{environment}-{variable.lower().replace('_', '-')}", repository=args.repository,
                    environment=env_input, variable_name=variable, value=value,
                    opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
