// Checking one value against a field of an item type as it is typed, with the API's own messages (the API checks
// again: this only spares a round trip). Mirrors the coercers of sluice/models/schemas.py.

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const TRUE = new Set(["true", "t", "yes", "y", "1"]);
const FALSE = new Set(["false", "f", "no", "n", "0"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function bounds(spec, value) {
  if (spec.min != null && value < Number(spec.min)) return `must be at least ${spec.min}`;
  if (spec.max != null && value > Number(spec.max)) return `must be at most ${spec.max}`;
  return null;
}

function validDate(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [, y, m, d] = match.map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

// -> null when the value is acceptable, else the message the API would give
export function checkValue(spec, required, raw) {
  const text = raw == null ? "" : String(raw).trim();
  if (!text) return required ? "is required" : null;
  switch (spec.type) {
    case "string": {
      const length = String(raw).length;
      const limit = spec.maxLength || 10000;
      if (length > limit) return `is ${length} characters long; at most ${limit} allowed`;
      if (spec.minLength && length < spec.minLength) return `is ${length} characters long; at least ${spec.minLength} required`;
      return null;
    }
    case "integer":
      if (!NUMBER.test(text) || !Number.isInteger(Number(text))) return "expected an integer";
      return bounds(spec, Number(text));
    case "decimal":
      if (!NUMBER.test(text)) return "expected a decimal number";
      return bounds(spec, Number(text));
    case "boolean":
      return TRUE.has(text.toLowerCase()) || FALSE.has(text.toLowerCase()) ? null
        : "expected a boolean (true/false, yes/no, 1/0)";
    case "date":
      return validDate(text.length > 10 && "T ".includes(text[10]) ? text.slice(0, 10) : text) ? null
        : "expected a date as YYYY-MM-DD";
    case "datetime":
      return /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.test(text)
        && !Number.isNaN(Date.parse(text.replace(" ", "T"))) ? null
        : "expected an ISO-8601 date-time such as 2024-05-01T13:45:00Z";
    case "email":
      return text.length <= (spec.maxLength || 254) && EMAIL.test(text) ? null : "is not a valid email address";
    case "enum": {
      const values = spec.values || [];
      const folded = text.toLowerCase();
      return values.some((v) => v === text || v.toLowerCase() === folded) ? null
        : `must be one of: ${values.slice(0, 20).join(", ")}${values.length > 20 ? ", ..." : ""}`;
    }
    default:
      return null;
  }
}

// All the rows of a CSV text (RFC 4180: quoted fields may hold commas, quotes and newlines).
export function parseCsv(text, delimiter = ",") {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 1; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") {
      quoted = true;
    } else if (ch === delimiter) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += ch;
    }
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}
