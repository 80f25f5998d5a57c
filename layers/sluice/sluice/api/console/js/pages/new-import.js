// A new import: item type, file, the header mapping previewed before sending (the saved mapping that matches the
// file best proposed, editable, saved under a name), dry run or commit, then the file goes straight to S3 through
// the job's presigned form (with upload progress) and the console opens the job.
import {
  BASE, ErrorMessage, Guarded, announce, api, formatBytes, html, lacking, navigate, useEffect, useId, useItemTypes,
  useState,
} from "../lib.js";
import { bestMapping, checkChoices, mapHeaders, readHeaders } from "../mapping.js";

const MAPPING_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

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
  const [saved, setSaved] = useState({ items: null, error: null, version: 0 }); // the item type's named mappings
  const [picked, setPicked] = useState(undefined); // the saved mapping the user chose ("": none); undefined: proposed
  const [upload, setUpload] = useState(null); // {jobId, loaded, total}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { document.title = "New import — Sluice console"; }, []);

  const itemType = (itemTypes.items || []).find((t) => t.itemType === itemTypeName) || null;

  // the item type's saved mappings (GET /v1/item-types/{t}/mappings), read again after one is saved
  const mayRead = !lacking(me, "imports:read") || !lacking(me, "imports:write") || !lacking(me, "schemas:write");
  useEffect(() => {
    let live = true;
    setSaved((s) => ({ items: null, error: null, version: s.version }));
    if (itemType && mayRead) {
      api(`/v1/item-types/${encodeURIComponent(itemType.itemType)}/mappings`)
        .then((data) => live && setSaved((s) => ({ ...s, items: data.items || [], error: null })))
        .catch((exc) => live && setSaved((s) => ({ ...s, items: [], error: exc })));
    }
    return () => { live = false; };
  }, [itemType && itemType.itemType, saved.version]);
  const reloadSaved = (name) => { setPicked(name); setSaved((s) => ({ ...s, version: s.version + 1 })); };
  useEffect(() => setPicked(undefined), [itemTypeName, file]);

  useEffect(() => {
    let live = true;
    setPreview(null);
    if (file) {
      readHeaders(file).then((result) => live && setPreview(result))
        .catch((exc) => live && setPreview({ headers: null, note: `The header row could not be read: ${exc.message}` }));
    }
    return () => { live = false; };
  }, [file]);

  const headers = preview && preview.headers;
  const proposal = headers && saved.items ? bestMapping(headers, saved.items) : null;
  const chosenName = picked === undefined ? (proposal ? proposal.mapping.name : "") : picked;
  const chosen = (saved.items || []).find((m) => m.name === chosenName) || null;
  const mapping = itemType && headers ? mapHeaders(headers, itemType, chosen ? chosen.columns : {}) : null;
  useEffect(() => {
    if (!mapping) return;
    const initial = {};
    for (const row of mapping.rows) initial[row.header] = row.field || row.suggestion || "";
    setChoices(initial);
  }, [itemTypeName, preview, itemType && itemType.version, chosen && `${chosen.name} ${chosen.updatedAt}`]);

  // what the job's own `columns` carry: each choice the API would not make by itself
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
      if (chosen) body.mapping = chosen.name;
      if (edited.length) body.columns = Object.fromEntries(edited.map((r) => [r.header, choices[r.header]]));
      const job = await api("/v1/jobs", { method: "POST", body });
      const form = job.uploadForm;
      if (!form) throw new Error("The API gave no upload form for this job.");
      if (form.maxBytes && file.size > form.maxBytes) {
        await api(`/v1/jobs/${job.jobId}/cancel`, { method: "POST" }).catch(() => null);
        throw new Error(`The file is ${formatBytes(file.size)}; the console uploads at most ${formatBytes(form.maxBytes)}: send it with the sluice command (sluice import), which uploads larger files in parts.`);
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
          accept=".csv,.tsv,.txt,.jsonl,.ndjson,.json,.xlsx,.xls,.gz,.zip"
          onChange=${(e) => setFile(e.target.files && e.target.files[0] ? e.target.files[0] : null)} />
        <p class="hint" id="import-file-hint">CSV (any common delimiter and encoding), JSON Lines, XLSX or XLS;
          CSV and JSON Lines also gzip-compressed (.gz) or alone in a zip archive (.zip).
          ${file && html` Chosen: <strong>${file.name}</strong>, ${formatBytes(file.size)}.`}</p>
      </div>
      ${file && itemType && html`<${MappingPreview} me=${me} file=${file} preview=${preview} mapping=${mapping}
        itemType=${itemType} choices=${choices} setChoices=${setChoices} edited=${edited} saved=${saved}
        proposal=${proposal} chosen=${chosen} onPick=${setPicked} onSaved=${reloadSaved} />`}
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

function MappingPreview({ me, file, preview, mapping, itemType, choices, setChoices, edited, saved, proposal, chosen,
  onPick, onSaved }) {
  const headingId = useId("mapping");
  if (!preview) return html`<section class="mapping"><p class="loading">Reading the header row…</p></section>`;
  if (!preview.headers) return html`<section class="mapping"><h2>Column mapping</h2><p class="hint">${preview.note}</p></section>`;
  const fields = Object.keys(itemType.fields || {});
  const problems = checkChoices(choices, itemType);
  return html`<section class="mapping" aria-labelledby=${headingId}>
    <h2 id=${headingId}>Column mapping</h2>
    <${SavedMappings} saved=${saved} proposal=${proposal} chosen=${chosen} onPick=${onPick} />
    <p class="hint">${preview.headers.length} columns in the header row${preview.delimiter ? ` (delimiter ${preview.delimiter === "\t" ? "tab" : JSON.stringify(preview.delimiter)})` : ""}.
      A column is used when its header names a field of ${itemType.itemType} (ignoring case and spaces) or is listed in
      the item type's columns${chosen ? html` or in the saved mapping <strong>${chosen.name}</strong>` : ""}.</p>
    <ul class="mapping-list" aria-label="Columns of the file">
      ${mapping.rows.map((row) => html`<li class=${row.field ? "mapped" : "unknown"}>
        <span class="line"><code>${row.header || "(blank header)"}</code>${" "}${row.field
          ? html`→ <strong>${row.field}</strong>`
          : html`<span class="badge warn">unknown</span>${row.suggestion ? html` — suggested field: <strong>${row.suggestion}</strong>`
            : " — ignored"}`}</span>
        <span class="choose"><label class="visually-hidden" for=${`map-${headingId}-${row.header}`}>Field for column ${row.header}</label>
          <select id=${`map-${headingId}-${row.header}`} value=${choices[row.header] || ""}
            onChange=${(e) => setChoices({ ...choices, [row.header]: e.target.value })}>
            ${!row.field && html`<option value="">(ignore this column)</option>`}
            ${fields.map((f) => html`<option value=${f}>${f}</option>`)}
          </select></span>
      </li>`)}
    </ul>
    ${problems.missing.length > 0 && html`<p class="error-text" role="status">Missing required ${problems.missing.length === 1 ? "field" : "fields"}: <strong>${problems.missing.join(", ")}</strong>.
      The job would be rejected.</p>`}
    ${problems.twice.map(({ field, headers }) => html`<p class="error-text" role="status">${headers.join(" and ")} both map to${" "}
      <strong>${field}</strong>: the job would be rejected.</p>`)}
    ${edited.length > 0 && html`<p class="notice">${`Your mapping of ${edited.length} column${edited.length === 1 ? "" : "s"} (${
      edited.map((r) => `${r.header} → ${choices[r.header]}`).join(", ")}) goes with this job.`}</p>`}
    <${SaveMappingAs} me=${me} file=${file} itemType=${itemType} choices=${choices} chosen=${chosen} onSaved=${onSaved} />
  </section>`;
}

// The saved mappings of the item type: the one matching the file best is proposed; the user may pick another or none.
function SavedMappings({ saved, proposal, chosen, onPick }) {
  if (saved.error) return html`<p class="hint">Saved mappings could not be read: ${saved.error.message}</p>`;
  if (!saved.items) return html`<p class="loading">Reading the saved mappings…</p>`;
  if (saved.items.length === 0) return html`<p class="hint">No saved mapping for this item type yet.</p>`;
  const described = proposal ? `Proposed: saved mapping ${proposal.mapping.name}, matching ${proposal.matched} of the file's ${proposal.headers} columns.`
    : "No saved mapping matches these headers.";
  return html`<div class="field saved-mapping">
    <label for="import-saved-mapping">Saved mapping</label>
    <select id="import-saved-mapping" value=${chosen ? chosen.name : ""} aria-describedby="import-saved-mapping-hint"
      onChange=${(e) => onPick(e.target.value)}>
      <option value="">(none)</option>
      ${saved.items.map((m) => html`<option value=${m.name}>${m.name} (${Object.keys(m.columns || {}).length} columns)</option>`)}
    </select>
    <p class="hint" id="import-saved-mapping-hint" role="status">${described}</p>
  </div>`;
}

// Saves the columns as chosen (every column given a field) as a named mapping of the item type.
function SaveMappingAs({ me, file, itemType, choices, chosen, onSaved }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const columns = Object.fromEntries(Object.entries(choices).filter(([header, field]) => header.trim() && field));
  const problem = name && !MAPPING_NAME.test(name)
    ? "A letter first, then up to 63 letters, digits, _ or -." : null;
  const begin = () => {
    const fromFile = (file.name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^[^A-Za-z]+/, "")
      .slice(0, 64));
    setName(chosen ? chosen.name : fromFile);
    setResult(null);
    setError(null);
    setOpen(true);
  };
  const save = async (event) => {
    event.preventDefault();
    if (!name || problem) { setError(problem || "Give the mapping a name."); return; }
    setBusy(true);
    setError(null);
    try {
      const path = `/v1/item-types/${encodeURIComponent(itemType.itemType)}/mappings/${encodeURIComponent(name)}`;
      const stored = await api(path, { method: "PUT", body: { columns } });
      const count = Object.keys(stored.columns).length;
      setResult(`Saved mapping ${stored.name} of ${stored.itemType} (${count} column${count === 1 ? "" : "s"}).`);
      setOpen(false);
      onSaved(stored.name);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="save-mapping">
    ${!open && html`<${Guarded} me=${me} permission="schemas:write" disabled=${Object.keys(columns).length === 0}
      onClick=${begin}>Save mapping as…<//>`}
    ${open && html`<div class="inline-form" role="group" aria-label="Save mapping as">
      <label for="save-mapping-name">Mapping name</label>
      <input id="save-mapping-name" class="mono" value=${name} maxlength="64" aria-describedby="save-mapping-name-hint"
        aria-invalid=${problem ? "true" : undefined} onInput=${(e) => setName(e.target.value)}
        onKeyDown=${(e) => { if (e.key === "Enter") save(e); }} />
      <button type="button" class="primary" disabled=${busy} onClick=${save}>Save mapping</button>
      <button type="button" class="link-button" onClick=${() => setOpen(false)}>Cancel</button>
      <p class=${problem ? "error-text hint" : "hint"} id="save-mapping-name-hint">${problem ||
        `The ${Object.keys(columns).length} columns given a field above, saved for ${itemType.itemType}; a later import with these headers proposes it.`}</p>
    </div>`}
    ${result && html`<p class="success" role="status">${result}</p>`}
    <${ErrorMessage} error=${error} />
  </div>`;
}

// An item type as GET returns it, less what the API adds (name, version, times): the body PUT takes.
export function editableDefinition(itemType) {
  const { itemType: _name, version: _v, createdAt: _c, updatedAt: _u, ...definition } = itemType;
  return JSON.parse(JSON.stringify(definition));
}

