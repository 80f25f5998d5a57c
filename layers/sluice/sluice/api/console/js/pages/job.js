// One job: status, each count next to its word, files, progress while running, row errors paged, result files,
// cancel, retry failed rows, commit a dry run, revert (after a dry-run preview of what the revert would do).
import {
  BASE, ErrorMessage, Guarded, Pager, Progress, Status, Time, announce, api, formatBytes, formatDuration, html,
  lacking, navigate, query, useCursorPages, useEffect, usePolling, useRef, useState,
} from "../lib.js";
import { serverField } from "../mapping.js";
import { checkValue, parseCsv } from "../validate.js";

const ERRORS_PAGE = 25;
const COMPRESSIONS = { gzip: "gzip-compressed", zip: "in a zip archive" };
const COUNT_WORDS = ["total", "processed", "created", "updated", "unchanged", "deleted", "failed", "unprocessed"];

export function JobPage({ me, params }) {
  const { jobId } = params;
  const path = `/v1/jobs/${encodeURIComponent(jobId)}`;
  const [refresh, setRefresh] = useState(0);
  const { data: job, error } = usePolling(() => api(path), (j) => (j.finished ? null : 1000), [jobId, refresh]);
  useEffect(() => {
    document.title = `${job ? job.jobName || job.jobId : jobId} — Job — Sluice console`;
  }, [job && job.jobName, jobId]);

  if (error && error.status === 404 && !job) {
    return html`<h1>Job not found</h1>
      <p>There is no job <code>${jobId}</code> for this key's tenant.</p>
      <p><a href="${BASE}/jobs">Back to the jobs</a></p>`;
  }
  if (error && !job) return html`<h1>Job</h1><${ErrorMessage} error=${error} />`;
  if (!job) return html`<h1>Job</h1><p class="loading">Loading job ${jobId}…</p>`;
  const counts = job.counts || {};
  return html`
    <p class="breadcrumbs"><a href="${BASE}/jobs">Jobs</a> / <span class="mono">${job.jobId}</span></p>
    <h1>${job.jobName || "Job"} ${job.mode === "dry-run" && html`<span class="tag">dry run</span>`}</h1>
    <section aria-labelledby="summary-heading" class="card">
      <h2 id="summary-heading" class="visually-hidden">Summary</h2>
      <p class="job-status"><span class="word">status</span> <${Status} status=${job.status} /></p>
      ${job.reason && html`<p class="reason-text">${job.reason}</p>`}
      <${Lineage} job=${job} />
      ${!job.finished && html`<div class="running">
        <${Progress} label="Job progress" value=${counts.processed || 0} max=${counts.total} /></div>`}
      <${WritingResults} job=${job} />
      <ul class="counts" aria-label="Row counts">
        ${COUNT_WORDS.filter((w) => w in counts && (w !== "deleted" || counts.deleted) &&
          (w !== "unprocessed" || counts.unprocessed)).map((word) => html`<li class=${`count count-${word}`}>
          <span class="word">${word}</span> <span class="value">${counts[word] == null ? "—" : counts[word]}</span></li>`)}
      </ul>
      <${WarningsNote} job=${job} />
      ${error && html`<${ErrorMessage} error=${error} />`}
    </section>
    <${Actions} me=${me} job=${job} onChanged=${() => setRefresh((n) => n + 1)} />
    <${Revert} me=${me} job=${job} />
    <${Errors} job=${job} />
    <${FixRows} me=${me} job=${job} />
    <${Results} me=${me} job=${job} />
    <${Files} job=${job} />
    <${Details} job=${job} />`;
}

const WARNINGS_SHOWN = 3;

function warningMessages(job) {
  return (job.warnings || []).map((w) => (typeof w === "string" ? w : w.message || w.code));
}

// A job's warnings beside its status and counts (the full list is under Details, further down the page).
function WarningsNote({ job }) {
  const messages = warningMessages(job);
  if (messages.length === 0) return null;
  const count = `${messages.length} ${messages.length === 1 ? "warning" : "warnings"}`;
  return html`<div class="notice warnings-note" role="note" aria-label="Warnings">
    <strong class="warnings-count">${count}</strong>
    <ul>${messages.slice(0, WARNINGS_SHOWN).map((m) => html`<li>${m}</li>`)}</ul>
    ${messages.length > WARNINGS_SHOWN && html`<a href="#warnings-heading">all ${count}</a>`}
  </div>`;
}

// The jobs this one retries (retryOf) and those that retried its failed rows (retries), as links.
function Lineage({ job }) {
  const retries = job.retries || [];
  if (!job.retryOf && retries.length === 0 && !job.revertOf && !job.revertedBy) return null;
  const link = (id) => html`<a class="mono" href="${BASE}/jobs/${encodeURIComponent(id)}">${id}</a>`;
  return html`<dl class="lineage">
    ${job.retryOf && html`<div><dt>Retry of</dt><dd>${link(job.retryOf)}</dd></div>`}
    ${job.revertOf && html`<div><dt>Revert of</dt><dd>${link(job.revertOf)}</dd></div>`}
    ${job.revertedBy && html`<div><dt>Reverted by</dt><dd>${link(job.revertedBy)}</dd></div>`}
    ${retries.length > 0 && html`<div><dt>Retried by</dt><dd><ul class="plain" aria-label="Jobs that retried this job's failed rows">
      ${retries.map((id) => html`<li>${link(id)}</li>`)}</ul></dd></div>`}
  </dl>`;
}

function Details({ job }) {
  const rows = [
    ["Job ID", html`<span class="mono">${job.jobId}</span>`],
    ["Item type", job.itemType ? html`<a href="${BASE}/item-types/${encodeURIComponent(job.itemType)}">${job.itemType}</a>`
      : (job.itemTypes || []).join(", ") || "—"],
    ["Mode", job.mode === "dry-run" ? "dry run (nothing written)" : "commit"],
    ["Merge", job.merge ? "yes: only the given fields change" : "no: records are replaced"],
    ["Creation path", html`<span class="mono">${job.creationPath}</span>`],
    ["Submitted", html`<${Time} iso=${job.submitTime} />`],
    ["Started", html`<${Time} iso=${job.startTime} />`],
    ["Finished", html`<${Time} iso=${job.finishTime} />`],
    ["Run time", formatDuration(job.runTime)],
  ];
  const compression = (job.files || []).map((f) => f.compression).find(Boolean);
  if (job.format) rows.push(["Format", [job.format, job.encoding, job.delimiter && `delimiter ${JSON.stringify(job.delimiter)}`,
    compression && (COMPRESSIONS[compression] || compression)].filter(Boolean).join(", ")]);
  if (job.commitOf) rows.push(["Commit of", html`<a class="mono" href="${BASE}/jobs/${job.commitOf}">${job.commitOf}</a>`]);
  if (job.notificationEmail) rows.push(["Notification email", job.notificationEmail]);
  if (job.ignoredColumns && job.ignoredColumns.length) rows.push(["Ignored columns", job.ignoredColumns.join(", ")]);
  const warnings = warningMessages(job);
  return html`<section aria-labelledby="details-heading">
    <h2 id="details-heading">Details</h2>
    <dl class="details">${rows.map(([term, value]) => html`<div><dt>${term}</dt><dd>${value}</dd></div>`)}</dl>
    ${warnings.length > 0 && html`<div class="warnings"><h3 id="warnings-heading">Warnings</h3>
      <ul id="details-warnings">${warnings.map((w) => html`<li>${w}</li>`)}</ul></div>`}
    ${(job.objectsCreated || []).length > 0 && html`<details class="created-keys">
      <summary>Keys of the records created (${job.objectsCreated.length}${job.objectsCreated.length >= 1000 ? ", the first 1,000" : ""})</summary>
      <ul class="plain mono">${job.objectsCreated.map((key) => html`<li>${key}</li>`)}</ul>
    </details>`}
  </section>`;
}

function Files({ job }) {
  const files = job.files || [];
  return html`<section aria-labelledby="files-heading">
    <h2 id="files-heading">Files</h2>
    ${files.length === 0 ? html`<p class="empty">${job.status === "Initialized" ? "Waiting for the upload."
      : job.finished ? "No rows were read from the file (see the reason above)." : "No file read yet."}</p>`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Files of this job</caption>
        <thead><tr><th scope="col">Name</th><th scope="col" class="num">Size</th><th scope="col" class="num">Rows</th>
          <th scope="col">SHA-256</th></tr></thead>
        <tbody>${files.map((f) => html`<tr><td>${f.name}</td><td class="num">${formatBytes(f.size)}</td>
          <td class="num">${f.rows == null ? "—" : f.rows}</td><td class="mono digest">${f.digest || "—"}</td></tr>`)}</tbody>
      </table></div>`}
  </section>`;
}

function Actions({ me, job, onChanged }) {
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const [again, setAgain] = useState(false); // asking before another retry of rows retried already
  const act = async (name, path, then) => {
    setBusy(name);
    setError(null);
    try {
      const result = await api(path, { method: "POST" });
      then(result);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(null);
    }
  };
  const base = `/v1/jobs/${encodeURIComponent(job.jobId)}`;
  // a job writing its result files has processed every row: nothing is left to cancel (the API answers 409)
  const canCancel = !job.finished && job.status !== "Canceling" && !job.resultFiles;
  const canRetry = (job.status === "Completed" || job.status === "Canceled") && (job.counts.failed || 0) > 0;
  const canCommit = job.mode === "dry-run" && job.status === "Completed";
  const retries = job.retries || [];
  const failed = job.counts.failed || 0;
  const retry = () => act("retry", `${base}/retry-failed`, (j) => navigate(`${BASE}/jobs/${j.jobId}`));
  const againText = `${retries.length === 1 ? "A second" : "Another"} job would import the same ${failed} failed ${
    failed === 1 ? "row" : "rows"} again. ${retries.length === 1 ? "The retry made already keeps its" : "The retries made already keep their"
  } own results (linked above); a row that succeeded there is written again.`;
  if (!canCancel && !canRetry && !canCommit) return null;
  return html`<section aria-labelledby="actions-heading" class="actions-bar">
    <h2 id="actions-heading" class="visually-hidden">Actions</h2>
    ${canCancel && html`<${Guarded} me=${me} permission="imports:write" disabled=${!!busy} className="danger"
      onClick=${() => act("cancel", `${base}/cancel`, () => { announce("Cancel requested"); onChanged(); })}>
      ${busy === "cancel" ? "Canceling…" : "Cancel job"}<//>`}
    ${canRetry && retries.length === 0 && html`<${Guarded} me=${me} permission="imports:write" disabled=${!!busy}
      onClick=${retry}>Retry failed rows<//>`}
    ${canRetry && retries.length > 0 && html`<p class="retried">The failed rows were retried already by${" "}
      ${retries.map((id, i) => html`${i > 0 ? ", " : ""}<a class="mono" href="${BASE}/jobs/${encodeURIComponent(id)}">${id}</a>`)}.</p>
      ${!again && html`<${Guarded} me=${me} permission="imports:write" disabled=${!!busy}
        onClick=${() => setAgain(true)}>Retry again…<//>`}`}
    ${canCommit && html`<${Guarded} me=${me} permission="imports:write" disabled=${!!busy} className="primary"
      onClick=${() => act("commit", `${base}/commit`, (j) => navigate(`${BASE}/jobs/${j.jobId}`))}>
      Commit dry run<//>`}
    ${canRetry && retries.length > 0 && again && html`<div class="notice retry-again" role="alertdialog"
      aria-labelledby="retry-again-heading" aria-describedby="retry-again-text">
      <h3 id="retry-again-heading">Retry the failed rows again?</h3>
      <p id="retry-again-text">${againText}</p>
      <div class="button-row">
        <${Guarded} me=${me} permission="imports:write" disabled=${!!busy} className="primary"
          onClick=${retry}>${busy === "retry" ? "Retrying…" : "Retry again"}<//>
        <button type="button" ref=${(el) => el && !busy && el.focus()} onClick=${() => setAgain(false)}>Keep the existing retry</button>
      </div>
    </div>`}
    <${ErrorMessage} error=${error} />
  </section>`;
}

// Whether a revert of the job is possible at all (the API says why not, with a 409, for what is not visible here).
function revertible(job) {
  const counts = job.counts || {};
  const wrote = (counts.created || 0) + (counts.updated || 0) + (counts.deleted || 0);
  return job.finished && job.status !== "Rejected" && job.mode === "commit" && wrote > 0 && !job.revertedBy &&
    job.revertible !== false && (job.operation || "import") !== "revert" && job.operation !== "purge";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Revert: first a dry run of the revert, whose counts say what would happen; then, once confirmed, the revert.
function Revert({ me, job }) {
  const [stage, setStage] = useState("idle"); // idle | previewing | preview | reverting
  const [preview, setPreview] = useState(null);
  const [checking, setChecking] = useState(null); // the dry run while it runs: a big job's takes minutes
  const [error, setError] = useState(null);
  if (!revertible(job)) return null;
  const path = `/v1/jobs/${encodeURIComponent(job.jobId)}/revert`;
  const previewRevert = async () => {
    setStage("previewing");
    setError(null);
    try {
      let dry = await api(`${path}?dryRun=true`, { method: "POST" });
      setChecking(dry);
      while (!dry.finished) {
        await sleep(1000);
        dry = await api(`/v1/jobs/${encodeURIComponent(dry.jobId)}`);
        setChecking(dry);
      }
      setChecking(null);
      setPreview(dry);
      setStage("preview");
      announce("Revert preview ready");
    } catch (exc) {
      setError(exc);
      setChecking(null);
      setStage("idle");
    }
  };
  const confirm = async () => {
    setStage("reverting");
    setError(null);
    try {
      const started = await api(path, { method: "POST" });
      navigate(`${BASE}/jobs/${started.jobId}`);
    } catch (exc) {
      setError(exc);
      setStage("preview");
    }
  };
  const c = (preview && preview.counts) || {};
  return html`<section aria-labelledby="revert-heading" class="card revert">
    <h2 id="revert-heading">Revert</h2>
    <p>Undo this job: delete the records it created and put back the records it changed as they were before.
      A record changed again since is left as it is and listed as a conflict.</p>
    ${stage !== "preview" && stage !== "reverting" && html`<div class="button-row">
      <${Guarded} me=${me} permission="imports:write" disabled=${stage === "previewing"} onClick=${previewRevert}>
        ${stage === "previewing" ? "Checking what a revert would do…" : "Revert…"}<//></div>`}
    ${stage === "previewing" && checking && html`<div class="running revert-checking">
      <p>Checking each record the job wrote (a dry run of the revert,
        <a class="mono" href="${BASE}/jobs/${encodeURIComponent(checking.jobId)}">${checking.jobId}</a>; it goes on
        if you leave this page).</p>
      <${Progress} label="Revert preview progress" value=${(checking.counts || {}).processed || 0}
        max=${(checking.counts || {}).total} /></div>`}
    ${preview && stage !== "idle" && html`<div class="notice" role="status" aria-label="Revert preview">
      <p>A revert would:</p>
      <ul class="revert-preview">
        <li><span class="word">delete</span> <span class="value">${c.deleted || 0}</span> records this job created</li>
        <li><span class="word">restore</span> <span class="value">${c.updated || 0}</span> records this job updated</li>
        ${(c.created || 0) > 0 && html`<li><span class="word">bring back</span> <span class="value">${c.created}</span> records this job deleted</li>`}
        <li><span class="word">conflicts</span> <span class="value">${c.failed || 0}</span> records changed since (left as they are)</li>
      </ul>
      <div class="button-row">
        <${Guarded} me=${me} permission="imports:write" className="danger" disabled=${stage === "reverting"}
          onClick=${confirm}>${stage === "reverting" ? "Reverting…" : "Confirm revert"}<//>
        <button type="button" onClick=${() => { setStage("idle"); setPreview(null); }}>Keep the job's changes</button>
      </div>
    </div>`}
    <${ErrorMessage} error=${error} />
  </section>`;
}

// A job of more than ResultStepChunks chunks stays Processing after its last row while its result files are
// written in steps (`resultFiles: {chunksRead, chunks}`): say so, or 100% would seem to sit still.
function writingResults(job) {
  const steps = job.resultFiles;
  return !job.finished && steps && steps.chunks ? steps : null;
}

function WritingResults({ job }) {
  const steps = writingResults(job);
  if (!steps) return null;
  return html`<div class="running writing-results">
    <p>Every row is processed. Writing the result files: ${steps.chunksRead} of ${steps.chunks} chunks read.
      The job completes once they are written.</p>
    <${Progress} label="Result files progress" value=${steps.chunksRead || 0} max=${steps.chunks} /></div>`;
}

function Results({ me, job }) {
  const [error, setError] = useState(null);
  if (writingResults(job)) {
    return html`<section aria-labelledby="results-heading">
      <h2 id="results-heading">Result files</h2>
      <p class="muted">Being written (${job.resultFiles.chunksRead} of ${job.resultFiles.chunks} chunks read): they
        can be downloaded once the job completes.</p>
    </section>`;
  }
  if (!job.finished || job.status === "Rejected") return null;
  const denied = lacking(me, "imports:read");
  const files = job.files || [];
  const kinds = [["succeeded", "succeeded rows"], ["failed", "failed rows"], ["unprocessed", "unprocessed rows"]];
  const download = async (kind, file) => {
    setError(null);
    try {
      const { url } = await api(`/v1/jobs/${encodeURIComponent(job.jobId)}/results/${kind}${query({ file })}`);
      const anchor = document.createElement("a");
      anchor.href = url;
      anchor.rel = "noopener";
      document.body.appendChild(anchor);
      anchor.click();
      anchor.remove();
    } catch (exc) {
      setError(exc);
    }
  };
  const targets = files.length > 1 ? files.map((f) => f.name) : [undefined];
  return html`<section aria-labelledby="results-heading">
    <h2 id="results-heading">Result files</h2>
    <p class="muted">CSV files of the input rows with their outcome (or error message) appended.</p>
    ${targets.map((file) => html`<div class="button-row">
      ${file && html`<span class="mono">${file}:</span>`}
      ${kinds.map(([kind, label]) => html`<button type="button" disabled=${!!denied}
        onClick=${() => download(kind, file)}>Download ${label}${file ? ` of ${file}` : ""}</button>`)}
    </div>`)}
    <${ErrorMessage} error=${error} />
  </section>`;
}

function Errors({ job }) {
  const pages = useCursorPages(job.jobId);
  const [state, setState] = useState({ page: null, error: null });
  const failed = job.counts.failed || 0;
  const heading = useRef(null);
  useEffect(() => {
    let live = true;
    api(`/v1/jobs/${encodeURIComponent(job.jobId)}/errors${query({ limit: ERRORS_PAGE, cursor: pages.cursor })}`)
      .then((page) => live && setState({ page, error: null }))
      .catch((error) => live && setState((s) => ({ page: s.page, error })));
    return () => { live = false; };
  }, [job.jobId, pages.cursor, pages.cursor ? 0 : failed, job.finished]);
  const { page, error } = state;
  return html`<section aria-labelledby="errors-heading">
    <h2 id="errors-heading" ref=${heading}>Row errors</h2>
    <${ErrorMessage} error=${error} />
    ${page && page.items.length === 0 && !pages.hasPrevious && html`<p class="empty">No row errors.</p>`}
    ${page && page.items.length > 0 && html`<div class="table-wrap"><table class="errors">
      <caption class="visually-hidden">Row errors, in row order</caption>
      <thead><tr><th scope="col" class="num">Row</th><th scope="col">Field</th><th scope="col">Value</th>
        <th scope="col">Message</th></tr></thead>
      <tbody>${page.items.map((e) => html`<tr><td class="num">${e.row}</td><td>${e.field == null ? "—" : e.field}</td>
        <td class="mono">${e.value == null ? "" : String(e.value)}</td><td>${e.message}</td></tr>`)}</tbody>
    </table></div>`}
    ${page && html`<${Pager} label="Error pages" hasPrevious=${pages.hasPrevious} hasNext=${!!page.nextCursor}
      onPrevious=${pages.previous} onNext=${() => pages.next(page.nextCursor)} />`}
  </section>`;
}

// Fixing failed rows in the browser: the failed-rows file, editable, checked against the schema as it is typed,
// then sent as a JSON Lines job of corrected rows (each with `sluice_row`, its row in this job) linked by retryOf.
function FixRows({ me, job }) {
  const [state, setState] = useState(null); // {headers, rows: [{row, message, values}], itemType}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const failed = job.counts.failed || 0;
  if (!(job.status === "Completed" || job.status === "Canceled") || failed === 0 || !job.itemType) return null;
  if ((job.files || []).length > 1) return null;

  const open = async () => {
    setBusy(true);
    setError(null);
    try {
      const base = `/v1/jobs/${encodeURIComponent(job.jobId)}`;
      const [{ url }, itemType] = await Promise.all([api(`${base}/results/failed`),
        api(`/v1/item-types/${encodeURIComponent(job.itemType)}`)]);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`The failed-rows file could not be read (${response.status}).`);
      const [header, ...lines] = parseCsv((await response.text()).replace(/^\ufeff/, ""));
      const at = (name) => header.indexOf(name);
      const headers = header.filter((h) => !h.startsWith("sluice_"));
      const rows = lines.filter((line) => line.length > 1 || line[0] !== "").map((line) => ({
        row: Number(line[at("sluice_row")]),
        message: line[at("sluice_message")] || "",
        values: Object.fromEntries(headers.map((h) => [h, line[header.indexOf(h)] ?? ""])),
      }));
      setState({ headers, rows, itemType });
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  if (!state) {
    return html`<section aria-labelledby="fix-heading">
      <h2 id="fix-heading">Fix failed rows</h2>
      <p class="muted">Edit the ${failed} failed ${failed === 1 ? "row" : "rows"} here and send ${failed === 1 ? "it" : "them"} as a new job linked to this one.</p>
      ${(job.retries || []).length > 0 && html`<p class="hint">This job's failed rows were retried already: see "Retried by" above.</p>`}
      <${Guarded} me=${me} permission="imports:write" disabled=${busy} onClick=${open}>Edit failed rows<//>
      <${ErrorMessage} error=${error} />
    </section>`;
  }

  const { headers, rows, itemType } = state;
  const fieldOf = Object.fromEntries(headers.map((h) => [h, serverField(h, itemType)]));
  const required = (field) => !!field && ((itemType.fields[field] || {}).required || (itemType.key || []).includes(field));
  const problem = (header, value) => {
    const field = fieldOf[header];
    return field ? checkValue(itemType.fields[field], required(field), value) : null;
  };
  const invalid = rows.reduce((n, r) => n + headers.filter((h) => problem(h, r.values[h])).length, 0);
  const update = (index, header, value) => setState({ ...state, rows: rows.map((r, i) => (i === index
    ? { ...r, values: { ...r.values, [header]: value } } : r)) });
  const remove = (index) => setState({ ...state, rows: rows.filter((_, i) => i !== index) });

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const lines = rows.map((r) => JSON.stringify({
        ...Object.fromEntries(headers.filter((h) => r.values[h] !== "").map((h) => [h, r.values[h]])),
        sluice_row: r.row,
      }));
      const path = job.creationPath && job.creationPath.startsWith("API:") ? job.creationPath.slice(4) : undefined;
      const created = await api(`/v1/jobs${query({ itemType: job.itemType, retryOf: job.jobId,
        mode: job.mode === "dry-run" ? "dry-run" : undefined, merge: job.merge ? "true" : undefined,
        creationPath: path, jobName: `${job.jobName || job.jobId} (corrected rows)`.slice(0, 200) })}`,
      { method: "POST", raw: `${lines.join("\n")}\n`, contentType: "application/x-ndjson" });
      navigate(`${BASE}/jobs/${encodeURIComponent(created.jobId)}`);
    } catch (exc) {
      setError(exc);
      setBusy(false);
    }
  };

  return html`<section aria-labelledby="fix-heading">
    <h2 id="fix-heading">Fix failed rows</h2>
    <div class="table-wrap"><table class="fix">
      <caption class="visually-hidden">Failed rows to fix</caption>
      <thead><tr><th scope="col" class="num">Row</th>
        ${headers.map((h) => html`<th scope="col">${h}${fieldOf[h] && fieldOf[h] !== h ? html` <span class="muted">→ ${fieldOf[h]}</span>` : ""}
          ${!fieldOf[h] && html` <span class="muted">(ignored)</span>`}</th>`)}
        <th scope="col">Error</th><th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead>
      <tbody>${rows.map((r, index) => html`<tr key=${r.row}>
        <td class="num">${r.row}</td>
        ${headers.map((h) => {
          const message = problem(h, r.values[h]);
          const id = `fix-${r.row}-${headers.indexOf(h)}`;
          return html`<td><input id=${id} value=${r.values[h]} aria-label=${`${h} of row ${r.row}`}
              aria-invalid=${message ? "true" : undefined} aria-describedby=${message ? `${id}-problem` : undefined}
              onInput=${(e) => update(index, h, e.target.value)} />
            ${message && html`<div class="error-text small" id=${`${id}-problem`}>${message}</div>`}</td>`;
        })}
        <td class="reason-text">${r.message}</td>
        <td><button type="button" class="link-button" onClick=${() => remove(index)}
          aria-label=${`Leave out row ${r.row}`}>Leave out</button></td>
      </tr>`)}</tbody>
    </table></div>
    <p class=${invalid ? "error-text" : "muted"} role="status">${invalid
      ? `${invalid} ${invalid === 1 ? "value does" : "values do"} not fit the schema yet.`
      : `${rows.length} ${rows.length === 1 ? "row" : "rows"} ready.`}</p>
    <div class="button-row">
      <${Guarded} me=${me} permission="imports:write" className="primary" disabled=${busy || invalid > 0 || !rows.length}
        onClick=${submit}>Submit corrected rows<//>
      <button type="button" class="link-button" onClick=${() => setState(null)}>Discard changes</button>
    </div>
    <${ErrorMessage} error=${error} />
  </section>`;
}
