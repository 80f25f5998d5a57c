// A new import: item type, file, the header mapping previewed before sending, dry run or commit, then the file
// goes straight to S3 through the job's presigned form (with upload progress) and the console opens the job.
import {
  BASE, ErrorMessage, Guarded, announce, api, formatBytes, html, navigate, useEffect, useId,
  useItemTypes, useState,
} from "../lib.js";
import { mapHeaders, readHeaders } from "../mapping.js";

let columnsOnJobs = null; // does POST /v1/jobs take `columns`? Read once from the served OpenAPI document.
async function jobsTakeColumns() {
  if (columnsOnJobs === null) {
    try {
      const response = await fetch("/v1/openapi.json");
      const doc = await response.json();
      const options = ((doc.components || {}).schemas || {}).JobOptions || {};
      columnsOnJobs = !!(options.properties && options.properties.columns);
    } catch {
      columnsOnJobs = false;
    }
  }
  return columnsOnJobs;
}

function uploadToS3(form, file, onProgress) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const [name, value] of Object.entries(form.fields || {})) body.append(name, value);
    body.append("file", file); // S3 reads every field before the file: it must come last
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.url);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded, event.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) { resolve(); return; }
      const match = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "");
      reject(new Error(`The upload was refused (${xhr.status}${match ? `: ${match[1]}` : ""}).`));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the storage could not be reached."));
    xhr.send(body);
  });
}

export function NewImportPage({ me, search }) {
  const itemTypes = useItemTypes(me);
  const [itemTypeName, setItemTypeName] = useState(search.get("itemType") || "");
  const [file, setFile] = useState(null);
  const [preview, setPreview] = useState(null);
  const [dryRun, setDryRun] = useState(false);
  const [merge, setMerge] = useState(false);
  const [jobName, setJobName] = useState("");
  const [creationPath, setCreationPath] = useState("");
  const [choices, setChoices] = useState({});
  const [takesColumns, setTakesColumns] = useState(false);
  const [upload, setUpload] = useState(null); // {jobId, loaded, total}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { document.title = "New import — Sluice console"; jobsTakeColumns().then(setTakesColumns); }, []);

  const itemType = (itemTypes.items || []).find((t) => t.itemType === itemTypeName) || null;

  useEffect(() => {
    let live = true;
    setPreview(null);
    if (file) {
      readHeaders(file).then((result) => live && setPreview(result))
        .catch((exc) => live && setPreview({ headers: null, note: `The header row could not be read: ${exc.message}` }));
    }
    return () => { live = false; };
  }, [file]);

  const mapping = itemType && preview && preview.headers ? mapHeaders(preview.headers, itemType) : null;
  useEffect(() => {
    if (!mapping) return;
    const initial = {};
    for (const row of mapping.rows) initial[row.header] = row.field || row.suggestion || "";
    setChoices(initial);
  }, [itemTypeName, preview, itemType && itemType.version]);

  const edited = mapping ? mapping.rows.filter((r) => (choices[r.header] || "") !== (r.field || "") && choices[r.header])
    : [];

  const start = async (event) => {
    event.preventDefault();
    setError(null);
    if (!itemTypeName) { setError("Choose an item type."); return; }
    if (!file) { setError("Choose a file."); return; }
    if (file.size === 0) { setError("The file is empty."); return; }
    setBusy(true);
    try {
      const body = { itemType: itemTypeName, fileName: file.name };
      if (dryRun) body.mode = "dry-run";
      if (merge) body.merge = true;
      if (jobName.trim()) body.jobName = jobName.trim();
      if (creationPath.trim()) body.creationPath = creationPath.trim();
      if (takesColumns && edited.length) body.columns = Object.fromEntries(edited.map((r) => [r.header, choices[r.header]]));
      const job = await api("/v1/jobs", { method: "POST", body });
      const form = job.uploadForm;
      if (!form) throw new Error("The API gave no upload form for this job.");
      if (form.maxBytes && file.size > form.maxBytes) {
        await api(`/v1/jobs/${job.jobId}/cancel`, { method: "POST" }).catch(() => null);
        throw new Error(`The file is ${formatBytes(file.size)}; uploads take at most ${formatBytes(form.maxBytes)}.`);
      }
      setUpload({ jobId: job.jobId, loaded: 0, total: file.size });
      await uploadToS3(form, file, (loaded, total) => setUpload({ jobId: job.jobId, loaded, total }));
      announce("Upload complete");
      navigate(`${BASE}/jobs/${encodeURIComponent(job.jobId)}`);
    } catch (exc) {
      setError(exc);
      setBusy(false);
    }
  };

  return html`
    <h1>New import</h1>
    <form class="card form" onSubmit=${start} novalidate>
      <div class="field">
        <label for="import-item-type">Item type</label>
        <select id="import-item-type" value=${itemTypeName} onChange=${(e) => setItemTypeName(e.target.value)}>
          <option value="">Choose an item type…</option>
          ${(itemTypes.items || []).map((t) => html`<option value=${t.itemType}>${t.itemType}</option>`)}
        </select>
        ${itemTypes.items && itemTypes.items.length === 0 && !itemTypes.error && html`<p class="hint">No item types yet:${" "}
          <a href="${BASE}/item-types/_new">create one</a> first.</p>`}
        <${ErrorMessage} error=${itemTypes.error} />
      </div>
      <div class="field">
        <label for="import-file">File</label>
        <input id="import-file" type="file" aria-describedby="import-file-hint"
          accept=".csv,.tsv,.txt,.jsonl,.ndjson,.json,.xlsx,.xls"
          onChange=${(e) => setFile(e.target.files && e.target.files[0] ? e.target.files[0] : null)} />
        <p class="hint" id="import-file-hint">CSV (any common delimiter and encoding), JSON Lines, XLSX or XLS.
          ${file && html` Chosen: <strong>${file.name}</strong>, ${formatBytes(file.size)}.`}</p>
      </div>
      ${file && itemType && html`<${MappingPreview} me=${me} preview=${preview} mapping=${mapping} itemType=${itemType}
        choices=${choices} setChoices=${setChoices} edited=${edited} takesColumns=${takesColumns} />`}
      <div class="field-row">
        <div class="field">
          <label for="import-job-name">Job name <span class="muted">(optional)</span></label>
          <input id="import-job-name" value=${jobName} maxlength="200" onInput=${(e) => setJobName(e.target.value)} />
        </div>
        <div class="field">
          <label for="import-creation-path">Creation path <span class="muted">(optional)</span></label>
          <input id="import-creation-path" value=${creationPath} maxlength="100" placeholder="LH"
            aria-describedby="import-creation-path-hint" onInput=${(e) => setCreationPath(e.target.value)} />
          <p class="hint" id="import-creation-path-hint">Stored as API:<i>value</i>; filter the jobs by it later.</p>
        </div>
      </div>
      <div class="checks">
        <div class="check"><input id="import-dry-run" type="checkbox" checked=${dryRun}
          aria-describedby="import-dry-run-hint" onChange=${(e) => setDryRun(e.target.checked)} />
          <label for="import-dry-run">Dry run</label>
          <span class="hint" id="import-dry-run-hint">validate and count every row, write nothing; commit it later from the job's page</span></div>
        <div class="check"><input id="import-merge" type="checkbox" checked=${merge}
          aria-describedby="import-merge-hint" onChange=${(e) => setMerge(e.target.checked)} />
          <label for="import-merge">Merge</label>
          <span class="hint" id="import-merge-hint">only the columns given change; otherwise each record is replaced</span></div>
      </div>
      <${ErrorMessage} error=${error} />
      ${upload && html`<div class="upload-progress">
        <label for="upload-progress">Uploading ${file && file.name}</label>
        <progress id="upload-progress" value=${upload.loaded} max=${upload.total || 1}></progress>
        <span>${formatBytes(upload.loaded)} of ${formatBytes(upload.total)}</span>
      </div>`}
      <div class="button-row">
        <${Guarded} me=${me} permission="imports:write" type="submit" className="primary" disabled=${busy}>Start import<//>
        ${upload && error && html`<a href="${BASE}/jobs/${upload.jobId}">Open the job</a>`}
      </div>
    </form>`;
}

function MappingPreview({ me, preview, mapping, itemType, choices, setChoices, edited, takesColumns }) {
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(null);
  const [error, setError] = useState(null);
  const headingId = useId("mapping");
  if (!preview) return html`<section class="mapping"><p class="loading">Reading the header row…</p></section>`;
  if (!preview.headers) return html`<section class="mapping"><h2>Column mapping</h2><p class="hint">${preview.note}</p></section>`;
  const fields = Object.keys(itemType.fields || {});
  const saveToItemType = async () => {
    setSaving(true);
    setError(null);
    setSaved(null);
    try {
      const definition = editableDefinition(itemType);
      definition.columns = { ...(definition.columns || {}) };
      for (const row of edited) definition.columns[row.header] = choices[row.header];
      const stored = await api(`/v1/item-types/${encodeURIComponent(itemType.itemType)}`, { method: "PUT", body: definition });
      setSaved(`Saved to ${itemType.itemType}'s columns (version ${stored.version}).`);
      window.dispatchEvent(new Event("sluice:item-types-changed"));
    } catch (exc) {
      setError(exc);
    } finally {
      setSaving(false);
    }
  };
  const chosen = new Set(Object.values(choices).filter(Boolean));
  const coveredLater = mapping.missing.filter((name) => chosen.has(name));
  return html`<section class="mapping" aria-labelledby=${headingId}>
    <h2 id=${headingId}>Column mapping</h2>
    <p class="hint">${preview.headers.length} columns in the header row${preview.delimiter ? ` (delimiter ${preview.delimiter === "\t" ? "tab" : JSON.stringify(preview.delimiter)})` : ""}.
      A column is used when its header names a field of ${itemType.itemType} (ignoring case and spaces) or is listed in
      the item type's columns.</p>
    <ul class="mapping-list" aria-label="Columns of the file">
      ${mapping.rows.map((row) => html`<li class=${row.field ? "mapped" : "unknown"}>
        <span class="line"><code>${row.header || "(blank header)"}</code>${" "}${row.field
          ? html`→ <strong>${row.field}</strong>${row.duplicate && html` <span class="badge bad">also mapped from ${row.duplicate}: the job would be rejected</span>`}`
          : html`<span class="badge warn">unknown</span>${row.suggestion ? html` — suggested field: <strong>${row.suggestion}</strong>`
            : " — ignored"}`}</span>
        <span class="choose"><label class="visually-hidden" for=${`map-${headingId}-${row.header}`}>Field for column ${row.header}</label>
          <select id=${`map-${headingId}-${row.header}`} value=${choices[row.header] || ""}
            onChange=${(e) => setChoices({ ...choices, [row.header]: e.target.value })}>
            <option value="">(ignore this column)</option>
            ${fields.map((f) => html`<option value=${f}>${f}</option>`)}
          </select></span>
      </li>`)}
    </ul>
    ${mapping.missing.length > 0 && html`<p class="error-text" role="status">Missing required ${mapping.missing.length === 1 ? "field" : "fields"}: <strong>${mapping.missing.join(", ")}</strong>.
      ${coveredLater.length === mapping.missing.length ? " Your mapping covers it once saved." : " The job would be rejected."}</p>`}
    ${edited.length > 0 && html`<div class="notice">
      <p>${takesColumns ? `Your mapping of ${edited.length} column${edited.length === 1 ? "" : "s"} goes with this job.`
        : html`Your mapping of ${edited.length} column${edited.length === 1 ? "" : "s"} (${edited.map((r) => `${r.header} → ${choices[r.header]}`).join(", ")}) is used once saved to the item type's columns.`}</p>
      <${Guarded} me=${me} permission="schemas:write" disabled=${saving} onClick=${saveToItemType}>
        Save mapping to ${itemType.itemType}<//>
    </div>`}
    ${saved && html`<p class="success" role="status">${saved}</p>`}
    <${ErrorMessage} error=${error} />
  </section>`;
}

// An item type as GET returns it, less what the API adds (name, version, times): the body PUT takes.
export function editableDefinition(itemType) {
  const { itemType: _name, version: _v, createdAt: _c, updatedAt: _u, ...definition } = itemType;
  return JSON.parse(JSON.stringify(definition));
}

