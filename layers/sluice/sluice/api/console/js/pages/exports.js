// Exports: start one (filters or SQL), watch it, download its parts. The API has no listing of exports, so the
// console lists those started (or looked up) in this browser tab.
import {
  ErrorMessage, Guarded, Status, api, formatDuration, formatTime, html, lacking, useEffect, useItemTypes, usePolling,
  useState,
} from "../lib.js";

const STORAGE = "sluice.exports";

function remembered() {
  try { return JSON.parse(sessionStorage.getItem(STORAGE) || "[]"); } catch { return []; }
}

export function ExportsPage({ me }) {
  const itemTypes = useItemTypes(me);
  const [ids, setIds] = useState(remembered);
  const [form, setForm] = useState({ itemType: "", contentType: "text/csv", rowHeader: true, filters: "", sqlQuery: "",
    jobName: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [lookup, setLookup] = useState("");
  useEffect(() => { document.title = "Exports — Sluice console"; }, []);
  useEffect(() => { sessionStorage.setItem(STORAGE, JSON.stringify(ids)); }, [ids]);
  const remember = (id) => setIds((current) => [id, ...current.filter((x) => x !== id)].slice(0, 50));
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
      const created = await api("/v1/exports", { method: "POST", body });
      remember(created.exportId || created.jobId);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  const readDenied = lacking(me, "exports:read");
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
      <h2 id="exports-heading">Exports in this tab</h2>
      ${readDenied ? html`<p class="reason" role="note">${readDenied}</p>` : html`
      <form class="inline-form" onSubmit=${(e) => { e.preventDefault(); if (lookup.trim()) { remember(lookup.trim()); setLookup(""); } }}>
        <label for="export-lookup">Export ID</label>
        <input id="export-lookup" class="mono" value=${lookup} onInput=${(e) => setLookup(e.target.value)} />
        <button type="submit">Show export</button>
      </form>
      ${ids.length === 0 ? html`<p class="empty">No exports started in this tab yet.</p>` : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Exports started or looked up in this tab, newest first</caption>
        <thead><tr><th scope="col">Export</th><th scope="col">Item type</th><th scope="col">Status</th>
          <th scope="col" class="num">Records</th><th scope="col">Run time</th><th scope="col">Download</th>
          <th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead>
        <tbody>${ids.map((id) => html`<${ExportRow} key=${id} id=${id}
          onRemove=${() => setIds((current) => current.filter((x) => x !== id))} />`)}</tbody>
      </table></div>`}`}
    </section>`;
}

function ExportRow({ id, onRemove }) {
  const { data, error } = usePolling(() => api(`/v1/exports/${encodeURIComponent(id)}`),
    (x) => (x.finished ? null : 1500), [id]);
  const links = (data && data.links && data.links.download) || [];
  return html`<tr>
    <td class="mono">${id}${data && data.jobName ? html`<br /><span class="muted">${data.jobName}</span>` : ""}</td>
    <td>${data ? data.itemType : ""}</td>
    <td>${error && !data ? html`<span class="error-text">${error.message}</span>` : data ? html`<${Status} status=${data.status} />
      ${data.reason && html`<div class="reason-text">${data.reason}</div>`}` : "…"}</td>
    <td class="num">${data ? data.recordsProcessed : ""}</td>
    <td>${data ? formatDuration(data.runTime) : ""}</td>
    <td>${links.length ? html`<ul class="plain">${links.map((url, i) => html`<li><a href=${url}
      aria-label=${`Download export ${id} part ${i + 1}`}>Part ${i + 1}</a></li>`)}</ul>
      ${data.expiresAt && html`<span class="muted">until ${formatTime(data.expiresAt)}</span>`}` : "—"}</td>
    <td><button type="button" class="link-button" onClick=${onRemove} aria-label=${`Remove export ${id} from this list`}>Remove</button></td>
  </tr>`;
}

