"""The console's header reading, column matching and value checks (js/mapping.js, js/validate.js), run in the
browser on files made in the page, and a JSON Lines import from the browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Stack, shoot, sign_in
from tests.browser.test_console import PERSON, expect_counts, unique

SCRIPT = """async ([name, bytes, itemType]) => {
  const m = await import('/console/js/mapping.js');
  const file = new File([new Uint8Array(bytes)], name);
  const read = await m.readHeaders(file);
  return {read, mapped: read.headers ? m.mapHeaders(read.headers, itemType) : null};
}"""

PENGUIN = {"key": ["email"], "fields": {"email": {"type": "email", "required": True}, "name": {"type": "string"},
                                        "body_mass_g": {"type": "integer"}, "flipper_length_mm": {"type": "integer"}},
           "columns": {"Mail": "email"}}


def read(page: Any, name: str, data: bytes, item_type: dict[str, Any] = PENGUIN) -> dict[str, Any]:
    return page.evaluate(SCRIPT, [name, list(data), item_type])


def test_header_rows_of_every_text_format(page: Any) -> None:
    page.goto("/console/")
    # a semicolon CSV with a BOM, quoted headers holding the delimiter and a doubled quote
    got = read(page, "a.csv", '\ufeff"E-Mail";"Body Mass (g)";"a;b ""c""";flipper length mm\r\n1;2;3;4\r\n'.encode())
    assert got["read"] == {"kind": "csv", "delimiter": ";", "headers": ["E-Mail", "Body Mass (g)", 'a;b "c"',
                                                                        "flipper length mm"]}
    assert got["mapped"]["rows"] == [
        {"header": "E-Mail", "field": None, "suggestion": "email"},
        {"header": "Body Mass (g)", "field": None, "suggestion": "body_mass_g"},
        {"header": 'a;b "c"', "field": None, "suggestion": None},
        {"header": "flipper length mm", "field": None, "suggestion": "flipper_length_mm"},
    ]
    assert got["mapped"]["missing"] == ["email"]
    # tabs, the item type's own columns (case- and space-insensitive, as the API matches them), Latin-1 text
    got = read(page, "b.tsv", "MAIL\tname\tNäme\n".encode("latin-1"))
    assert got["read"]["headers"] == ["MAIL", "name", "Näme"]
    assert [(r["header"], r["field"]) for r in got["mapped"]["rows"]] == [("MAIL", "email"), ("name", "name"),
                                                                          ("Näme", None)]
    assert got["mapped"]["rows"][2]["suggestion"] is None  # "name" is taken by a column already
    assert got["mapped"]["missing"] == []
    # UTF-16 with its BOM
    got = read(page, "c.csv", "email,Bodymass g\n".encode("utf-16"))
    assert got["read"]["headers"] == ["email", "Bodymass g"]
    assert got["mapped"]["rows"][1]["suggestion"] == "body_mass_g"
    # JSON Lines: the keys of the first objects, in order of appearance
    got = read(page, "d.jsonl", b'{"email": "a@b.org", "name": "A"}\n{"email": "c@d.org", "e-mail": 1, "x": 2}\n')
    assert got["read"] == {"kind": "jsonl", "headers": ["email", "name", "e-mail", "x"]}
    # two columns on one field: flagged
    got = read(page, "e.csv", b"email,Mail\n")
    assert got["mapped"]["rows"][1] == {"header": "Mail", "field": "email", "duplicate": "email"}
    # workbooks are read by the job, not previewed
    assert read(page, "f.xlsx", b"PK\x03\x04")["read"]["headers"] is None


def test_values_checked_as_the_api_checks_them(page: Any) -> None:
    page.goto("/console/")
    cases = [
        ({"type": "integer", "min": 0, "max": 150}, "-1", "must be at least 0"),
        ({"type": "integer", "min": 0, "max": 150}, "151", "must be at most 150"),
        ({"type": "integer"}, "1.5", "expected an integer"),
        ({"type": "integer"}, "42", None),
        ({"type": "decimal"}, "4.2e3", None),
        ({"type": "decimal"}, "four", "expected a decimal number"),
        ({"type": "boolean"}, "Yes", None),
        ({"type": "boolean"}, "maybe", "expected a boolean (true/false, yes/no, 1/0)"),
        ({"type": "date"}, "2024-02-30", "expected a date as YYYY-MM-DD"),
        ({"type": "date"}, "2024-02-29", None),
        ({"type": "datetime"}, "2024-05-01T13:45:00Z", None),
        ({"type": "datetime"}, "yesterday", "expected an ISO-8601 date-time such as 2024-05-01T13:45:00Z"),
        ({"type": "email"}, "a@b", "is not a valid email address"),
        ({"type": "email"}, "a@b.org", None),
        ({"type": "enum", "values": ["gold", "silver"]}, "GOLD", None),
        ({"type": "enum", "values": ["gold", "silver"]}, "bronze", "must be one of: gold, silver"),
        ({"type": "string", "maxLength": 3}, "abcd", "is 4 characters long; at most 3 allowed"),
    ]
    got = page.evaluate("""async (cases) => {
      const v = await import('/console/js/validate.js');
      return cases.map(([spec, value]) => v.checkValue(spec, false, value));
    }""", [[spec, value] for spec, value, _ in cases])
    assert got == [expected for _, _, expected in cases]
    assert page.evaluate("async () => (await import('/console/js/validate.js')).checkValue({type: 'string'}, true, ' ')"
                         ) == "is required"
    rows = page.evaluate("async (text) => (await import('/console/js/validate.js')).parseCsv(text)",
                         'a,b\r\n"x, ""y""","line\nbreak"\n,\n')
    assert rows == [["a", "b"], ['x, "y"', "line\nbreak"], ["", ""]]


def test_json_lines_import_from_the_browser(page: Any, stack: Stack, tmp_path: Path) -> None:
    item_type = unique("jsonl")
    stack.put_item_type(item_type, PERSON)
    data = tmp_path / "people.jsonl"
    data.write_text('{"email": "jo@example.org", "name": "Jo", "age": 30}\n'
                    '{"email": "kim@example.org", "name": "Kim", "age": 200, "pet": "cat"}\n')
    sign_in(page, path=f"/console/new-import?itemType={item_type}")
    page.get_by_label("File").set_input_files(str(data))
    columns = page.get_by_role("list", name="Columns of the file")
    expect(columns.get_by_role("listitem")).to_have_count(4)
    assert [t.split("\n")[0] for t in columns.get_by_role("listitem").all_inner_texts()] == [
        "email → email", "name → name", "age → age", "pet unknown — ignored"]
    page.get_by_role("button", name="Start import").click()
    expect(page).to_have_url(re.compile(r"/console/jobs/[0-9A-Z]{26}$"), timeout=30_000)
    expect_counts(page, "Completed", total=2, created=1, updated=0, unchanged=0, failed=1)
    errors = page.get_by_role("table", name="Row errors, in row order")
    expect(errors.locator("tbody tr")).to_have_count(1)
    assert errors.locator("tbody tr").first.get_by_role("cell").all_inner_texts() == [
        "2", "age", "200", "must be at most 150"]


def test_saved_mapping_matching_the_headers_best(page: Any) -> None:
    page.goto("/console/")
    mappings = [
        {"name": "short", "columns": {"Mail": "email"}, "updatedAt": "2026-01-02T00:00:00Z"},
        {"name": "crm", "columns": {"E-mail address": "email", "Full name": "name"},
         "updatedAt": "2026-01-01T00:00:00Z"},
        {"name": "wide", "columns": {"e-mail ADDRESS": "email", "FullName": "name", "Phone": "name"},
         "updatedAt": "2026-01-03T00:00:00Z"},
        {"name": "crm2", "columns": {"E-mail address": "email", "Full name": "name"},
         "updatedAt": "2026-01-04T00:00:00Z"},
    ]
    best = """async ([headers, mappings]) => {
      const found = (await import('/console/js/mapping.js')).bestMapping(headers, mappings);
      return found && [found.mapping.name, found.matched, found.headers];
    }"""
    # two matched each for crm, wide, crm2 (case and spaces ignored); wide has a source the file lacks; crm2 is newer
    assert page.evaluate(best, [["E-mail address", "Full name", "Years"], mappings]) == ["crm2", 2, 3]
    assert page.evaluate(best, [["mail", "x"], mappings]) == ["short", 1, 2]
    assert page.evaluate(best, [["nothing"], mappings]) is None
    assert page.evaluate(best, [["Mail"], []]) is None
    checked = page.evaluate("""async ([choices, itemType]) =>
      (await import('/console/js/mapping.js')).checkChoices(choices, itemType)""",
                            [{"A": "email", "B": "email", "C": "", "D": "name"}, PENGUIN])
    assert checked == {"missing": [], "twice": [{"field": "email", "headers": ["A", "B"]}]}
    checked = page.evaluate("""async ([choices, itemType]) =>
      (await import('/console/js/mapping.js')).checkChoices(choices, itemType)""", [{"A": "name"}, PENGUIN])
    assert checked == {"missing": ["email"], "twice": []}


def test_saved_mapping_proposed_another_chosen_and_edits_sent_as_columns(page: Any, stack: Stack,
                                                                          tmp_path: Path) -> None:
    item_type = unique("saved")
    stack.put_item_type(item_type, PERSON)
    for name, columns in (("crm", {"E-mail address": "email", "Full name": "name"}),
                          ("other", {"Mail": "email", "Years": "age"})):
        reply = stack.call("PUT", f"/v1/item-types/{item_type}/mappings/{name}", json={"columns": columns})
        assert reply.status_code == 201, reply.text
    writer = stack.call("POST", "/v1/api-keys", json={"name": "importer",
                                                      "permissions": ["imports:read", "imports:write"]}).json()["key"]
    data = tmp_path / "contacts.csv"
    data.write_text("E-mail address,Full name,Years\njo@example.org,Jo,30\nkim@example.org,Kim,200\n")
    sign_in(page, writer, path=f"/console/new-import?itemType={item_type}")
    page.get_by_label("File").set_input_files(str(data))
    expect(page.get_by_text("Proposed: saved mapping crm, matching 2 of the file's 3 columns.")).to_be_visible()
    chooser = page.get_by_label("Saved mapping", exact=True)
    expect(chooser).to_have_value("crm")
    assert chooser.locator("option").all_inner_texts() == ["(none)", "crm (2 columns)", "other (2 columns)"]
    columns = page.get_by_role("list", name="Columns of the file")
    lines = lambda: [t.split("\n")[0] for t in columns.get_by_role("listitem").all_inner_texts()]  # noqa: E731
    expect(columns.get_by_role("listitem").first).to_contain_text("→ email")
    assert lines() == ["E-mail address → email", "Full name → name", "Years unknown — ignored"]
    save = page.get_by_role("button", name="Save mapping as…")
    expect(save).to_be_disabled()
    expect(save).to_have_accessible_description(
        "Needs the schemas:write permission; this key has: imports:read, imports:write.")

    # another saved mapping, then none
    chooser.select_option("other")
    expect(columns.get_by_role("listitem").last).to_contain_text("Years → age")
    assert lines() == ["E-mail address unknown — ignored", "Full name unknown — ignored", "Years → age"]
    expect(page.get_by_text("Missing required field: email. The job would be rejected.")).to_be_visible()
    chooser.select_option("")
    expect(columns.get_by_role("listitem").last).to_contain_text("Years unknown")
    assert lines() == ["E-mail address unknown — ignored", "Full name unknown — ignored", "Years unknown — ignored"]

    # back to the proposal, plus one column of this job's own: sent as `columns` with `mapping`
    chooser.select_option("crm")
    expect(columns.get_by_role("listitem").first).to_contain_text("E-mail address → email")  # applied, then edit
    page.get_by_label("Field for column Years").select_option("age")
    expect(page.get_by_text("Your mapping of 1 column (Years → age) goes with this job.")).to_be_visible()
    shoot(page, "04b-new-import-saved-mapping")
    page.get_by_role("button", name="Start import").click()
    expect(page).to_have_url(re.compile(r"/console/jobs/[0-9A-Z]{26}$"), timeout=30_000)
    expect_counts(page, "Completed", total=2, created=1, updated=0, unchanged=0, failed=1)
    errors = page.get_by_role("table", name="Row errors, in row order")
    expect(errors.locator("tbody tr")).to_have_count(1)
    assert errors.locator("tbody tr").first.get_by_role("cell").all_inner_texts() == [
        "2", "age", "200", "must be at most 150"]
    job = stack.call("GET", f"/v1/jobs/{page.url.rsplit('/', 1)[1]}").json()
    assert job["ignoredColumns"] == []
    assert stack.call("GET", f"/v1/records/{item_type}/jo@example.org").json()["attributes"] == {
        "email": "jo@example.org", "name": "Jo", "age": 30}
