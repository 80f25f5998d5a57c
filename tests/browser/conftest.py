"""The web console in a real browser: Debian's Chromium driven by playwright, against one local stack per session.

Playwright cannot download its own browsers here, so it drives the system `chromium` (`make install` puts it
there through apt). Each test gets a fresh browser context: its own sessionStorage, so its own sign-in."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sluice_local.spawn import spawn_stack

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
DEV_KEYS = "acme:acme-key,globex:globex-key"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make install does)")


@dataclass
class Stack:
    api: str
    aws: str
    process: subprocess.Popen[bytes]

    def headers(self, key: str = "acme-key") -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def call(self, method: str, path: str, key: str = "acme-key", **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.api}{path}", headers={**self.headers(key), **kwargs.pop("headers", {})},
                                timeout=30, **kwargs)

    def put_item_type(self, name: str, definition: dict[str, Any], key: str = "acme-key") -> dict[str, Any]:
        reply = self.call("PUT", f"/v1/item-types/{name}", key, json=definition)
        assert reply.status_code in (200, 201), reply.text
        return reply.json()

    def submit_csv(self, item_type: str, text: str, key: str = "acme-key", **fields: str) -> dict[str, Any]:
        reply = self.call("POST", "/v1/jobs", key, files={"file": ("data.csv", text.encode(), "text/csv")},
                          data={"itemType": item_type, **fields})
        assert reply.status_code == 202, reply.text
        return reply.json()

    def wait_job(self, job_id: str, key: str = "acme-key", timeout: float = 60) -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.call("GET", f"/v1/jobs/{job_id}", key).json()
            if job["finished"]:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    spawned = spawn_stack(DEV_KEYS, {"SLUICE_SCHEDULE_SPEEDUP": "300"}, timeout=60)
    process = spawned.process
    yield Stack(spawned.api, spawned.aws, process)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(1)
        process.kill()
        raise AssertionError("the local stack did not stop on SIGTERM:\n" + spawned.output()) from None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("chromium is not on PATH: `make install` installs Debian's chromium package (apt-get)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "axe: the test injects axe-core, so the page's Content-Security-Policy is "
                                       "bypassed for it")


@pytest.fixture
def page(browser: Any, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Any]:
    injects = request.node.get_closest_marker("axe") is not None
    context = browser.new_context(base_url=stack.api, viewport={"width": 1280, "height": 900},
                                  accept_downloads=True, bypass_csp=injects)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    opened.on("console", lambda message: problems.append(message.text)
              if "Content Security Policy" in message.text else None)
    yield opened
    context.close()
    assert problems == [], f"errors in the page: {problems}"


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, key: str = "acme-key", path: str = "/console/") -> None:
    page.goto(path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result]
