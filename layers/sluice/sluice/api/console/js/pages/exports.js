// Exports: start one (filters or SQL), then the tenant's exports newest first (GET /v1/exports, paged by
// nextCursor), polled while one on the page runs, with their download links.
import {
  ErrorMessage, Guarded, Pager, Status, Time, api, formatDuration, html, lacking, query, useCursorPages,
  useEffect, useItemTypes, usePolling, useState,
} from "../lib.js";

const PAGE_SIZE = 20;

export function ExportsPage({ me }) {
  const itemTypes = useItemTypes(me);
  const [refresh, setRefresh] = useState(0);
  const pages = useCursorPages(refresh);
  const [form, setForm] = useState({ itemType: "", contentType: "text/csv", rowHeader: true, filters: "", sqlQuery: "",
    jobName: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { document.title = "Exports — Sluice console"; }, []);
  const readDenied = lacking(me, "exports:read");
  const { data, error: listError, loading } = usePolling(
    () => (readDenied ? Promise.resolve(null) : api(`/v1/exports${query({ limit: PAGE_SIZE, cursor: pages.cursor })}`)),
    (page) => (!page ? null : page.items.some((x) => !x.finished) ? 1500 : 5000),
    [pages.cursor, refresh, readDenied],
  );
  const set = (name) => (event) => setForm({ ...form, [name]: event.target.type === "checkbox" ? event.target.checked
    : event.target.value });

  let filtersProblem = null;
  let filters = null;
  if (form.filters.trim()) {
    try {
      filters = JSON.parse(form.filters);
      if (!filters || typeof filters !== "object" || Array.isArray(filters)) filtersProblem = "Filters are a JSON object: {\"field\": value}.";
    } catch (exc) {
      filtersProblem = `Not valid JSON: ${exc.message}`;
    }
  }

  const start = async (event) => {
    event.preventDefault();
    setError(null);
    if (!form.itemType) { setError("Choose an item type."); return; }
    if (filtersProblem) { setError(filtersProblem); return; }
    const body = { itemType: form.itemType, contentType: form.contentType, rowHeader: form.rowHeader };
    if (form.sqlQuery.trim()) body.sqlQuery = form.sqlQuery.trim();
    else if (filters) body.filters = filters;
    if (form.jobName.trim()) body.jobName = form.jobName.trim();
    setBusy(true);
    try {
      await api("/v1/exports", { method: "POST", body });
      setRefresh((n) => n + 1); // back to the first page, where the new export is
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  return html`
    <h1>Exports</h1>
    <form class="card form" onSubmit=${start} novalidate>
      <h2>New export</h2>
      <div class="field-row">
        <div class="field">
          <label for="export-item-type">Item type</label>
          <select id="export-item-type" value=${form.itemType} onChange=${set("itemType")}>
            <option value="">Choose an item type…</option>
            ${(itemTypes.items || []).map((t) => html`<option value=${t.itemType}>${t.itemType}</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="export-format">Format</label>
          <select id="export-format" value=${form.contentType} onChange=${set("contentType")}>
            <option value="text/csv">CSV</option>
            <option value="application/json">JSON</option>
          </select>
        </div>
        <div class="field">
          <label for="export-name">Job name <span class="muted">(optional)</span></label>
          <input id="export-name" value=${form.jobName} maxlength="200" onInput=${set("jobName")} />
        </div>
      </div>
      <div class="check"><input id="export-header" type="checkbox" checked=${form.rowHeader} onChange=${set("rowHeader")} />
        <label for="export-header">Header row</label></div>
      <div class="field">
        <label for="export-filters">Filters (JSON object)</label>
        <textarea id="export-filters" rows="3" class="code" spellcheck="false" placeholder='{"tier": "gold"}'
          value=${form.filters} aria-invalid=${filtersProblem ? "true" : undefined} aria-describedby="export-filters-hint"
          onInput=${set("filters")}></textarea>
        <p class=${filtersProblem ? "error-text" : "hint"} id="export-filters-hint">${filtersProblem ||
          "Records whose fields equal these values. Ignored when there is an SQL query."}</p>
      </div>
      <div class="field">
        <label for="export-sql">SQL query <span class="muted">(optional)</span></label>
        <textarea id="export-sql" rows="3" class="code" spellcheck="false" aria-describedby="export-sql-hint"
          placeholder="SELECT tier, count(*) AS n FROM records GROUP BY tier" value=${form.sqlQuery}
          onInput=${set("sqlQuery")}></textarea>
        <p class="hint" id="export-sql-hint">Read-only SQL over one table, <code>records</code>: this tenant's records of the item type.</p>
      </div>
      <${ErrorMessage} error=${error} />
      <${Guarded} me=${me} permission="exports:write" type="submit" className="primary" disabled=${busy}>Start export<//>
    </form>

    <section aria-labelledby="exports-heading">
      <h2 id="exports-heading">Exports</h2>
      ${readDenied ? html`<p class="reason" role="note">${readDenied}</p>` : html`
      <${ErrorMessage} error=${listError} />
      ${loading && !data && html`<p class="loading">Loading exports…</p>`}
      ${data && data.items.length === 0 && !pages.hasPrevious && html`<p class="empty">No exports yet.</p>`}
      ${data && data.items.length > 0 && html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Exports of this tenant, newest first</caption>
        <thead><tr><th scope="col">Export</th><th scope="col">Item type</th><th scope="col">Status</th>
          <th scope="col" class="num">Records</th><th scope="col">Started</th><th scope="col">Run time</th>
          <th scope="col">Download</th></tr></thead>
        <tbody>${data.items.map((x) => html`<${ExportRow} key=${x.exportId} data=${x} />`)}</tbody>
      </table></div>`}
      ${data && html`<${Pager} label="Export pages" hasPrevious=${pages.hasPrevious} hasNext=${!!data.nextCursor}
        onPrevious=${pages.previous} onNext=${() => pages.next(data.nextCursor)} />`}`}
    </section>`;
}

function ExportRow({ data }) {
  const id = data.exportId;
  const links = (data.links && data.links.download) || [];
  return html`<tr>
    <td class="mono">${id}${data.jobName ? html`<br /><span class="muted">${data.jobName}</span>` : ""}</td>
    <td>${data.itemType}</td>
    <td><${Status} status=${data.status} />${data.reason && html`<div class="reason-text">${data.reason}</div>`}</td>
    <td class="num">${data.recordsProcessed}</td>
    <td><${Time} iso=${data.submitTime} /></td>
    <td>${formatDuration(data.runTime)}</td>
    <td>${links.length ? html`<ul class="plain">${links.map((url, i) => html`<li><a href=${url}
      aria-label=${`Download export ${id} part ${i + 1}`}>Part ${i + 1}</a></li>`)}</ul>
      ${data.expiresAt && html`<span class="muted">until <${Time} iso=${data.expiresAt} /></span>`}` : "—"}</td>
  </tr>`;
}
