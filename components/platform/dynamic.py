"""The shape every settings resource here shares: desired inputs, a read that observes, a diff that shows drift.

A `SettingProvider` manages one setting of one remote object (a Supabase project's PITR add-on,
its SSL enforcement, a Vercel project's Web Analytics...). Subclasses say which inputs are the
setting (`CONFIG`), which ones pick the remote object (`REPLACING`), and implement three calls:

- `observe(props)`: the setting as the API reports it now, in the same shape as the inputs
  (or None when the object is gone);
- `apply(props, olds)`: make the API match the inputs (olds is None on create);
- `remove(props)`: what deleting the resource does (often nothing: removing a declaration must not
  open a database or turn a safeguard off).

`read` (refresh) stores the observed values under the input names, so after `pulumi refresh` (or
`pulumi preview --refresh`) a change made in a dashboard is a diff against the settings, and the
next `pulumi up` puts the setting back. `diff` itself never calls the API.

Every input named `setting` is the config key the resource comes from; check failures and API
errors name it, so an operator knows which line of the stack file to change. The token inputs are
secrets and never appear in an error (the client redacts them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from components.platform.rest import ApiError, is_allowed_base_url


class SettingProvider(ResourceProvider):
    """Create/read/update/delete one remote setting; subclasses implement observe/apply/remove."""

    ID_PROPERTY: ClassVar[str] = "project_ref"
    REPLACING: ClassVar[tuple[str, ...]] = ("project_ref",)
    CONFIG: ClassVar[tuple[str, ...]] = ()
    CONNECTION: ClassVar[tuple[str, ...]] = ("api_url", "access_token")
    WHAT: ClassVar[str] = "setting"  # "PITR add-on": the start of error messages

    # --- to implement ----------------------------------------------------------------------------------------

    def problems(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(property, reason) for invalid inputs; values unknown at preview are skipped by the caller's types."""
        return []

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any] | None:
        raise NotImplementedError

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        raise NotImplementedError

    def remove(self, props: Mapping[str, Any]) -> None:
        """Default: deleting the declaration leaves the remote setting as it is."""

    # --- the engine's calls ----------------------------------------------------------------------------------

    def all_problems(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = []
        api_url = props.get("api_url")
        if isinstance(api_url, str) and not is_allowed_base_url(api_url):
            problems.append(("api_url", f"api_url must be an https:// URL (plain http only to localhost), "
                                        f"got {api_url!r}"))
        ident = props.get(self.ID_PROPERTY)
        if isinstance(ident, str) and not ident:
            problems.append((self.ID_PROPERTY, f"{self.ID_PROPERTY} must not be empty"))
        return problems + self.problems(props)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        setting = news.get("setting") or "its setting"
        return CheckResult(news, [CheckFailure(prop, f"{setting}: {reason}")
                                  for prop, reason in self.all_problems(news)])

    def require_valid(self, props: Mapping[str, Any]) -> None:
        problems = self.all_problems(props)
        if problems:
            setting = props.get("setting") or "its setting"
            raise ValueError(f"invalid {self.WHAT} ({setting}): " + "; ".join(reason for _, reason in problems))

    def naming_setting(self, props: Mapping[str, Any], call):
        """Run an API call; an API error gains the setting it came from (the message is already scrubbed)."""
        try:
            return call()
        except ApiError as error:
            hint = self.hint(error)
            raise type(error)(f"{self.WHAT} ({props.get('setting') or 'its setting'}): {error}"
                              f"{'; ' + hint if hint else ''}", error.status) from None

    def hint(self, error: ApiError) -> str:
        """What to check for an API error (the plan an endpoint needs, say); empty for none."""
        return ""

    def create(self, props: dict[str, Any]) -> CreateResult:
        self.require_valid(props)
        applied = self.naming_setting(props, lambda: self.apply(props, None))
        return CreateResult(id_=str(props[self.ID_PROPERTY]), outs={**props, **applied})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [prop for prop in self.REPLACING if olds.get(prop) != news.get(prop)]
        changed = replaces or [prop for prop in (*self.CONFIG, *self.CONNECTION, "setting")
                               if olds.get(prop) != news.get(prop)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.require_valid(news)
        if any(olds.get(prop) != news.get(prop) for prop in self.CONFIG):
            applied = self.naming_setting(news, lambda: self.apply(news, olds))
        else:
            applied = {}
        return UpdateResult(outs={**news, **applied})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        observed = self.naming_setting(props, lambda: self.observe(props))
        if observed is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, **observed})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.naming_setting(props, lambda: self.remove(props))
