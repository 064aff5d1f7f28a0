"""The bootstrap project's composition root: read settings, build the components, export what the main stacks read.

Applied once by an administrator before the main stacks, then by CI like any stack. The main program
reads the outputs through `pulumi.StackReference("kingtavo/kingtavo-bootstrap/<stack>")`.
"""

import pulumi
from kingtavo_bootstrap.ci_environments import ci_environments
from kingtavo_bootstrap.ci_identity import CiIdentity, CiIdentityArgs
from kingtavo_bootstrap.github_settings import RepositorySettings, RepositorySettingsArgs
from kingtavo_bootstrap.registry import EtlRegistry, EtlRegistryArgs
from kingtavo_bootstrap.settings import load
from kingtavo_bootstrap.workflow_variables import WorkflowVariables, WorkflowVariablesArgs


def _read(key: str):
    return pulumi.runtime.get_config(key)


def _present_keys() -> list[str]:
    from pulumi.runtime import config as runtime_config

    return sorted({*runtime_config.CONFIG.get().keys(), *runtime_config.get_config_env().keys()})


settings = load(pulumi.get_stack(), _read, pulumi.runtime.get_config("aws:region"), _present_keys())

identity = CiIdentity("ci", CiIdentityArgs(settings))
pulumi.export("environment", settings.environment)
pulumi.export("accountId", settings.account_id)
pulumi.export("githubOidcProviderArn", identity.provider_arn)
pulumi.export("previewRoleArn", identity.preview_role.arn)
pulumi.export("deployRoleArn", identity.deploy_role.arn)
if identity.restore_drill_role is not None:
    pulumi.export("restoreDrillRoleArn", identity.restore_drill_role.arn)

if settings.registry.manage:
    registry = EtlRegistry("registry", EtlRegistryArgs(settings, identity.provider_arn))
    pulumi.export("etlRepositoryUrl", registry.repository.repository_url)
    pulumi.export("etlRepositoryName", registry.repository.name)
    pulumi.export("etlRepositoryArn", registry.repository.arn)
    pulumi.export("etlRegistryId", registry.repository.registry_id)
    pulumi.export("etlImagePushRoleArn", registry.push_role.arn)

environment_resources = {}
if settings.github.manage_repository_settings:
    repo = RepositorySettings("github", RepositorySettingsArgs(settings.github))
    environment_resources = repo.environments
    pulumi.export("githubEnvironments", sorted(repo.environments))

# The workflows read their environment's role as vars.AWS_ROLE_ARN, set here from the roles themselves.
roles = {"preview": identity.preview_role, "deploy": identity.deploy_role, "restore-drill": identity.restore_drill_role}
WorkflowVariables("workflow-variables", WorkflowVariablesArgs(
    repository=settings.github.name, region=settings.region,
    environment_roles={environment.name: roles[environment.role].arn
                       for environment in ci_environments(settings.environment)},
    environment_resources=environment_resources))
