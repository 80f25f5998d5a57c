// Shared pieces of the console: the API client, the key's session, permissions, navigation and small widgets.
import { h, render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);
export { render, useCallback, useEffect, useRef, useState };

export const BASE = "/console";
const KEY_STORAGE = "sluice.apiKey";

// --- the key: sessionStorage only (this browser tab), never localStorage or a cookie ------------------------

export const session = {
  get key() { return sessionStorage.getItem(KEY_STORAGE); },
  set key(value) {
    if (value) {
      sessionStorage.setItem(KEY_STORAGE, value);
    } else {
      sessionStorage.removeItem(KEY_STORAGE);
    }
  },
};

// --- the API: same origin, relative URLs, errors as {"error": {"code", "message"}} ---------------------------

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, { method = "GET", body, key, raw, contentType } = {}) {
  const headers = { Accept: "application/json" };
  const usedKey = key === undefined ? session.key : key;
  if (usedKey) headers.Authorization = `Bearer ${usedKey}`;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (raw !== undefined) {
    headers["Content-Type"] = contentType;
    payload = raw;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  } catch (exc) {
    throw new ApiError(0, "network", `The API could not be reached (${exc.message}).`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = data && data.error;
    const message = (error && error.message) || (data && data.message) || `${response.status} ${response.statusText}`;
    if (response.status === 401 && key === undefined && usedKey) {
      window.dispatchEvent(new CustomEvent("sluice:unauthorized", { detail: message }));
    }
    throw new ApiError(response.status, (error && error.code) || `http_${response.status}`, message);
  }
  return data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// --- permissions: from GET /v1/whoami; null means "unknown" (an API without whoami): the API itself decides ----

export function allows(me, permission) {
  if (!me || !Array.isArray(me.permissions)) return true;
  return me.permissions.includes("*") || me.permissions.includes(permission);
}

export function lacking(me, permission) {
  if (allows(me, permission)) return null;
  const held = me.permissions.length ? me.permissions.join(", ") : "none";
  return `Needs the ${permission} permission; this key has: ${held}.`;
}

// --- navigation: history API under /console/ --------------------------------------------------------------

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new Event("sluice:navigate"));
}

export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = message; }, 50);
}

// --- hooks ---------------------------------------------------------------------------------------------------

// Calls `load` now and then every `every(result)` milliseconds (null: stop) while the component is shown.
export function usePolling(load, every, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    let timer = null;
    let stopped = false;
    const tick = async () => {
      let delay;
      try {
        const data = await load();
        if (stopped || mine !== generation.current) return;
        setState({ data, error: null, loading: false });
        delay = every(data);
      } catch (error) {
        if (stopped || mine !== generation.current) return;
        setState((previous) => ({ data: previous.data, error, loading: false }));
        delay = error.status === 404 || error.status === 401 || error.status === 403 ? null : 5000;
      }
      if (delay != null && !stopped) timer = setTimeout(tick, document.hidden ? Math.max(delay, 5000) : delay);
    };
    setState((previous) => ({ ...previous, loading: true }));
    tick();
    return () => { stopped = true; clearTimeout(timer); };
  }, deps);
  return state;
}

// --- formatting ------------------------------------------------------------------------------------------------

// A time as `2026-12-04 13:25` in the browser's time zone: year first, 24-hour, the same whatever the locale (a locale's
// short date, 12/4/26, reads two ways).
export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

// Every time the console shows: formatTime's text, the exact ISO time (as the API gave it) on hover.
export function Time({ iso }) {
  if (!iso) return "—";
  return html`<time datetime=${iso} title=${iso}>${formatTime(iso)}</time>`;
}

export function formatDuration(ms) {
  if (ms == null) return "—";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

export function formatBytes(bytes) {
  if (bytes == null) return "—";
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

export function statusClass(status) {
  return `status status-${String(status || "unknown").toLowerCase()}`;
}

// --- widgets ---------------------------------------------------------------------------------------------------

let ids = 0;
export function useId(prefix) {
  const id = useRef(null);
  if (id.current === null) id.current = `${prefix}-${++ids}`;
  return id.current;
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  const message = typeof error === "string" ? error : error.message;
  return html`<p class="error" role="alert">${message}</p>`;
}

export function Status({ status }) {
  return html`<span class=${statusClass(status)}>${status}</span>`;
}

// A button that is disabled, with the reason next to it, when the key lacks `permission`.
export function Guarded({ me, permission, children, disabled = false, onClick, type = "button", className = "" }) {
  const reasonId = useId("reason");
  const reason = lacking(me, permission);
  return html`<span class="guarded">
    <button type=${type} class=${className} onClick=${onClick} disabled=${disabled || !!reason}
      aria-describedby=${reason ? reasonId : undefined}>${children}</button>
    ${reason && html`<span class="reason" id=${reasonId}>${reason}</span>`}
  </span>`;
}

export function Link({ href, children, ...rest }) {
  return html`<a href=${href} ...${rest}>${children}</a>`;
}

export function Progress({ value, max, label }) {
  const known = max != null && max > 0;
  const percent = known ? Math.min(100, Math.round((value / max) * 100)) : null;
  return html`<span class="progress-wrap">
    <progress aria-label=${label} value=${known ? value : undefined} max=${known ? max : undefined}></progress>
    <span class="progress-text">${known ? `${value} / ${max} (${percent}%)` : `${value} rows`}</span>
  </span>`;
}

export function Pager({ hasPrevious, hasNext, onPrevious, onNext, label }) {
  if (!hasPrevious && !hasNext) return null;
  return html`<nav class="pager" aria-label=${label}>
    <button type="button" onClick=${onPrevious} disabled=${!hasPrevious}>Previous page</button>
    <button type="button" onClick=${onNext} disabled=${!hasNext}>Next page</button>
  </nav>`;
}

// Pages through a cursor-paged listing: `cursor` is the current page's, `stack` the earlier ones.
export function useCursorPages(resetKey) {
  const [pages, setPages] = useState({ cursor: null, stack: [] });
  useEffect(() => setPages({ cursor: null, stack: [] }), [resetKey]);
  return {
    cursor: pages.cursor,
    hasPrevious: pages.stack.length > 0,
    next: (nextCursor) => setPages((p) => ({ cursor: nextCursor, stack: [...p.stack, p.cursor] })),
    previous: () => setPages((p) => ({ cursor: p.stack[p.stack.length - 1], stack: p.stack.slice(0, -1) })),
  };
}

export const STATUSES = ["Initialized", "Accepted", "Processing", "Completed", "Rejected", "Canceling", "Canceled",
  "Failed"];
export const PERMISSIONS = {
  "imports:read": "see jobs, their errors and result files",
  "imports:write": "start, cancel, retry and commit imports",
  "exports:read": "watch exports and download them",
  "exports:write": "start exports",
  "records:read": "read records",
  "records:write": "update and delete records",
  "schemas:write": "create and change item types",
  "keys:admin": "create, list and revoke API keys",
  "webhooks:admin": "register webhook endpoints and read their delivery log",
  "*": "everything",
};

export function useItemTypes(me) {
  const [state, setState] = useState({ items: null, error: null });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const changed = () => setVersion((n) => n + 1);
    window.addEventListener("sluice:item-types-changed", changed);
    return () => window.removeEventListener("sluice:item-types-changed", changed);
  }, []);
  useEffect(() => {
    let live = true;
    api("/v1/item-types")
      .then((data) => live && setState({ items: data.items || [], error: null }))
      .catch((error) => live && setState({ items: [], error }));
    return () => { live = false; };
  }, [me && me.keyId, version]);
  return state;
}
