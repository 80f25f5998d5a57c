"""The web console in a real browser: Debian's Chromium driven by playwright, against one local stack per session.

Playwright cannot download its own browsers here, so it drives the system `chromium` (`make install` puts it
there through apt). Each test gets a fresh browser context: its own sessionStorage, so its own sign-in."""

from __future__ import annotations

import http.client
import mimetypes
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from sluice_local.spawn import spawn_stack

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_DIR = ROOT / "layers" / "sluice" / "sluice" / "api" / "console"
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
    console: str = ""  # the origin the browser opens: the stack itself, or the stand-in front below

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


def stack_serves_console(api: str) -> bool:
    try:
        reply = requests.get(f"{api}/console/", timeout=10)
    except requests.RequestException:
        return False
    return reply.status_code == 200 and "text/html" in reply.headers.get("content-type", "")


class _Front(BaseHTTPRequestHandler):
    """Stand-in for the stack's /console/ and /v1/docs routes while an API without them is tested: files from the
    console folder (index.html for any other /console/ path), everything else forwarded to the API."""

    api: str = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:
        pass

    def _file(self, path: Path) -> None:
        body = path.read_bytes()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix in (".js", ".mjs"):
            kind = "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        if self.command == "GET" and (path == "/console" or path.startswith("/console/")):
            wanted = (CONSOLE_DIR / path[len("/console/"):]).resolve()
            if wanted.is_file() and wanted.is_relative_to(CONSOLE_DIR):
                self._file(wanted)
            else:
                self._file(CONSOLE_DIR / "index.html")
            return
        if self.command == "GET" and path in ("/v1/docs", "/v1/docs/"):
            self._file(CONSOLE_DIR / "swagger" / "index.html")
            return
        target = urlsplit(self.api)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        connection = http.client.HTTPConnection(target.netloc, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        connection.request(self.command, self.path, body=body or None, headers=headers)
        reply = connection.getresponse()
        data = reply.read()
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    spawned = spawn_stack(DEV_KEYS, {"SLUICE_SCHEDULE_SPEEDUP": "300"}, timeout=60)
    process = spawned.process
    front = None
    console = spawned.api
    if not stack_serves_console(spawned.api):
        handler = type("Front", (_Front,), {"api": spawned.api})
        front = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=front.serve_forever, daemon=True).start()
        console = f"http://127.0.0.1:{front.server_address[1]}"
    yield Stack(spawned.api, spawned.aws, process, console)
    if front is not None:
        front.shutdown()
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


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(base_url=stack.console, viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    uncaught: list[str] = []
    opened.on("pageerror", lambda exc: uncaught.append(str(exc)))
    yield opened
    context.close()
    assert uncaught == [], f"uncaught errors in the page: {uncaught}"


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
