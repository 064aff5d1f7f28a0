"""The repository's gates as code (pulumi-github): deployment environments, the `main` ruleset, the tag ruleset.

- Every GitHub environment a workflow job assumes an AWS role in (ci_environments.py: `preview-<stack>`,
  `drift-<stack>`, `<stack>`, `restore-drill-staging`), with the deployment refs the table gives it: previews
  admit pull-request runs only (`refs/pull/*/merge`), drift, the restore drill and staging `main` only,
  production `main` and `v*.*.*` tags.
- `production` and `preview-production` wait for a reviewer of `github.reviewerTeams` (never the person who
  triggered the run, no admin bypass): a deploy, and the production preview that runs a pull request's
  code with production's configuration decrypted, happen only after a person has read it.
- `main`: changes only through a pull request with an approving review, a code owner's review among
  them, and the CI checks passing (`github.requiredChecks`: ci.yml's job names), no force push, no deletion.
- `v*` tags, which start production deploys, may be created, moved or deleted only by the release team.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_github as github

from kingtavo_bootstrap.ci_environments import CiEnvironment, all_ci_environments
from kingtavo_bootstrap.settings import GithubSettings


@dataclass(frozen=True)
class RepositorySettingsArgs:
    github: GithubSettings


class RepositorySettings(pulumi.ComponentResource):
    """Outputs: environments (name -> resource), main_ruleset, tag_ruleset."""

    def __init__(self, name: str, args: RepositorySettingsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo-bootstrap:github:RepositorySettings", name, None, opts)
        gh = args.github
        child = pulumi.ResourceOptions(parent=self)
        team_ids = [github.get_team_output(slug=slug, summary_only=True, opts=pulumi.InvokeOptions(parent=self)).id
                    for slug in gh.reviewer_teams]
        release_team_id = github.get_team_output(slug=gh.release_team, summary_only=True,
                                                 opts=pulumi.InvokeOptions(parent=self)).id
        reviewers = [github.RepositoryEnvironmentReviewerArgs(teams=[tid.apply(int) for tid in team_ids])]
        self.environments: dict[str, github.RepositoryEnvironment] = {
            environment.name: self._environment(name, environment, gh.name, reviewers)
            for environment in all_ci_environments()}

        self.main_ruleset = github.RepositoryRuleset(
            f"{name}-main", name="main: reviewed, checked, linear", repository=gh.name, target="branch",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(ref_name=github.RepositoryRulesetConditionsRefNameArgs(
                includes=["~DEFAULT_BRANCH", "refs/heads/main"], excludes=[])),
            rules=github.RepositoryRulesetRulesArgs(
                deletion=True, non_fast_forward=True,
                pull_request=github.RepositoryRulesetRulesPullRequestArgs(
                    required_approving_review_count=1, require_code_owner_review=True,
                    dismiss_stale_reviews_on_push=True, require_last_push_approval=True,
                    required_review_thread_resolution=True),
                required_status_checks=github.RepositoryRulesetRulesRequiredStatusChecksArgs(
                    strict_required_status_checks_policy=True,
                    required_checks=[github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(context=check)
                                     for check in gh.required_checks])),
            opts=child)
        self.tag_ruleset = github.RepositoryRuleset(
            f"{name}-release-tags", name="v* tags: release team only", repository=gh.name, target="tag",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(ref_name=github.RepositoryRulesetConditionsRefNameArgs(
                includes=["refs/tags/v*"], excludes=[])),
            rules=github.RepositoryRulesetRulesArgs(creation=True, update=True, deletion=True, non_fast_forward=True),
            bypass_actors=[github.RepositoryRulesetBypassActorArgs(
                actor_id=release_team_id.apply(int), actor_type="Team", bypass_mode="always")],
            opts=child)
        self.register_outputs({"environments": sorted(self.environments)})

    def _environment(self, name: str, environment: CiEnvironment, repository: str, reviewers
                     ) -> github.RepositoryEnvironment:
        """An environment that only its deployment refs (branches and tags) may deploy to."""
        reviewed = reviewers if environment.reviewed else None
        resource = github.RepositoryEnvironment(
            f"{name}-env-{environment.name}", repository=repository, environment=environment.name,
            reviewers=reviewed, prevent_self_review=environment.reviewed, can_admins_bypass=not environment.reviewed,
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True),
            # An environment holds its secrets and variables: removing it from code must not delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True))
        for pattern in environment.branches:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-env-{environment.name}-branch-{_slug(pattern)}", repository=repository,
                environment=resource.environment, branch_pattern=pattern, opts=pulumi.ResourceOptions(parent=resource))
        for pattern in environment.tags:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-env-{environment.name}-tag-{_slug(pattern)}", repository=repository,
                environment=resource.environment, tag_pattern=pattern, opts=pulumi.ResourceOptions(parent=resource))
        return resource


def _slug(pattern: str) -> str:
    """A resource-name-safe form of a ref pattern (`v*.*.*` -> `v-x-x-x`)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", pattern.replace("*", "x")).strip("-")
