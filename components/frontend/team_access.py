"""Who may see the web app's production secrets on Vercel, and its Web Analytics and Speed Insights.

Declared only by the stack that owns the Vercel project (production): the team and the project are
shared, so a second stack declaring them would fight over the same members.

Least privilege, from `frontend.teamMembers` (Vercel user ids, never emails):

- every person is a team **Contributor** (`vercel.TeamMember`, role `CONTRIBUTOR`): a Contributor sees
  no project unless given one, so nobody reads anything by being on the team;
- on the web app's project each person has the role the settings name. Only `ADMIN` may read and change
  Production environment variables: that is the operators' role. `PROJECT_DEVELOPER` works with
  Preview and Development only; `PROJECT_VIEWER` reads deployments and logs. The project role is
  carried by the TeamMember's `projects` (a Contributor must have a project or an access group);
  a separate `ProjectMembers` for the same people would manage the same memberships twice;
- the on-call people are members of one access group (`vercel.AccessGroup`), which has
  `frontend.onCallProjectRole` on the project (`vercel.AccessGroupProject`), so a rotation changes
  one list, not each person's roles.

Vercel's API adds a new person to a team only by email invitation; the program keeps ids. So a new
person is invited once in the dashboard, then listed here by id and imported
(`pulumi import vercel:index/teamMember:TeamMember <name> <team id>/<user id>`); the README's
"Known limits" says so.

Web Analytics and Speed Insights are `components/platform/vercel_analytics.VercelAnalytics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_vercel as vercel

from components.core.context import StackContext
from components.core.settings import PROJECT, FrontendSettings
from components.platform.vercel_analytics import VercelAnalytics

TEAM_ROLE = "CONTRIBUTOR"


@dataclass(frozen=True)
class VercelTeamAccessArgs:
    ctx: StackContext
    settings: FrontendSettings
    project_id: pulumi.Input[str]
    team_id: pulumi.Input[str]
    api_url: str = "https://api.vercel.com"


class VercelTeamAccess(pulumi.ComponentResource):
    """Team members, the on-call access group, and the project's analytics. Outputs: `members`, `summary`."""

    def __init__(self, name: str, args: VercelTeamAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:frontend:VercelTeamAccess", name, None, opts)
        settings, child = args.settings, pulumi.ResourceOptions(parent=self)
        self.members: dict[str, str] = {}
        self.analytics = None
        if not args.ctx.env.owns_vercel_project:
            self.summary = pulumi.Output.from_input("declared by the stack that owns the Vercel project")
            self.register_outputs({"summary": self.summary})
            return
        self.analytics = VercelAnalytics(
            f"{name}-analytics", project_id=args.project_id, team=args.team_id, web_analytics=settings.web_analytics,
            speed_insights=settings.speed_insights, setting=f"{PROJECT}:frontend.webAnalytics / speedInsights",
            api_url=args.api_url, opts=child)
        on_call = vercel.AccessGroup(f"{name}-{settings.on_call_group}", name=settings.on_call_group,
                                     team_id=args.team_id, opts=child)
        vercel.AccessGroupProject(f"{name}-{settings.on_call_group}-project", access_group_id=on_call.id,
                                  project_id=args.project_id, role=settings.on_call_project_role,
                                  team_id=args.team_id, opts=pulumi.ResourceOptions(parent=on_call))
        for member in settings.team_members:
            vercel.TeamMember(
                f"{name}-member-{member.label}", team_id=args.team_id, user_id=member.user_id, role=TEAM_ROLE,
                projects=[vercel.TeamMemberProjectArgs(project_id=args.project_id, role=member.project_role)],
                access_groups=[on_call.id] if member.on_call else None, opts=child)
            self.members[member.label] = member.project_role
        self.summary = pulumi.Output.from_input({
            "teamRole": TEAM_ROLE, "projectRoles": self.members, "onCallGroup": settings.on_call_group,
            "onCall": sorted(m.label for m in settings.team_members if m.on_call),
            "onCallProjectRole": settings.on_call_project_role,
            "webAnalytics": settings.web_analytics, "speedInsights": settings.speed_insights})
        self.register_outputs({"summary": self.summary})
