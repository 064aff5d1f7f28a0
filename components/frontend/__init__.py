"""The frontend plane: the Vercel project, variables, blue/green deployments and aliases, team access."""

from components.frontend.team_access import VercelTeamAccess, VercelTeamAccessArgs
from components.frontend.vercel import FrontendArgs, VercelFrontend

__all__ = [
    "VercelTeamAccess", "VercelTeamAccessArgs", "FrontendArgs", "VercelFrontend",
]
