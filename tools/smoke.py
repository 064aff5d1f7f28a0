"""Smoke checks after a deploy: named endpoints must answer with an expected status and content before a
deadline. Replaces tools/smoke.sh, which read only the status (so any existing deployment passed).

    VERCEL_AUTOMATION_BYPASS_SECRET=... python -m tools.smoke --deadline 300 --interval 5 \\
        --endpoint idle "$IDLE_URL" --status 200 --contains '<div id="__next"' --bypass \\
        --endpoint health "$IDLE_URL/api/health" --status 200 --contains '"status":"ok"' --bypass \\
        --endpoint supabase "https://$REF.supabase.co/rest/v1/" --status 200,401

Each `--endpoint NAME URL` starts a check; `--status` (codes or classes: 200,401 or 2xx; default 2xx),
`--contains TEXT` (repeatable: every text must be in the body) and `--bypass` apply to the endpoint before
them. `--bypass` sends Vercel's `x-vercel-protection-bypass` header with the secret from
VERCEL_AUTOMATION_BYPASS_SECRET (Protection Bypass for Automation), so a deployment behind Vercel
Authentication is checked for its real page, not its 401; the header goes only to endpoints that ask for it,
never to a third party. Redirects are not followed (a login redirect is not the page).

Every endpoint is retried until it passes or the shared deadline passes (a fresh alias or a rolling pod
takes a moment). URLs are printed without user info and query. Exit 0 all passed, 1 some failed, 2 usage.
Written on `requests` (already pinned for the program): the job is a GET with a deadline and a body check.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

BYPASS_ENV = "VERCEL_AUTOMATION_BYPASS_SECRET"
BYPASS_HEADER = "x-vercel-protection-bypass"
USER_AGENT = "kingtavo-smoke/2"
MAX_BODY = 1_000_000
STATUS_ITEM = re.compile(r"^([1-5]xx|[1-5][0-9][0-9])$")


@dataclass
class Endpoint:
    name: str
    url: str
    statuses: tuple[str, ...] = ("2xx",)
    contains: list[str] = field(default_factory=list)
    bypass: bool = False

    def accepts(self, code: int) -> bool:
        return any(item == str(code) or (item.endswith("xx") and str(code)[0] == item[0]) for item in self.statuses)


@dataclass
class Outcome:
    endpoint: Endpoint
    passed: bool
    tries: int
    detail: str


def printable(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def parse_statuses(value: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in value.split(","))
    if not items or not all(STATUS_ITEM.match(item) for item in items):
        raise argparse.ArgumentTypeError(f"expected codes or classes like 200,401 or 2xx, got {value!r}")
    return items


def check_once(endpoint: Endpoint, timeout: float, secret: str | None, session: requests.Session) -> str | None:
    """None when the endpoint answered as expected, else what was wrong (no secret, no body dump)."""
    headers = {"User-Agent": USER_AGENT}
    if endpoint.bypass and secret:
        headers[BYPASS_HEADER] = secret
    try:
        with session.get(endpoint.url, headers=headers, timeout=timeout, allow_redirects=False, stream=True) as answer:
            body = answer.raw.read(MAX_BODY, decode_content=True).decode(answer.encoding or "utf-8", "replace")
            code = answer.status_code
    except requests.RequestException as error:
        return f"no answer ({type(error).__name__})"
    if not endpoint.accepts(code):
        hint = " (protected: is --bypass and its secret right?)" if code in (401, 403) else ""
        return f"status {code}, want {','.join(endpoint.statuses)}{hint}"
    missing = [text for text in endpoint.contains if text not in body]
    if missing:
        return f"status {code} but the page lacks {missing[0]!r} (wrong page or deployment?)"
    return None


def run_checks(endpoints: list[Endpoint], deadline_seconds: float, interval: float, timeout: float,
               secret: str | None = None, log=print) -> list[Outcome]:
    """Check every endpoint, retrying each until it passes or the shared deadline passes."""
    deadline = time.monotonic() + deadline_seconds
    outcomes = []
    with requests.Session() as session:
        session.trust_env = False  # no proxy or .netrc credentials slipped into the requests
        for endpoint in endpoints:
            tries, problem = 0, "not checked"
            while True:
                tries += 1
                remaining = deadline - time.monotonic()
                problem = check_once(endpoint, max(0.5, min(timeout, remaining)), secret, session)
                if problem is None:
                    log(f"smoke: ok {endpoint.name} {printable(endpoint.url)} (try {tries})")
                    break
                log(f"smoke: try {tries}: {endpoint.name} {printable(endpoint.url)}: {problem}")
                if time.monotonic() + interval >= deadline:
                    break
                time.sleep(interval)
            if problem is not None:
                log(f"smoke: FAILED {endpoint.name} {printable(endpoint.url)}: {problem}")
            outcomes.append(Outcome(endpoint, problem is None, tries, problem or "ok"))
    return outcomes


class _EndpointAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        name, url = values
        if not re.match(r"^[A-Za-z0-9_.-]{1,50}$", name):
            parser.error(f"--endpoint {name!r}: a name of letters, digits, '.', '_' or '-'")
        if not url:
            parser.error(f"--endpoint {name}: empty URL (is the stack output it comes from exported?)")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            parser.error(f"--endpoint {name}: not an http(s) URL: {printable(url)}")
        namespace.endpoints = [*(namespace.endpoints or []), Endpoint(name, url)]


class _ModifierAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        if not namespace.endpoints:
            parser.error(f"{option_string} must follow an --endpoint NAME URL")
        last = namespace.endpoints[-1]
        if option_string == "--status":
            last.statuses = values
        elif option_string == "--contains":
            last.contains.append(values)
        else:
            last.bypass = True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", nargs=2, metavar=("NAME", "URL"), action=_EndpointAction, dest="endpoints")
    parser.add_argument("--status", type=parse_statuses, action=_ModifierAction, help="for the endpoint before")
    parser.add_argument("--contains", action=_ModifierAction, help="for the endpoint before (repeatable)")
    parser.add_argument("--bypass", nargs=0, action=_ModifierAction, help="for the endpoint before")
    parser.add_argument("--deadline", type=float, default=300, help="seconds for all endpoints (default 300)")
    parser.add_argument("--interval", type=float, default=5, help="seconds between tries (default 5)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds per request (default 10)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.endpoints:
        parser.error("no --endpoint NAME URL to check")
    for option in ("deadline", "interval", "timeout"):
        if getattr(args, option) <= 0:
            parser.error(f"--{option}: expected a number of seconds above 0")
    secret = os.environ.get(BYPASS_ENV) or None
    needing = [e.name for e in args.endpoints if e.bypass]
    if needing and not secret:
        parser.error(f"--bypass on {', '.join(needing)} needs {BYPASS_ENV} set (Vercel Protection Bypass "
                     "for Automation)")
    outcomes = run_checks(args.endpoints, args.deadline, args.interval, args.timeout, secret)
    failed = [o.endpoint.name for o in outcomes if not o.passed]
    print(f"smoke: {len(outcomes) - len(failed)}/{len(outcomes)} passed" + (f"; failed: {', '.join(failed)}"
                                                                             if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
