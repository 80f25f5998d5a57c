"""The stack serves the web console and Swagger UI itself: no key to load them, deep links to the app, nothing
outside the console's folder."""

from __future__ import annotations

from tests.harness import Harness


def test_the_console_and_swagger_ui_are_served_without_a_key(harness: Harness) -> None:
    root = harness.call("GET", "/console", key="")
    assert root.status_code == 308 and root.headers["location"] == "/console/"
    page = harness.call("GET", "/console/", key="")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="/console/js/main.js">' in page.content
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "'sha256-" in policy and "frame-ancestors 'none'" in policy
    deep = harness.call("GET", "/console/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV", key="")
    assert deep.status_code == 200 and deep.content == page.content
    script = harness.call("GET", "/console/js/main.js", key="")
    assert script.status_code == 200 and script.headers["content-type"] == "application/javascript; charset=utf-8"
    docs = harness.call("GET", "/v1/docs", key="")
    assert docs.status_code == 200 and b"/console/swagger/swagger-ui-bundle.js" in docs.content
    assert harness.call("GET", "/console/swagger/swagger-ui.css", key="").headers["content-type"].startswith(
        "text/css")


def test_nothing_outside_the_console_folder_is_served(harness: Harness) -> None:
    page = harness.call("GET", "/console/", key="").content
    for path in ("/console/../console.py", "/console/%2e%2e/console.py", "/console/..%2fapp.py"):
        reply = harness.call("GET", path, key="")
        assert reply.status_code in (200, 404) and b"def " not in reply.content
        if reply.status_code == 200:
            assert reply.content == page
