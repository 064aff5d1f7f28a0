"""Vercel Web Analytics / Speed Insights (components/platform/vercel_analytics.py) and who may see production secrets.

The analytics provider runs against tests/support/fake_apis.py's Vercel stand-in (the CLI's toggle
endpoints, `GET /v9/projects/{id}`); the token comes from `VERCEL_API_TOKEN` as for the Vercel
provider. The team access (components/frontend/team_access.py) is checked in both stacks' plans and
its settings in the settings loader.
"""

from __future__ import annotations

import secrets

import pytest

from components.core.settings import SettingsError
from components.platform import rest
from components.platform.vercel_analytics import TOKEN_VARIABLE, VercelAnalyticsProvider, VercelApiError, is_enabled
from tests.support.fake_apis import FakeVercel, serving
from tests.support.plans import plan
from tools.harness import run_stack
from tools.mocks import vercel_project_id

PROJECT_ID = "prj_fakeanalytics000000000000"
TEAM = "team_fakeofflineplan00000000"
SETTING = "kingtavo:frontend.webAnalytics / speedInsights"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(rest, "sleep", lambda _seconds: None)


@pytest.fixture
def vercel(monkeypatch):
    with serving(FakeVercel(token="fake-vercel-" + secrets.token_hex(12))) as fake:
        fake.projects[PROJECT_ID] = {}
        monkeypatch.setenv(TOKEN_VARIABLE, fake.token)
        yield fake


def props(vercel: FakeVercel, web: bool = True, speed: bool = True) -> dict:
    return {"project_id": PROJECT_ID, "team": TEAM, "api_url": vercel.url, "web_analytics": web,
            "speed_insights": speed, "setting": SETTING}


def test_create_toggles_both_features_for_the_project_and_team(vercel):
    created = VercelAnalyticsProvider().create(props(vercel))

    toggles = [(c.path, c.query, c.body) for c in vercel.calls if c.method == "POST"]
    assert toggles == [("/web/insights/toggle", {"projectId": PROJECT_ID, "teamId": TEAM}, {"value": True}),
                       ("/speed-insights/toggle", {"projectId": PROJECT_ID, "teamId": TEAM}, {"value": True})]
    assert created.id == PROJECT_ID and created.outs["web_analytics"] is True
    assert "token" not in str(created.outs).lower()  # the token is read from the environment, not stored


def test_a_feature_turned_off_in_the_dashboard_is_drift_and_is_turned_back_on(vercel):
    provider = VercelAnalyticsProvider()
    created = provider.create(props(vercel))
    vercel.clock += 5000
    vercel.projects[PROJECT_ID]["speedInsights"]["disabledAt"] = vercel.clock

    state = provider.read(PROJECT_ID, created.outs).outs

    assert state["speed_insights"] is False and state["web_analytics"] is True
    assert provider.diff(PROJECT_ID, state, props(vercel)).changes is True
    vercel.calls.clear()
    provider.update(PROJECT_ID, state, props(vercel))
    assert [c.path for c in vercel.calls] == ["/speed-insights/toggle"]  # only what drifted
    assert is_enabled(vercel.projects[PROJECT_ID]["speedInsights"])


def test_a_slug_team_is_sent_as_slug_and_a_missing_project_reads_as_gone(vercel):
    provider = VercelAnalyticsProvider()
    assert provider.read(PROJECT_ID, {**props(vercel), "project_id": "prj_gone"}).id is None
    provider.create({**props(vercel), "team": "kingtavo"})
    assert vercel.calls[-1].query == {"projectId": PROJECT_ID, "slug": "kingtavo"}


def test_a_rate_limited_toggle_is_retried(vercel):
    vercel.rate_limit(1, retry_after="2")

    VercelAnalyticsProvider().create(props(vercel, speed=False))

    assert [c.path for c in vercel.calls] == ["/web/insights/toggle"] * 2 + ["/speed-insights/toggle"]


def test_an_error_names_the_setting_and_the_plan_it_needs(vercel):
    vercel.fail(402, {"error": {"code": "payment_required", "message": "Speed Insights is not available"}})

    with pytest.raises(VercelApiError) as raised:
        VercelAnalyticsProvider().create(props(vercel, web=False))

    message = str(raised.value)
    assert message.startswith(f"Vercel analytics ({SETTING}): Vercel REST API POST /web/insights/toggle failed: "
                              f"HTTP 402: Speed Insights is not available")
    assert "billed on Pro" in message and vercel.token not in message


def test_without_the_token_nothing_is_sent(vercel, monkeypatch):
    monkeypatch.delenv(TOKEN_VARIABLE)

    with pytest.raises(VercelApiError, match=f"{TOKEN_VARIABLE} is not set"):
        VercelAnalyticsProvider().create(props(vercel))

    assert vercel.calls == []


@pytest.mark.parametrize(("feature", "enabled"), [
    (None, False), ({"enabledAt": 5}, True), ({"enabledAt": 5, "disabledAt": 9}, False),
    ({"enabledAt": 9, "disabledAt": 5}, True), ({"enabledAt": 9, "canceledAt": 12}, False),
])
def test_enabled_means_enabled_after_the_last_disable(feature, enabled):
    assert is_enabled(feature) is enabled


# --- who may see production secrets ------------------------------------------------------------------------------


def test_production_declares_contributors_with_one_project_role_and_the_on_call_group():
    result = plan("production")
    project_id = vercel_project_id("kingtavo-web")
    members = {r.name.removeprefix("vercel-access-member-"): r
               for r in result.by_type("vercel:index/teamMember:TeamMember")}
    assert sorted(members) == ["ada", "grace", "lin", "sam"]
    assert {m.inputs["role"] for m in members.values()} == {"CONTRIBUTOR"}
    roles = {label: m.inputs["projects"][0]["role"] for label, m in members.items()}
    assert {m.inputs["projects"][0]["projectId"] for m in members.values()} == {project_id}
    assert roles == {"ada": "ADMIN", "grace": "ADMIN", "lin": "PROJECT_DEVELOPER", "sam": "PROJECT_VIEWER"}
    assert all("email" not in m.inputs and m.inputs["userId"].startswith("Placeholder") for m in members.values())
    group = result.one("vercel:index/accessGroup:AccessGroup")
    assert group.inputs["name"] == "on-call" and group.inputs["teamId"] == TEAM
    assert result.one("vercel:index/accessGroupProject:AccessGroupProject").inputs["role"] == "PROJECT_VIEWER"
    on_call = sorted(label for label, m in members.items() if m.inputs.get("accessGroups"))
    assert on_call == ["ada", "grace", "lin"]
    analytics = result.one("pulumi-python:dynamic/vercel:ProjectAnalytics")
    assert analytics.inputs["web_analytics"] is True and analytics.inputs["speed_insights"] is True
    assert analytics.inputs["team"] == TEAM and analytics.inputs["project_id"] == project_id


def test_staging_declares_no_team_access_nor_analytics():
    result = plan("staging")
    for kind in ("teamMember:TeamMember", "accessGroup:AccessGroup", "accessGroupProject:AccessGroupProject"):
        assert result.by_type(f"vercel:index/{kind}") == []
    assert result.by_type("pulumi-python:dynamic/vercel:ProjectAnalytics") == []
    assert result.outputs["vercelAccess"] == "declared by the stack that owns the Vercel project"


def test_staging_listing_team_members_is_refused_naming_the_key():
    member = '[{"userId": "PlaceholderStagingUser00001", "label": "kim"}]'
    with pytest.raises(SettingsError, match=r"kingtavo:frontend\.teamMembers: the Vercel team and project are "
                                            r"declared by the stack that owns the project, not staging"):
        run_stack("staging", [f"frontend.teamMembers={member}"])


@pytest.mark.parametrize(("override", "expected"), [
    ('frontend.teamMembers=[{"userId": "not an id", "label": "x"}]', "kingtavo:frontend.teamMembers.0.userId"),
    ('frontend.teamMembers=[{"userId": "PlaceholderOperatorAda000001", "label": "ada", "projectRole": "OWNER"}]',
     "kingtavo:frontend.teamMembers.0.projectRole"),
    ('frontend.teamMembers=[{"userId": "PlaceholderOperatorAda000001", "label": "ada"}, '
     '{"userId": "PlaceholderOperatorAda000001", "label": "bob"}]',
     "kingtavo:frontend.teamMembers: userId 'PlaceholderOperatorAda000001' is listed more than once"),
])
def test_bad_member_settings_are_named(override, expected):
    with pytest.raises(SettingsError) as raised:
        run_stack("production", [override])
    assert expected in str(raised.value)
