"""Vercel Web Analytics and Speed Insights for one project, as a dynamic resource (pulumiverse-vercel has none).

The calls are the ones the Vercel CLI makes for `vercel project web-analytics` and
`vercel project speed-insights` (vercel/vercel, packages/cli/src/commands/project/): they are not
in Vercel's published REST API reference, so they may change without notice.

- `POST /web/insights/toggle?projectId=<id>` with `{"value": true|false}` -> `{"value": bool}`;
- `POST /speed-insights/toggle?projectId=<id>` with `{"value": true|false}` -> `{"value": bool}`;
- read: `GET /v9/projects/{idOrName}` (documented), whose `webAnalytics` and `speedInsights`
  objects carry `enabledAt`, `disabledAt` and `canceledAt`; a feature is on when it was enabled
  after it was last disabled or canceled.

Each call takes the team as `teamId=` (an id, `team_...`) or `slug=`, as every Vercel endpoint.
Web Analytics is on every plan (Hobby with limits); Speed Insights is billed on Pro (Hobby: one
project). Both need the app to ship `@vercel/analytics` / `@vercel/speed-insights`.

The token is the one the Vercel provider uses, read from `VERCEL_API_TOKEN` when an operation
runs, so it is never an input and never in the state. Deleting the resource leaves both features
as they are (turning them off loses nothing the settings do not already say).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pulumi

from components.platform.dynamic import SettingProvider
from components.platform.rest import ApiError, JsonApi

API_URL = "https://api.vercel.com"
TOKEN_VARIABLE = "VERCEL_API_TOKEN"
FEATURES = {"web_analytics": ("webAnalytics", "/web/insights/toggle"),
            "speed_insights": ("speedInsights", "/speed-insights/toggle")}


class VercelApiError(ApiError):
    """A Vercel REST API call failed; the message has the status and Vercel's message, never the token."""


def vercel_api(props: Mapping[str, Any]) -> JsonApi:
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        raise VercelApiError(f"{TOKEN_VARIABLE} is not set: the Vercel analytics resource uses the same token as "
                             f"the Vercel provider")
    return JsonApi(props.get("api_url") or API_URL, token, name="Vercel REST API", user_agent="kingtavo-pulumi",
                   error=VercelApiError)


def team_query(props: Mapping[str, Any]) -> dict[str, str]:
    team = props.get("team") or ""
    if not team:
        return {}
    return {"teamId": team} if team.startswith("team_") else {"slug": team}


def is_enabled(feature: Mapping[str, Any] | None) -> bool:
    """On when enabled after the last disable or cancel (timestamps in milliseconds)."""
    if not feature or not feature.get("enabledAt"):
        return False
    enabled = feature["enabledAt"]
    return all(not feature.get(key) or feature[key] < enabled for key in ("disabledAt", "canceledAt"))


class VercelAnalyticsProvider(SettingProvider):
    ID_PROPERTY = "project_id"
    REPLACING = ("project_id", "team")
    CONFIG = ("web_analytics", "speed_insights")
    CONNECTION = ("api_url",)
    WHAT = "Vercel analytics"

    def hint(self, error: ApiError) -> str:
        return "Speed Insights is billed on Pro and limited to one project on Hobby" \
            if error.status in (402, 403) else ""

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            project = vercel_api(props).request("GET", f"/v9/projects/{props['project_id']}",
                                                query=team_query(props)) or {}
        except VercelApiError as error:
            if error.status == 404:
                return None
            raise
        return {prop: is_enabled(project.get(field)) for prop, (field, _) in FEATURES.items()}

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        api, applied = vercel_api(props), {}
        for prop, (_, path) in FEATURES.items():
            wanted = bool(props.get(prop))
            if olds is not None and bool(olds.get(prop)) == wanted:
                applied[prop] = wanted
                continue
            answer = api.request("POST", path, {"value": wanted},
                                 query={"projectId": props["project_id"], **team_query(props)}) or {}
            if answer.get("value") is not wanted:
                raise VercelApiError(f"{path} answered {answer!r} instead of value {wanted}")
            applied[prop] = wanted
        return applied


class VercelAnalytics(pulumi.dynamic.Resource, module="vercel", name="ProjectAnalytics"):
    """Web Analytics and Speed Insights of one Vercel project. Outputs: `web_analytics`, `speed_insights`."""

    web_analytics: pulumi.Output[bool]
    speed_insights: pulumi.Output[bool]

    def __init__(self, name: str, project_id: pulumi.Input[str], team: str, web_analytics: bool,
                 speed_insights: bool, setting: str, api_url: str = API_URL,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"project_id": project_id, "team": team, "api_url": api_url, "web_analytics": web_analytics,
                 "speed_insights": speed_insights, "setting": setting}
        super().__init__(VercelAnalyticsProvider(), name, props, opts)
