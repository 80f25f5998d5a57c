// Item types: the list, one item type's fields, and its schema created or edited as JSON (checked as it is typed,
// then by the API, whose 400 message is shown as it comes).
import { BASE, ErrorMessage, Guarded, Time, api, html, lacking, navigate, useEffect, useItemTypes, useState } from "../lib.js";
import { editableDefinition } from "./new-import.js";

const NEW = "_new";
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const TYPES = ["string", "integer", "decimal", "boolean", "date", "datetime", "email", "enum"];
const TEMPLATE = {
  key: ["email"],
  fields: {
    email: { type: "email", required: true },
    name: { type: "string", maxLength: 200 },
    age: { type: "integer", min: 0, max: 150 },
  },
  columns: { "E-mail": "email" },
};

export function ItemTypesPage({ me }) {
  const { items, error } = useItemTypes(me);
  useEffect(() => { document.title = "Item types — Sluice console"; }, []);
  const denied = lacking(me, "schemas:write");
  return html`
    <div class="page-head">
      <h1>Item types</h1>
      ${denied ? html`<${Guarded} me=${me} permission="schemas:write">New item type<//>`
        : html`<a class="button primary" href="${BASE}/item-types/${NEW}">New item type…</a>`}
    </div>
    <${ErrorMessage} error=${error} />
    ${items === null && html`<p class="loading">Loading item types…</p>`}
    ${items && items.length === 0 && !error && html`<p class="empty">No item types yet.</p>`}
    ${items && items.length > 0 && html`<div class="table-wrap"><table>
      <caption>Item types of this tenant</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Fields</th>
        <th scope="col" class="num">Version</th><th scope="col">Changed</th></tr></thead>
      <tbody>${items.map((t) => html`<tr key=${t.itemType}>
        <td><a href="${BASE}/item-types/${encodeURIComponent(t.itemType)}">${t.itemType}</a></td>
        <td>${(t.key || []).join(" | ") || html`<span class="muted">none (every row creates a record)</span>`}</td>
        <td>${Object.keys(t.fields || {}).join(", ")}</td>
        <td class="num">${t.version}</td>
        <td><${Time} iso=${t.updatedAt} /></td>
      </tr>`)}</tbody>
    </table></div>`}`;
}

// Checks the schema text as it is typed; the API has the last word.
export function checkSchema(text) {
  let value;
  try { value = JSON.parse(text); } catch (exc) { return `Not valid JSON: ${exc.message}`; }
  if (!value || typeof value !== "object" || Array.isArray(value)) return "The schema is a JSON object.";
  if (!value.fields || typeof value.fields !== "object" || Array.isArray(value.fields) || !Object.keys(value.fields).length) {
    return "The schema needs \"fields\": an object of at least one field.";
  }
  for (const [name, spec] of Object.entries(value.fields)) {
    if (!NAME.test(name)) return `Field name "${name}" must match [A-Za-z][A-Za-z0-9_-]{0,63}.`;
    if (!spec || typeof spec !== "object" || !TYPES.includes(spec.type)) {
      return `Field "${name}" needs a "type": one of ${TYPES.join(", ")}.`;
    }
    if (spec.type === "enum" && !(Array.isArray(spec.values) && spec.values.length)) {
      return `Enum field "${name}" needs "values".`;
    }
  }
  if (value.key !== undefined && value.key !== null) {
    if (!Array.isArray(value.key) || !value.key.length) return "\"key\" is a list of field names.";
    const unknown = value.key.filter((k) => !(k in value.fields));
    if (unknown.length) return `Key field ${unknown.map((k) => `"${k}"`).join(", ")} is not among the fields.`;
  }
  for (const [column, target] of Object.entries(value.columns || {})) {
    if (!(target in value.fields)) return `Column "${column}" maps to "${target}", which is not a field.`;
  }
  return null;
}

export function ItemTypePage({ me, params }) {
  const creating = params.name === NEW;
  const [itemType, setItemType] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [name, setName] = useState("");
  const [text, setText] = useState(creating ? JSON.stringify(TEMPLATE, null, 2) : "");
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = `${creating ? "New item type" : params.name} — Item types — Sluice console`;
    if (creating) return;
    api(`/v1/item-types/${encodeURIComponent(params.name)}`)
      .then((t) => { setItemType(t); setText(JSON.stringify(editableDefinition(t), null, 2)); })
      .catch(setLoadError);
  }, [params.name]);

  if (loadError) {
    return html`<h1>${loadError.status === 404 ? "Item type not found" : "Item type"}</h1>
      <${ErrorMessage} error=${loadError} /><p><a href="${BASE}/item-types">Back to the item types</a></p>`;
  }
  if (!creating && !itemType) return html`<h1>${params.name}</h1><p class="loading">Loading…</p>`;

  const problem = text.trim() ? checkSchema(text) : "Enter the schema.";
  const nameProblem = creating && name && !NAME.test(name) ? "Names match [A-Za-z][A-Za-z0-9_-]{0,63}." : null;
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    setSaved(null);
    const target = creating ? name.trim() : itemType.itemType;
    if (!target) { setError("Enter a name."); return; }
    let body;
    try { body = JSON.parse(text); } catch (exc) { setError(`Not valid JSON: ${exc.message}`); return; }
    setBusy(true);
    try {
      const stored = await api(`/v1/item-types/${encodeURIComponent(target)}`, { method: "PUT", body });
      window.dispatchEvent(new Event("sluice:item-types-changed"));
      if (creating) { navigate(`${BASE}/item-types/${encodeURIComponent(stored.itemType)}`); return; }
      setItemType(stored);
      setText(JSON.stringify(editableDefinition(stored), null, 2));
      setSaved(`Saved: version ${stored.version}.`);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <p class="breadcrumbs"><a href="${BASE}/item-types">Item types</a> / ${creating ? "new" : itemType.itemType}</p>
    <h1>${creating ? "New item type" : itemType.itemType}</h1>
    ${!creating && html`<${Fields} itemType=${itemType} />
      <p><a class="button" href="${BASE}/new-import?itemType=${encodeURIComponent(itemType.itemType)}">Import into ${itemType.itemType}…</a></p>`}
    <form class="card form" onSubmit=${save} novalidate>
      <h2>${creating ? "Schema" : "Edit the schema"}</h2>
      ${creating && html`<div class="field">
        <label for="item-type-name">Name</label>
        <input id="item-type-name" value=${name} maxlength="64" aria-invalid=${nameProblem ? "true" : undefined}
          aria-describedby="item-type-name-hint" onInput=${(e) => setName(e.target.value)} />
        <p class="hint" id="item-type-name-hint">${nameProblem || "Letters, digits, _ and -, starting with a letter."}</p>
      </div>`}
      <div class="field">
        <label for="item-type-schema">Schema (JSON)</label>
        <textarea id="item-type-schema" rows="16" spellcheck="false" class="code" value=${text}
          aria-invalid=${problem ? "true" : undefined} aria-describedby="item-type-schema-check"
          onInput=${(e) => setText(e.target.value)}></textarea>
        <p id="item-type-schema-check" class=${problem ? "error-text" : "hint"} aria-live="polite">${problem ||
          "Looks valid. Types: string, integer, decimal, boolean, date, datetime, email, enum."}</p>
      </div>
      <${ErrorMessage} error=${error} />
      ${saved && html`<p class="success" role="status">${saved}</p>`}
      <${Guarded} me=${me} permission="schemas:write" type="submit" className="primary" disabled=${busy}>
        ${creating ? "Create item type" : "Save schema"}<//>
    </form>`;
}

function Fields({ itemType }) {
  const rules = (spec) => {
    const parts = [];
    if (spec.minLength != null) parts.push(`at least ${spec.minLength} characters`);
    if (spec.maxLength != null) parts.push(`at most ${spec.maxLength} characters`);
    if (spec.min != null) parts.push(`min ${spec.min}`);
    if (spec.max != null) parts.push(`max ${spec.max}`);
    if (spec.values) parts.push(`one of ${spec.values.join(", ")}`);
    if (spec.dateFormat) parts.push(`format ${spec.dateFormat}`);
    return parts.join("; ") || "—";
  };
  const columns = Object.entries(itemType.columns || {});
  return html`<section aria-labelledby="fields-heading">
    <h2 id="fields-heading">Fields</h2>
    <p>Version ${itemType.version}, changed <${Time} iso=${itemType.updatedAt} />. Key:${" "}${(itemType.key || []).length ? html`<strong>${itemType.key.join(" | ")}</strong>` : "none (every row creates a record)"}.</p>
    <div class="table-wrap"><table>
      <caption class="visually-hidden">Fields of ${itemType.itemType}</caption>
      <thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Rules</th></tr></thead>
      <tbody>${Object.entries(itemType.fields || {}).map(([name, spec]) => html`<tr>
        <td><code>${name}</code></td><td>${spec.type}</td>
        <td>${spec.required || (itemType.key || []).includes(name) ? "yes" : "no"}</td><td>${rules(spec)}</td></tr>`)}</tbody>
    </table></div>
    ${columns.length > 0 && html`<h3>Column headers mapped to fields</h3>
      <ul class="plain">${columns.map(([source, target]) => html`<li><code>${source}</code> → <code>${target}</code></li>`)}</ul>`}
  </section>`;
}
