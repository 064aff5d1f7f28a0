"""Watch the live color after a production flip and decide: hold, or flip back.

    SENTRY_AUTH_TOKEN=... VERCEL_AUTOMATION_BYPASS_SECRET=... python -m tools.verify_flip \\
        --window 600 --interval 30 --consecutive 2 \\
        --prometheus-url https://prometheus.internal.example --max-5xx-ratio 0.05 \\
        --query 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))' \\
        --sentry-url https://sentry.io --sentry-org kingtavo --sentry-project kingtavo-web-production \\
        --sentry-environment production --max-new-issues 3 \\
        --endpoint live https://app.kingtavo.com/ --status 200 --contains '<div id="__next"'

Every --interval seconds for --window seconds it takes one sample of each signal:
- the 5xx share, from Prometheus' instant query API (`/api/v1/query`, the alert rule's expression): the
  largest value of the vector; an empty vector or NaN (no traffic) reads as 0;
- new Sentry issues first seen since the flip (`/api/0/organizations/{org}/issues/`, `firstSeen:>=`);
- the smoke checks (tools/smoke.py), with the Vercel bypass header where asked.
A signal breaches when it is over its limit in --consecutive samples in a row (smoke: fails that many
times in a row); Sentry's count is cumulative, so one sample over the limit is a breach. The first breach
ends the watch: decision `flip-back`, exit 1. A whole window without a breach: `hold`, exit 0. When no
signal could be read in more than half of the samples the flip was not observed: `inconclusive`, exit 3,
and a person decides (flipping back on a monitoring outage would be a guess too).

In GitHub Actions it writes `decision=` and `reason=` to $GITHUB_OUTPUT; the workflow flips back with the
targeted `pulumi up` and records both events with `python -m tools.ops_record deployment`.
Tokens come from the environment only and never reach the output.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from tools import smoke

SENTRY_TOKEN_ENV = "SENTRY_AUTH_TOKEN"


class SignalUnavailable(RuntimeError):
    """A signal could not be read in this sample (the answer is missing or malformed)."""


@dataclass
class Signal:
    name: str
    read: Callable[[], float]       # one sample; raises SignalUnavailable
    limit: float
    consecutive: int
    streak: int = 0
    values: list[float | None] = field(default_factory=list)

    def sample(self) -> str | None:
        """Take a sample; the breach description when this sample completes one."""
        try:
            value = self.read()
        except SignalUnavailable:
            self.values.append(None)
            return None
        self.values.append(value)
        self.streak = self.streak + 1 if value > self.limit else 0
        if self.streak >= self.consecutive:
            return f"{self.name} {value:g} over {self.limit:g} in {self.streak} sample(s) in a row"
        return None


def prometheus_reader(session: requests.Session, base_url: str, query: str, timeout: float) -> Callable[[], float]:
    def read() -> float:
        try:
            answer = session.get(f"{base_url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=timeout)
            document = answer.json()
        except (requests.RequestException, ValueError) as error:
            raise SignalUnavailable(f"prometheus: {type(error).__name__}") from None
        if answer.status_code != 200 or document.get("status") != "success":
            raise SignalUnavailable(f"prometheus: HTTP {answer.status_code} {document.get('errorType', '')}")
        data = document.get("data") or {}
        if data.get("resultType") == "scalar":
            samples = [data.get("result")]
        elif data.get("resultType") == "vector":
            samples = [item.get("value") for item in data.get("result") or []]
        else:
            raise SignalUnavailable(f"prometheus: unexpected resultType {data.get('resultType')!r}")
        values = []
        for sample in samples:
            try:
                values.append(float(sample[1]))
            except (TypeError, ValueError, IndexError):
                raise SignalUnavailable("prometheus: a sample without a numeric value") from None
        return max((v for v in values if not math.isnan(v)), default=0.0)
    return read


def sentry_reader(session: requests.Session, base_url: str, org: str, project: str, environment: str | None,
                  since: datetime, token: str, timeout: float) -> Callable[[], float]:
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def read() -> float:
        params = {"project": project, "query": f"firstSeen:>={stamp}", "statsPeriod": "24h", "limit": "100"}
        if environment:
            params["environment"] = environment
        try:
            answer = session.get(f"{base_url.rstrip('/')}/api/0/organizations/{org}/issues/", params=params,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
            issues = answer.json()
        except (requests.RequestException, ValueError) as error:
            raise SignalUnavailable(f"sentry: {type(error).__name__}") from None
        if answer.status_code != 200 or not isinstance(issues, list):
            raise SignalUnavailable(f"sentry: HTTP {answer.status_code}")
        new = 0
        for issue in issues:
            first_seen = issue.get("firstSeen") if isinstance(issue, dict) else None
            try:
                seen = datetime.fromisoformat(str(first_seen).replace("Z", "+00:00"))
            except ValueError:
                raise SignalUnavailable("sentry: an issue without a valid firstSeen") from None
            new += seen >= since
        return float(new)
    return read


def smoke_reader(endpoints: list[smoke.Endpoint], secret: str | None, timeout: float,
                 session: requests.Session) -> Callable[[], float]:
    def read() -> float:
        return float(sum(smoke.check_once(e, timeout, secret, session) is not None for e in endpoints))
    return read


@dataclass
class Decision:
    decision: str   # hold, flip-back, inconclusive
    reason: str
    samples: int


def watch(signals: list[Signal], window: float, interval: float, clock=time.monotonic, sleep=time.sleep,
          log=print) -> Decision:
    """Sample every signal each interval until a breach or the end of the window."""
    end = clock() + window
    samples = 0
    while True:
        samples += 1
        for signal in signals:
            breach = signal.sample()
            shown = "unavailable" if signal.values[-1] is None else f"{signal.values[-1]:g}"
            log(f"verify-flip: sample {samples}: {signal.name} = {shown} (limit {signal.limit:g})")
            if breach:
                return Decision("flip-back", breach, samples)
        if clock() + interval > end:
            break
        sleep(interval)
    blind = sum(all(s.values[i] is None for s in signals) for i in range(samples))
    if blind * 2 > samples:
        return Decision("inconclusive", f"no signal could be read in {blind} of {samples} samples", samples)
    return Decision("hold", f"no breach in {samples} samples over {window:g} s", samples)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.verify_flip", description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=600, help="seconds to watch (default 600)")
    parser.add_argument("--interval", type=float, default=30, help="seconds between samples (default 30)")
    parser.add_argument("--consecutive", type=int, default=2, help="samples over the limit in a row to breach")
    parser.add_argument("--timeout", type=float, default=10, help="seconds per request (default 10)")
    parser.add_argument("--since", help="ISO time of the flip (default: now); Sentry counts issues from it")
    parser.add_argument("--prometheus-url")
    parser.add_argument("--query", help="the 5xx share expression (the alert rule's)")
    parser.add_argument("--max-5xx-ratio", type=float, default=0.05)
    parser.add_argument("--sentry-url", default="https://sentry.io")
    parser.add_argument("--sentry-org")
    parser.add_argument("--sentry-project")
    parser.add_argument("--sentry-environment")
    parser.add_argument("--max-new-issues", type=float, default=3)
    parser.add_argument("--endpoint", nargs=2, metavar=("NAME", "URL"), action=smoke._EndpointAction,
                        dest="endpoints")
    parser.add_argument("--status", type=smoke.parse_statuses, action=smoke._ModifierAction)
    parser.add_argument("--contains", action=smoke._ModifierAction)
    parser.add_argument("--bypass", nargs=0, action=smoke._ModifierAction)
    return parser


def signals_from(args: argparse.Namespace, parser: argparse.ArgumentParser, session: requests.Session) -> list[Signal]:
    for option in ("window", "interval", "timeout"):
        if getattr(args, option) <= 0:
            parser.error(f"--{option}: expected a number of seconds above 0")
    if args.consecutive < 1:
        parser.error("--consecutive: expected 1 or more")
    signals = []
    if bool(args.prometheus_url) != bool(args.query):
        parser.error("--prometheus-url and --query go together")
    if args.prometheus_url:
        signals.append(Signal("5xx ratio", prometheus_reader(session, args.prometheus_url, args.query, args.timeout),
                              args.max_5xx_ratio, args.consecutive))
    if args.sentry_org or args.sentry_project:
        if not (args.sentry_org and args.sentry_project):
            parser.error("--sentry-org and --sentry-project go together")
        token = os.environ.get(SENTRY_TOKEN_ENV)
        if not token:
            parser.error(f"the Sentry signal needs {SENTRY_TOKEN_ENV} set")
        try:
            since = datetime.fromisoformat(args.since.replace("Z", "+00:00")) if args.since else datetime.now(UTC)
        except ValueError:
            parser.error(f"--since: expected an ISO time such as 2026-12-01T10:00:00Z, got {args.since!r}")
        if since.tzinfo is None:
            parser.error("--since: give the UTC offset (Z or +00:00)")
        signals.append(Signal("new Sentry issues", sentry_reader(
            session, args.sentry_url, args.sentry_org, args.sentry_project, args.sentry_environment, since, token,
            args.timeout), args.max_new_issues, 1))
    if args.endpoints:
        secret = os.environ.get(smoke.BYPASS_ENV) or None
        if any(e.bypass for e in args.endpoints) and not secret:
            parser.error(f"--bypass needs {smoke.BYPASS_ENV} set")
        signals.append(Signal("failing smoke endpoints", smoke_reader(args.endpoints, secret, args.timeout, session),
                              0, args.consecutive))
    if not signals:
        parser.error("nothing to watch: give --prometheus-url/--query, --sentry-org/--sentry-project or --endpoint")
    return signals


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with requests.Session() as session:
        session.trust_env = False
        result = watch(signals_from(args, parser, session), args.window, args.interval)
    print(f"verify-flip: {result.decision}: {result.reason}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"decision={result.decision}\nreason={result.reason}\n")
    return {"hold": 0, "flip-back": 1, "inconclusive": 3}[result.decision]


if __name__ == "__main__":
    sys.exit(main())
