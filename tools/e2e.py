"""End-to-end checks in a real browser (Playwright): does the deployment render, is it wired to this stack's
Supabase, and does it run without errors?

    VERCEL_AUTOMATION_BYPASS_SECRET=... python -m tools.e2e --url "$IDLE_URL" --bypass \\
        --stack-file Pulumi.staging.yaml --page /login --page-contains 'Sign in'
    python -m tools.e2e --url http://127.0.0.1:3000/ --supabase-url https://<ref>.supabase.co --anon-key <key>

Checks, each failure named:
1. the page answers below 400 and renders: a title and visible text in `body` (or --ready-selector);
2. the Supabase URL and anon key the page carries (its HTML and its same-origin scripts, where Next.js
   inlines NEXT_PUBLIC_ variables) are the stack's (`kingtavo:supabase` url and anonKey, or the options):
   the stack's are present and no other `*.supabase.co` project or `sb_publishable_` key is;
3. no console error, no uncaught exception, no failed request, no same-origin answer of 400 or above;
4. each --page PATH answers below 400, renders, and contains its --page-contains text.

With --bypass, Vercel's `x-vercel-protection-bypass` header (VERCEL_AUTOMATION_BYPASS_SECRET) is added to
requests for the deployment's own origin only, never to Supabase or any third party. The browser is
Debian's Chromium when /usr/bin/chromium exists (or --browser-path), else Playwright's own download.
Exit 0 all passed, 1 a check failed, 2 usage or the browser could not start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import yaml

BYPASS_ENV = "VERCEL_AUTOMATION_BYPASS_SECRET"
BYPASS_HEADER = "x-vercel-protection-bypass"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SUPABASE_URL = re.compile(r"https://([a-z0-9]{6,40})\.supabase\.co")
PUBLISHABLE_KEY = re.compile(r"sb_publishable_[A-Za-z0-9_-]+")


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)   # HTML and same-origin scripts seen

    def add(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{origin(url)}{parts.path}"


def stack_supabase(path: Path) -> tuple[str, str]:
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"--stack-file {path}: cannot read it as YAML ({type(error).__name__})") from None
    supabase = config.get("kingtavo:supabase") or {}
    url, key = supabase.get("url"), supabase.get("anonKey")
    if not isinstance(url, str) or not isinstance(key, str):
        raise ValueError(f"--stack-file {path}: kingtavo:supabase.url and kingtavo:supabase.anonKey must be set")
    return url.rstrip("/"), key


def wiring_problems(texts: list[str], supabase_url: str, anon_key: str) -> list[str]:
    blob = "\n".join(texts)
    want_ref = SUPABASE_URL.match(supabase_url)
    problems = []
    refs = set(SUPABASE_URL.findall(blob))
    if supabase_url not in blob:
        problems.append(f"the page does not carry the stack's Supabase URL {supabase_url}")
    others = sorted(refs - ({want_ref.group(1)} if want_ref else set()))
    if others:
        problems.append(f"the page carries another Supabase project: {', '.join(r + '.supabase.co' for r in others)}")
    if anon_key not in blob:
        problems.append("the page does not carry the stack's anon key")
    if sorted(set(PUBLISHABLE_KEY.findall(blob)) - {anon_key}):
        problems.append("the page carries another Supabase publishable key than the stack's")
    return problems


def check_page(page, url: str, findings: Findings, ready_selector: str, contains: str | None, timeout_ms: int):
    try:
        response = page.goto(url, wait_until="networkidle", timeout=timeout_ms)
    except Exception as error:  # noqa: BLE001 - Playwright raises its own Error/TimeoutError; name it and go on
        findings.add(f"{shown(url)}: did not load ({type(error).__name__}: {str(error).splitlines()[0][:200]})")
        return
    if response is None or response.status >= 400:
        findings.add(f"{shown(url)}: answered {response.status if response else 'nothing'}")
        return
    findings.texts.append(page.content())
    if not page.title().strip():
        findings.add(f"{shown(url)}: no <title>")
    try:
        text = page.locator(ready_selector).first.inner_text(timeout=timeout_ms)
    except Exception:  # noqa: BLE001
        findings.add(f"{shown(url)}: nothing rendered in {ready_selector!r}")
        return
    if not text.strip():
        findings.add(f"{shown(url)}: {ready_selector!r} rendered no visible text")
    if contains is not None and contains not in text:
        findings.add(f"{shown(url)}: the page lacks {contains!r}")


def run_e2e(url: str, supabase_url: str, anon_key: str, pages: list[tuple[str, str | None]], secret: str | None,
            browser_path: str | None, ready_selector: str = "body", timeout: float = 30) -> list[str]:
    from playwright.sync_api import sync_playwright

    findings = Findings()
    site = origin(url)
    timeout_ms = int(timeout * 1000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(ignore_https_errors=False)
            if secret:
                def add_bypass(route):
                    request = route.request
                    if origin(request.url) == site:
                        route.continue_(headers={**request.headers, BYPASS_HEADER: secret})
                    else:
                        route.continue_()
                context.route("**/*", add_bypass)
            page = context.new_page()
            page.on("console", lambda message: message.type == "error" and findings.add(
                f"console error: {message.text[:300]}"))
            page.on("pageerror", lambda error: findings.add(f"uncaught exception: {str(error)[:300]}"))
            page.on("requestfailed", lambda request: findings.add(
                f"request failed: {shown(request.url)} ({request.failure or 'no answer'})"))

            def on_response(response):
                if origin(response.url) != site:
                    return
                if response.status >= 400:
                    findings.add(f"{shown(response.url)} answered {response.status}")
                elif response.request.resource_type == "script":
                    # A body the browser dropped cannot be read; the wiring check then misses it and says so.
                    with contextlib.suppress(Exception):
                        findings.texts.append(response.text())
            page.on("response", on_response)

            check_page(page, url, findings, ready_selector, None, timeout_ms)
            for problem in wiring_problems(findings.texts, supabase_url, anon_key) if findings.texts else []:
                findings.add(problem)
            for path, contains in pages:
                check_page(page, urljoin(url, path), findings, ready_selector, contains, timeout_ms)
        finally:
            browser.close()
    return findings.problems


class _PageAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        if option_string == "--page":
            if not values.startswith("/"):
                parser.error(f"--page: expected a path starting with /, got {values!r}")
            namespace.pages = [*(namespace.pages or []), (values, None)]
        else:
            if not namespace.pages:
                parser.error("--page-contains must follow a --page PATH")
            namespace.pages[-1] = (namespace.pages[-1][0], values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the deployment to open (the idle or live URL)")
    parser.add_argument("--stack-file", type=Path, help="read kingtavo:supabase url and anonKey from it")
    parser.add_argument("--supabase-url")
    parser.add_argument("--anon-key")
    parser.add_argument("--page", action=_PageAction, dest="pages", help="a named page to open (repeatable)")
    parser.add_argument("--page-contains", action=_PageAction, help="text that page must show")
    parser.add_argument("--ready-selector", default="body")
    parser.add_argument("--bypass", action="store_true", help=f"send {BYPASS_HEADER} (from {BYPASS_ENV})")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per page (default 30)")
    parser.add_argument("--browser-path", default=os.environ.get("CHROMIUM_PATH"),
                        help=f"Chromium to drive (default {DEBIAN_CHROMIUM} when present)")
    args = parser.parse_args(argv)
    if urlsplit(args.url).scheme not in ("http", "https") or not urlsplit(args.url).hostname:
        parser.error("--url: expected an http(s) URL (is the stack output it comes from exported?)")
    try:
        supabase_url, anon_key = stack_supabase(args.stack_file) if args.stack_file else (args.supabase_url,
                                                                                          args.anon_key)
    except ValueError as error:
        parser.error(str(error))
    if not supabase_url or not anon_key:
        parser.error("give --stack-file, or --supabase-url and --anon-key")
    if not SUPABASE_URL.fullmatch(supabase_url.rstrip("/")):
        parser.error(f"--supabase-url: expected https://<project ref>.supabase.co, got {supabase_url!r}")
    secret = os.environ.get(BYPASS_ENV) if args.bypass else None
    if args.bypass and not secret:
        parser.error(f"--bypass needs {BYPASS_ENV} set")
    browser_path = args.browser_path or (DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).exists() else None)
    try:
        problems = run_e2e(args.url, supabase_url.rstrip("/"), anon_key, args.pages or [], secret, browser_path,
                           args.ready_selector, args.timeout)
    except Exception as error:  # noqa: BLE001 - the browser could not start: not a verdict on the page
        print(f"e2e: could not run the browser: {type(error).__name__}: {str(error).splitlines()[0][:300]}",
              file=sys.stderr)
        return 2
    for problem in problems:
        print(f"::error::e2e: {problem}")
    print(f"e2e: {shown(args.url)}: " + ("all checks passed" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
