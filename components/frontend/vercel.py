"""The frontend plane: the Next.js app's Vercel project, its variables per environment, and blue/green aliases.

One Vercel project serves both stacks. The production stack owns it (declares and protects the
`vercel.Project`); the staging stack only looks it up by name (`get_project`, an invoke: nothing
is declared, so destroying staging can never touch the project). Everything else is per stack
and never shared: staging manages the variables that target Vercel's `preview` environment and
builds preview deployments; production manages the `production` variables and production builds.

Blue/green, on the same `kingtavo:activeColor` toggle as the ETL service: each color's release is a
Git ref of the web app, built as one `vercel.Deployment` whose inputs depend only on that ref (so
a new idle ref rebuilds only the idle deployment, and a flip rebuilds nothing). Two aliases are the
only resources that read the active color: the stack's domain on the active color's deployment,
the idle domain on the other one (for smoke tests before a flip). An alias takes a deployment's id,
so it moves only after that deployment built; a failed build fails `pulumi up` with every alias
where it was. The project never assigns its custom domains to new production builds
(`auto_assign_custom_domains=False`): only the aliases decide what is live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
import pulumiverse_vercel as vercel

from components.core.context import StackContext
from components.core.reserved import SENTRY_AUTH_TOKEN, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_URL
from components.core.settings import (
    COLORS,
    PROJECT,
    Color,
    FrontendSettings,
    Secret,
    SettingsError,
    SupabaseSettings,
    looks_secret,
)

# Standard Protection: Vercel Authentication on every preview and generated deployment URL; only the
# project's production custom domain (the live domain in production) is public.
VERCEL_AUTHENTICATION = "standard_protection_new"
PROTECTION_BYPASS_LENGTH = 32  # Vercel's bypass secrets are 32 alphanumeric characters

# SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SENTRY_AUTH_TOKEN: the variables the program sets
# itself, reserved in components/core/reserved.py, which settings validation reads too.
# Config keys that name variables freely; every other source is fixed by the program.
FREE_FORM_SOURCES = (f"{PROJECT}:frontend.publicEnv.", f"{PROJECT}:frontendServerSecrets.")


@dataclass(frozen=True)
class FrontendVariable:
    """One Vercel environment variable: public ones are plain settings, the others sensitive Pulumi secrets."""

    key: str
    value: pulumi.Input[str]
    sensitive: bool
    source: str  # the config key it comes from, named in error messages


@dataclass(frozen=True)
class FrontendArgs:
    ctx: StackContext
    settings: FrontendSettings
    supabase: SupabaseSettings
    active_color: Color
    supabase_service_role_key: Secret
    sentry_auth_token: Secret
    server_secrets: Mapping[str, Secret]
    # Public values computed by other components (e.g. the Sentry DSN), NAME -> value.
    public_outputs: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def frontend_variables(args: FrontendArgs) -> list[FrontendVariable]:
    """Every variable the stack manages, or SettingsError naming each key that collides or looks secret.

    NEXT_PUBLIC_SUPABASE_URL and _ANON_KEY come from `kingtavo:supabase` only, so the browser and the
    server can never be pointed at two different projects.
    """
    public = [
        FrontendVariable(SUPABASE_URL, args.supabase.url, False, f"{PROJECT}:supabase.url"),
        FrontendVariable(SUPABASE_ANON_KEY, args.supabase.anon_key, False, f"{PROJECT}:supabase.anonKey"),
        *(FrontendVariable(k, v, False, f"public output {k}") for k, v in args.public_outputs.items()),
        *(FrontendVariable(k, v, False, f"{PROJECT}:frontend.publicEnv.{k}")
          for k, v in args.settings.public_env.items()),
    ]
    server = [
        FrontendVariable(SUPABASE_SERVICE_ROLE_KEY, args.supabase_service_role_key.output(), True,
                         f"{PROJECT}:supabaseServiceRoleKey"),
        FrontendVariable(SENTRY_AUTH_TOKEN, args.sentry_auth_token.output(), True, f"{PROJECT}:sentryAuthToken"),
        *(FrontendVariable(k, v.output(), True, f"{PROJECT}:frontendServerSecrets.{k}")
          for k, v in args.server_secrets.items()),
    ]
    problems = _variable_problems(public, server)
    if problems:
        raise SettingsError(problems)
    return public + server


def _variable_problems(public: list[FrontendVariable], server: list[FrontendVariable]) -> list[str]:
    """Collisions are reported on the free-form key (publicEnv, frontendServerSecrets), the one to remove."""
    problems = []
    first_source: dict[str, str] = {}
    free_form_last = sorted(public + server, key=lambda v: v.source.startswith(FREE_FORM_SOURCES))
    for variable in free_form_last:
        if variable.key in first_source:
            problems.append(f"{variable.source}: {variable.key} is already set from {first_source[variable.key]}; "
                            f"one variable has one source, remove this one")
        else:
            first_source[variable.key] = variable.source
    for variable in public:
        if looks_secret(variable.key):
            problems.append(f"{variable.source}: {variable.key} looks like a secret and public values are shipped to "
                            f"every browser")
    for variable in server:
        if variable.key.startswith("NEXT_PUBLIC_"):
            problems.append(f"{variable.source}: {variable.key} is a server-side secret and must not be NEXT_PUBLIC_")
    return problems


def resource_suffix(key: str) -> str:
    """`NEXT_PUBLIC_SUPABASE_URL` -> `next-public-supabase-url`, for resource names that read like the variable."""
    return key.lower().replace("_", "-")


class VercelFrontend(pulumi.ComponentResource):
    """The Vercel project (owned by production), this stack's variables, one deployment per color, two aliases.

    Outputs: project_id, live_url, idle_url, live_deployment_id, idle_deployment_id, deployments (color ->
    vercel.Deployment), protection_bypass_secret (a Pulumi secret, for CI's smoke tests).
    """

    def __init__(self, name: str, args: FrontendArgs, opts: pulumi.ResourceOptions | None = None):
        variables = frontend_variables(args)  # raises before this component or any child is registered
        super().__init__("kingtavo:frontend:VercelFrontend", name, None, opts)
        settings = args.settings
        env = args.ctx.env
        self._vercel_target = env.vercel_target

        self.project_id = self._project(name, settings, owns=env.owns_vercel_project)
        self.custom_environment_id = self._custom_environment(name, env) if env.vercel_custom_environment else None
        env_vars = [self._variable(name, variable, env.vercel_target, args.ctx.environment)
                    for variable in variables]
        live_domain = self._live_domain(name, settings) if args.ctx.env.owns_vercel_project else None

        self.deployments = {color: self._deployment(name, color, settings, args.ctx.environment, env_vars)
                            for color in COLORS}
        built = list(self.deployments.values())
        idle_color: Color = "green" if args.active_color == "blue" else "blue"
        # Both aliases wait for both builds: a failed build stops every alias from moving.
        live_alias = vercel.Alias(
            f"{name}-live-alias", alias=settings.domain, deployment_id=self.deployments[args.active_color].id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*built, *([live_domain] if live_domain else [])]))
        idle_alias = vercel.Alias(
            f"{name}-idle-alias", alias=settings.idle_domain, deployment_id=self.deployments[idle_color].id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=built))

        bypass_secret = random.RandomPassword(f"{name}-protection-bypass-secret", length=PROTECTION_BYPASS_LENGTH,
                                              special=False, opts=pulumi.ResourceOptions(parent=self))
        vercel.ProjectProtectionBypass(
            f"{name}-protection-bypass", project_id=self.project_id, secret=bypass_secret.result,
            note=f"kingtavo {args.ctx.environment} CI smoke tests",
            opts=pulumi.ResourceOptions(parent=self))

        self.live_url = live_alias.alias.apply(lambda domain: f"https://{domain}")
        self.idle_url = idle_alias.alias.apply(lambda domain: f"https://{domain}")
        self.live_deployment_id = live_alias.deployment_id
        self.idle_deployment_id = idle_alias.deployment_id
        self.protection_bypass_secret = pulumi.Output.secret(bypass_secret.result)
        self.register_outputs({"projectId": self.project_id, "liveUrl": self.live_url, "idleUrl": self.idle_url,
                               "liveDeploymentId": self.live_deployment_id,
                               "idleDeploymentId": self.idle_deployment_id})

    def _project(self, name: str, settings: FrontendSettings, owns: bool) -> pulumi.Output[str]:
        """Production declares the project and protects it; staging reads its id (an invoke, no resource)."""
        if not owns:
            found = vercel.get_project_output(name=settings.project_name,
                                              opts=pulumi.InvokeOutputOptions(parent=self))
            self.team_id = found.team_id
            return found.id
        project = vercel.Project(
            f"{name}-project",
            name=settings.project_name,
            framework="nextjs",
            git_repository=vercel.ProjectGitRepositoryArgs(type="github", repo=settings.git_repository,
                                                           production_branch=settings.production_branch),
            root_directory=settings.root_directory,
            node_version=settings.node_version,
            skew_protection=settings.skew_protection,
            vercel_authentication=vercel.ProjectVercelAuthenticationArgs(deployment_type=VERCEL_AUTHENTICATION),
            auto_assign_custom_domains=False,
            opts=pulumi.ResourceOptions(parent=self, protect=True))
        self.team_id = project.team_id  # the team the project is in (TeamMember and access groups need the id)
        return project.id

    def _custom_environment(self, name: str, env) -> pulumi.Output[str]:
        """The stack's own Vercel environment (no branch tracking: only this program deploys to it)."""
        custom = vercel.CustomEnvironment(
            f"{name}-{env.vercel_custom_environment}-environment", project_id=self.project_id,
            name=env.vercel_custom_environment,
            description=f"kingtavo {env.name}: its variables reach only its own deployments, never branch previews",
            opts=pulumi.ResourceOptions(parent=self))
        return custom.id

    def _variable(self, name: str, variable: FrontendVariable, target: str,
                  environment: str) -> vercel.ProjectEnvironmentVariable:
        """One resource per variable, so a plan shows exactly which variable changes.

        With a custom environment, the variable lives there; a public one is also given to the standard
        target (branch previews need the public Supabase URL and anon key to render), a sensitive one never.
        """
        custom = self.custom_environment_id
        targets = [target] if custom is None or not variable.sensitive else None
        return vercel.ProjectEnvironmentVariable(
            f"{name}-env-{resource_suffix(variable.key)}",
            project_id=self.project_id,
            key=variable.key,
            value=variable.value,
            sensitive=variable.sensitive,
            targets=targets,
            custom_environment_ids=[custom] if custom is not None else None,
            comment=f"managed by Pulumi (kingtavo {environment}); edit the stack config, not the dashboard",
            opts=pulumi.ResourceOptions(parent=self))

    def _live_domain(self, name: str, settings: FrontendSettings) -> vercel.ProjectDomain:
        """The live domain as the project's production custom domain: public under Standard Protection.

        With auto_assign_custom_domains=False no new build takes it; the live alias decides. The idle
        domain stays a bare alias, so Vercel Authentication keeps it private (CI uses the bypass).
        """
        return vercel.ProjectDomain(f"{name}-live-domain", project_id=self.project_id, domain=settings.domain,
                                    opts=pulumi.ResourceOptions(parent=self))

    def _deployment(self, name: str, color: Color, settings: FrontendSettings, environment: str,
                    env_vars: list[vercel.ProjectEnvironmentVariable]) -> vercel.Deployment:
        """A color's build of its Git ref: inputs depend only on the project and that ref, never the active color.

        It waits for the variables so that a first build sees them (NEXT_PUBLIC_ values are inlined at build
        time); a changed variable reaches users with the next release, built on the idle color.
        """
        ref = settings.release(color).ref
        return vercel.Deployment(
            f"{name}-{color}",
            project_id=self.project_id,
            ref=ref,
            production=self._vercel_target == "production",  # Vercel's Production target, not a stack name
            custom_environment_id=self.custom_environment_id,
            meta={"kingtavoColor": color},
            opts=pulumi.ResourceOptions(parent=self, depends_on=env_vars))
