// Jobs, newest first: live status and progress, filters (status, item type, creationPath), cursor pages.
import {
  BASE, ErrorMessage, Pager, Progress, STATUSES, Status, Time, api, html, lacking, navigate, query,
  useCursorPages, useEffect, useItemTypes, usePolling, useState,
} from "../lib.js";

const PAGE_SIZE = 20;

export function JobsPage({ me, search }) {
  const filters = {
    status: search.get("status") || "",
    itemType: search.get("itemType") || "",
    creationPath: search.get("creationPath") || "",
  };
  const filterKey = `${filters.status}|${filters.itemType}|${filters.creationPath}`;
  const pages = useCursorPages(filterKey);
  const [creationPath, setCreationPath] = useState(filters.creationPath);
  const itemTypes = useItemTypes(me);
  const denied = lacking(me, "imports:read");
  useEffect(() => { document.title = "Jobs — Sluice console"; }, []);

  const { data, error, loading } = usePolling(
    () => (denied ? Promise.resolve(null)
      : api(`/v1/jobs${query({ ...filters, limit: PAGE_SIZE, cursor: pages.cursor })}`)),
    (page) => (!page ? null : page.items.some((job) => !job.finished) ? 1500 : 3000),
    [filterKey, pages.cursor, denied],
  );

  const apply = (changes) => {
    const next = { ...filters, ...changes };
    navigate(`${BASE}/jobs${query(next)}`, { replace: true });
  };

  return html`
    <div class="page-head">
      <h1>Jobs</h1>
      <a class="button primary" href="${BASE}/new-import">New import…</a>
    </div>
    ${denied ? html`<p class="reason" role="note">${denied}</p>` : html`
    <form class="filters" role="search" aria-label="Filter jobs"
      onSubmit=${(e) => { e.preventDefault(); apply({ creationPath: creationPath.trim() }); }}>
      <div class="field">
        <label for="filter-status">Status</label>
        <select id="filter-status" value=${filters.status} onChange=${(e) => apply({ status: e.target.value })}>
          <option value="">Any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="filter-item-type">Item type</label>
        <select id="filter-item-type" value=${filters.itemType} onChange=${(e) => apply({ itemType: e.target.value })}>
          <option value="">Any item type</option>
          ${(itemTypes.items || []).map((t) => html`<option value=${t.itemType}>${t.itemType}</option>`)}
          ${filters.itemType && !(itemTypes.items || []).some((t) => t.itemType === filters.itemType) &&
            html`<option value=${filters.itemType}>${filters.itemType}</option>`}
        </select>
      </div>
      <div class="field">
        <label for="filter-creation-path">Creation path starts with</label>
        <input id="filter-creation-path" value=${creationPath} placeholder="API:LH"
          onInput=${(e) => setCreationPath(e.target.value)} />
      </div>
      <div class="field actions"><button type="submit">Filter</button>
        ${(filters.status || filters.itemType || filters.creationPath) && html`<button type="button"
          class="link-button" onClick=${() => { setCreationPath(""); apply({ status: "", itemType: "", creationPath: "" }); }}>
          Clear filters</button>`}
      </div>
    </form>
    <${ErrorMessage} error=${error} />
    ${data && html`<${JobsTable} jobs=${data.items} />`}
    ${loading && !data && html`<p class="loading">Loading jobs…</p>`}
    ${data && html`<${Pager} label="Job pages" hasPrevious=${pages.hasPrevious} hasNext=${!!data.nextCursor}
      onPrevious=${pages.previous} onNext=${() => pages.next(data.nextCursor)} />`}`}`;
}

function JobsTable({ jobs }) {
  if (!jobs.length) {
    return html`<p class="empty">No jobs match. <a href="${BASE}/new-import">Start a new import</a>.</p>`;
  }
  // Nine columns that fit a 1280 px window: the creation path sits under the job's id, the progress under its status.
  return html`<div class="table-wrap"><table class="jobs">
    <caption>Import jobs, newest first</caption>
    <thead><tr>
      <th scope="col">Job</th><th scope="col">Name</th><th scope="col">Item type</th><th scope="col">Status</th>
      <th scope="col" class="num">Created</th><th scope="col" class="num">Updated</th>
      <th scope="col" class="num">Unchanged</th><th scope="col" class="num">Failed</th>
      <th scope="col">Submitted</th>
    </tr></thead>
    <tbody>${jobs.map((job) => html`<tr key=${job.jobId}>
      <td class="job-id"><a class="mono" href="${BASE}/jobs/${encodeURIComponent(job.jobId)}">${job.jobId}</a>
        <div class="mono small muted creation-path" title="Creation path">${job.creationPath}</div></td>
      <td class="name">${job.jobName || "—"}${job.mode === "dry-run" && html` <span class="tag">dry run</span>`}</td>
      <td class="item-type">${job.itemType || (job.itemTypes || []).join(", ") || "—"}</td>
      <td class="status-cell"><${Status} status=${job.status} />
        <div class="small">${job.finished ? `${job.counts.processed} ${job.counts.processed === 1 ? "row" : "rows"}`
          : html`<${Progress} label=${`Progress of job ${job.jobId}`} value=${job.counts.processed}
            max=${job.counts.total} />${job.resultFiles && job.resultFiles.chunks ? html`<div class="muted">
            writing result files: ${job.resultFiles.chunksRead} / ${job.resultFiles.chunks} chunks</div>` : null}`}</div></td>
      <td class="num">${job.counts.created}</td><td class="num">${job.counts.updated}</td>
      <td class="num">${job.counts.unchanged}</td><td class="num">${job.counts.failed}</td>
      <td><${Time} iso=${job.submitTime} /></td>
    </tr>`)}</tbody>
  </table></div>`;
}
