// Reading a file's header row in the browser, and matching headers to an item type's fields.
//
// Two matchers: `serverField` does what the API does (the item type's `columns` first, then field names, both
// compared ignoring case and whitespace), so the preview says exactly which columns the job will use;
// `suggestField` is the fuzzy one (case, spaces and punctuation normalised, then the nearest field by edit
// distance): `e-mail` -> `email`, `Body Mass (g)` -> `body_mass_g`.

const HEAD_BYTES = 64 * 1024;

export function fileKind(name) {
  const lower = (name || "").toLowerCase();
  if (/\.(csv|tsv|txt|tab)$/.test(lower)) return "csv";
  if (/\.(jsonl|ndjson|jsonlines)$/.test(lower)) return "jsonl";
  if (lower.endsWith(".json")) return "json";
  if (/\.(xlsx|xlsm|xls)$/.test(lower)) return "workbook";
  return "csv";
}

function decode(bytes) {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // a multi-byte character cut by the slice, or another encoding: retry without the tail, then as cp1252
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, Math.max(0, bytes.length - 3)));
    } catch {
      return new TextDecoder("windows-1252").decode(bytes);
    }
  }
}

export function detectDelimiter(text) {
  const candidates = [",", ";", "\t", "|"];
  const counts = Object.fromEntries(candidates.map((c) => [c, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && ch in counts) counts[ch] += 1;
  }
  let best = ",";
  for (const c of candidates) if (counts[c] > counts[best]) best = c;
  return best;
}

// The first record of CSV text (RFC 4180 quoting; quoted fields may hold delimiters and newlines).
export function firstCsvRecord(text, delimiter) {
  const fields = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i += 1; continue; }
      field += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && field.trim() === "") { field = ""; quoted = true; i += 1; continue; }
    if (ch === delimiter) { fields.push(field); field = ""; i += 1; continue; }
    if (ch === "\n" || ch === "\r") break;
    field += ch;
    i += 1;
  }
  fields.push(field);
  return fields;
}

function jsonLinesKeys(text) {
  const keys = [];
  const seen = new Set();
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length && index < 500; index += 1) {
    const line = lines[index].trim();
    if (!line) continue;
    let value;
    try { value = JSON.parse(line); } catch { continue; } // the last line may be cut by the slice
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const key of Object.keys(value)) if (!seen.has(key)) { seen.add(key); keys.push(key); }
    }
  }
  return keys;
}

// The start of what a compressed stream holds (`format`: "gzip" or "deflate-raw"): the slice read ends
// mid-stream, so the stream's complaint about its end is expected and what came out before it is kept.
async function inflate(bytes, format) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format)).getReader();
  const parts = [];
  let size = 0;
  try {
    while (size < HEAD_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } catch {
    // the slice ended inside the compressed stream
  }
  reader.cancel().catch(() => null);
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out.subarray(0, HEAD_BYTES);
}

// A gzip file or a zip archive of one file (what the API accepts, docs/limits.md): the inner file's name and the
// start of its bytes, so the header row is read as the job will read it. -> {name, bytes} or {note}
async function uncompressed(file, head) {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    if (typeof DecompressionStream === "undefined") return { note: "This browser cannot read a gzip file's header row; its columns are matched when the job reads it." };
    return { name: file.name.replace(/\.gz$/i, ""), bytes: await inflate(head, "gzip") };
  }
  if (head.length >= 30 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const method = view.getUint16(8, true);
    const nameLength = view.getUint16(26, true);
    const start = 30 + nameLength + view.getUint16(28, true);
    const name = new TextDecoder().decode(head.subarray(30, 30 + nameLength));
    const data = head.subarray(start);
    if (method === 0) return { name, bytes: data };
    if (method !== 8 || typeof DecompressionStream === "undefined") {
      return { note: "This zip archive's header row cannot be read in the browser; its columns are matched when the job reads it." };
    }
    return { name, bytes: await inflate(data, "deflate-raw") };
  }
  return { name: file.name, bytes: head };
}

// -> {kind, headers: [...]} or {kind, headers: null, note}
export async function readHeaders(file) {
  if (fileKind(file.name) === "workbook") {
    return { kind: "workbook", headers: null, note: "Workbook columns are matched when the job reads the file; the preview covers CSV and JSON Lines." };
  }
  const inner = await uncompressed(file, new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer()));
  if (inner.note) return { kind: "csv", headers: null, note: inner.note };
  const kind = fileKind(inner.name);
  if (kind === "workbook") {
    return { kind, headers: null, note: "A workbook inside a compressed file is not read (a workbook is compressed already): upload the workbook itself." };
  }
  const bytes = inner.bytes;
  const text = decode(bytes);
  const start = text.trimStart();
  if (kind === "jsonl" || (kind === "json" && start.startsWith("{"))) {
    const headers = jsonLinesKeys(text);
    return headers.length ? { kind: "jsonl", headers } : { kind: "jsonl", headers: null, note: "No JSON object found in the first lines." };
  }
  if (kind === "json") {
    return { kind, headers: null, note: "The preview reads JSON Lines (one object a line); this file's keys are matched when the job reads it." };
  }
  if (!start) return { kind, headers: null, note: "The file is empty." };
  const delimiter = inner.name.toLowerCase().endsWith(".tsv") ? "\t" : detectDelimiter(text);
  const headers = firstCsvRecord(text, delimiter).map((h) => h.trim());
  return { kind, delimiter, headers };
}

// --- matching -----------------------------------------------------------------------------------------------

export function serverKey(text) {
  return String(text).replace(/\s+/g, "").toLowerCase();
}

export function fuzzyKey(text) {
  return String(text)
    .normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "");
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
export function editDistance(a, b) {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[rows - 1][cols - 1];
}

// `extra`: the job's own columns (a saved mapping's, then the edits), over the item type's, as the API merges them.
export function serverField(header, itemType, extra = {}) {
  const byName = new Map();
  for (const field of Object.keys(itemType.fields || {})) byName.set(serverKey(field), field);
  for (const [source, target] of Object.entries({ ...(itemType.columns || {}), ...extra })) {
    byName.set(serverKey(source), target);
  }
  return byName.get(serverKey(header)) || null;
}

export function suggestField(header, itemType, taken = new Set(), extra = {}) {
  const key = fuzzyKey(header);
  if (!key) return null;
  let best = null;
  let bestDistance = Infinity;
  const candidates = [];
  for (const field of Object.keys(itemType.fields || {})) candidates.push([field, field]);
  for (const [source, target] of Object.entries({ ...(itemType.columns || {}), ...extra })) candidates.push([source, target]);
  for (const [name, field] of candidates) {
    if (taken.has(field)) continue;
    const other = fuzzyKey(name);
    const distance = editDistance(key, other);
    const allowed = Math.max(key.length, other.length) <= 4 ? 1 : Math.max(key.length, other.length) <= 8 ? 2 : 3;
    if (distance <= allowed && distance < bestDistance) { best = field; bestDistance = distance; }
  }
  return best;
}

// Each header -> {header, field (what the API will use), suggestion (when the API would ignore it), duplicate};
// plus the required fields no header maps to.
export function mapHeaders(headers, itemType, extra = {}) {
  const used = new Set();
  const rows = headers.map((header) => {
    const field = header.trim() ? serverField(header, itemType, extra) : null;
    if (field) used.add(field);
    return { header, field };
  });
  const seenTargets = new Map();
  for (const row of rows) {
    if (!row.field) continue;
    if (seenTargets.has(row.field)) row.duplicate = seenTargets.get(row.field);
    else seenTargets.set(row.field, row.header);
  }
  for (const row of rows) {
    if (!row.field && row.header.trim()) row.suggestion = suggestField(row.header, itemType, used, extra);
  }
  const required = Object.entries(itemType.fields || {})
    .filter(([name, spec]) => spec.required || (itemType.key || []).includes(name))
    .map(([name]) => name);
  const missing = required.filter((name) => !used.has(name));
  return { rows, missing };
}

// The missing required fields and the fields chosen twice, for a header -> field choice ("" ignores a column).
export function checkChoices(choices, itemType) {
  const byField = new Map();
  for (const [header, field] of Object.entries(choices)) {
    if (field) byField.set(field, [...(byField.get(field) || []), header]);
  }
  const required = Object.entries(itemType.fields || {})
    .filter(([name, spec]) => spec.required || (itemType.key || []).includes(name))
    .map(([name]) => name);
  return {
    missing: required.filter((name) => !byField.has(name)),
    twice: [...byField.entries()].filter(([, headers]) => headers.length > 1).map(([field, headers]) => ({ field, headers })),
  };
}

// The saved mapping (GET /v1/item-types/{t}/mappings items) whose source headers match the most of the file's
// headers, compared as the API compares them (ignoring case and whitespace); ties go to the mapping with fewer
// sources the file lacks, then to the newest. -> {mapping, matched, sources, headers} or null when none matches a header.
export function bestMapping(headers, mappings) {
  const keys = new Set(headers.filter((h) => h.trim()).map(serverKey));
  let best = null;
  for (const mapping of mappings || []) {
    const sources = new Set(Object.keys(mapping.columns || {}).map(serverKey));
    const matched = [...sources].filter((s) => keys.has(s)).length;
    if (matched === 0) continue;
    const candidate = { mapping, matched, sources: sources.size, headers: keys.size };
    if (!best || matched > best.matched
        || (matched === best.matched && sources.size - matched < best.sources - best.matched)
        || (matched === best.matched && sources.size - matched === best.sources - best.matched
          && (mapping.updatedAt || "") > (best.mapping.updatedAt || ""))) {
      best = candidate;
    }
  }
  return best;
}
