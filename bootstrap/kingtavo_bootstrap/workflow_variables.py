"""The workflows' AWS role variables, set from the roles themselves (never copied ARNs).

Each bootstrap stack sets the variables of its own environment's GitHub environments, which is where
the workflows read them (`vars.AWS_ROLE_ARN`, `vars.AWS_REGION`): the deploy role in `<env>`, the preview
role in the preview environment, the restore-drill role in its environment. A preview that runs in no
environment (staging's, on every same-repository pull request) reads a repository variable
`AWS_PREVIEW_ROLE_ARN_<ENV>`. The environments themselves are declared by the stack that manages the
repository settings, so that stack is applied first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github


@dataclass(frozen=True)
class WorkflowVariablesArgs:
    repository: str  # the repository's name, without the owner
    region: str
    # GitHub environment -> the role ARN its jobs assume
    environment_roles: dict[str, pulumi.Input[str]]
    # repository variable name -> role ARN, for jobs that run in no environment
    repository_roles: dict[str, pulumi.Input[str]]
    # environment name -> its declared resource, when this stack declares it (for ordering)
    environment_resources: dict[str, github.RepositoryEnvironment]


class WorkflowVariables(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkflowVariablesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo-bootstrap:github:WorkflowVariables", name, None, opts)
        for environment, role_arn in sorted(args.environment_roles.items()):
            declared = args.environment_resources.get(environment)
            env_input = declared.environment if declared is not None else environment
            for variable, value in (("AWS_ROLE_ARN", role_arn), ("AWS_REGION", args.region)):
                github.ActionsEnvironmentVariable(
                    f"{name}-{environment}-{variable.lower().replace('_', '-')}", repository=args.repository,
                    environment=env_input, variable_name=variable, value=value,
                    opts=pulumi.ResourceOptions(parent=self))
        for variable, role_arn in sorted(args.repository_roles.items()):
            github.ActionsVariable(f"{name}-{variable.lower().replace('_', '-')}", repository=args.repository,
                                   variable_name=variable, value=role_arn, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
