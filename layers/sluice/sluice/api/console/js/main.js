// The console's shell: sign in, the navigation, and the router over /console/… paths.
import { ApiError, BASE, announce, api, html, navigate, render, session, useEffect, useRef, useState } from "./lib.js";
import { JobsPage } from "./pages/jobs.js";
import { JobPage } from "./pages/job.js";
import { NewImportPage } from "./pages/new-import.js";
import { ItemTypePage, ItemTypesPage } from "./pages/item-types.js";
import { ExportsPage } from "./pages/exports.js";
import { KeysPage } from "./pages/keys.js";
import { WebhookPage, WebhooksPage } from "./pages/webhooks.js";

const NAV = [
  ["Jobs", `${BASE}/jobs`, (p) => p === `${BASE}/` || p === BASE || p.startsWith(`${BASE}/jobs`)],
  ["New import", `${BASE}/new-import`, (p) => p.startsWith(`${BASE}/new-import`)],
  ["Item types", `${BASE}/item-types`, (p) => p.startsWith(`${BASE}/item-types`)],
  ["Exports", `${BASE}/exports`, (p) => p.startsWith(`${BASE}/exports`)],
  ["Webhooks", `${BASE}/webhooks`, (p) => p.startsWith(`${BASE}/webhooks`)],
  ["API keys", `${BASE}/api-keys`, (p) => p.startsWith(`${BASE}/api-keys`)],
];

// Who the key is: GET /v1/whoami. An API without that route (404) is probed with a listing instead: a valid key
// is then signed in with unknown permissions (the API still answers 403 where the key may not act).
async function identify(key) {
  try {
    return await api("/v1/whoami", { key });
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  try {
    await api("/v1/jobs?limit=1", { key });
  } catch (error) {
    if (error.status !== 403) throw error;
  }
  return { tenant: null, keyId: null, name: null, permissions: null };
}

function SignIn({ onSignedIn, notice }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => { document.title = "Sign in — Sluice console"; input.current && input.current.focus(); }, []);
  const submit = async (event) => {
    event.preventDefault();
    const value = key.trim();
    if (!value) { setError("Enter an API key."); return; }
    setBusy(true);
    setError(null);
    try {
      const me = await identify(value);
      session.key = value;
      onSignedIn(me);
    } catch (exc) {
      setError(exc.status === 401 ? "Invalid API key" : exc.message);
      setBusy(false);
      input.current && input.current.focus();
    }
  };
  return html`<main id="main" class="signin" tabindex="-1">
    <h1><span class="brand-mark" aria-hidden="true">≋</span> Sluice console</h1>
    <form onSubmit=${submit} class="card" novalidate>
      <p>Sign in with an API key. It is kept for this browser tab only and forgotten when the tab closes.</p>
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      <label for="api-key">API key</label>
      <input id="api-key" ref=${input} type="password" autocomplete="off" spellcheck="false" value=${key}
        aria-invalid=${error ? "true" : undefined} aria-describedby=${error ? "signin-error" : undefined}
        onInput=${(e) => setKey(e.target.value)} />
      ${error && html`<p class="error" role="alert" id="signin-error">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
    <p class="muted"><a href="/v1/docs">API reference (Swagger UI)</a></p>
  </main>`;
}

function route(path) {
  const rest = path.slice(BASE.length).replace(/\/+$/, "");
  let match;
  if (rest === "" || rest === "/jobs") return { page: JobsPage };
  if ((match = rest.match(/^\/jobs\/([^/]+)$/))) return { page: JobPage, params: { jobId: decodeURIComponent(match[1]) } };
  if (rest === "/new-import") return { page: NewImportPage };
  if (rest === "/item-types") return { page: ItemTypesPage };
  if ((match = rest.match(/^\/item-types\/([^/]+)$/))) {
    return { page: ItemTypePage, params: { name: decodeURIComponent(match[1]) } };
  }
  if (rest === "/exports") return { page: ExportsPage };
  if (rest === "/api-keys") return { page: KeysPage };
  if (rest === "/webhooks") return { page: WebhooksPage };
  if ((match = rest.match(/^\/webhooks\/([^/]+)$/))) {
    return { page: WebhookPage, params: { webhookId: decodeURIComponent(match[1]) } };
  }
  return { page: NotFoundPage };
}

function NotFoundPage() {
  useEffect(() => { document.title = "Page not found — Sluice console"; }, []);
  return html`<h1>Page not found</h1><p><a href="${BASE}/jobs">Go to the jobs</a>.</p>`;
}

function Shell({ me, onSignOut, location }) {
  const { page: Page, params } = route(location.path);
  const main = useRef(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    if (main.current) main.current.focus({ preventScroll: false });
  }, [location.path]);
  const who = me.tenant ? html`tenant <strong>${me.tenant}</strong>${me.name ? html` · key <strong>${me.name}</strong>` : ""}`
    : html`signed in`;
  return html`
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="${BASE}/jobs"><span class="brand-mark" aria-hidden="true">≋</span> Sluice</a>
      <nav aria-label="Main">
        <ul>${NAV.map(([label, href, active]) => html`<li><a href=${href}
          aria-current=${active(location.path) ? "page" : undefined}>${label}</a></li>`)}</ul>
      </nav>
      <div class="who"><span>${who}</span>
        <button type="button" class="link-button" onClick=${onSignOut}>Sign out</button></div>
    </header>
    <main id="main" ref=${main} tabindex="-1">
      <${Page} key=${location.path} me=${me} params=${params || {}} search=${location.search} />
    </main>`;
}

function currentLocation() {
  return { path: window.location.pathname, search: new URLSearchParams(window.location.search) };
}

function App() {
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(!!session.key);
  const [notice, setNotice] = useState(null);
  const [location, setLocation] = useState(currentLocation);

  useEffect(() => {
    const update = () => setLocation(currentLocation());
    window.addEventListener("popstate", update);
    window.addEventListener("sluice:navigate", update);
    const expired = () => {
      session.key = null;
      setMe(null);
      setNotice("Your API key is no longer accepted (revoked?). Sign in again.");
    };
    window.addEventListener("sluice:unauthorized", expired);
    // Links inside the console move through history without reloading the page.
    const click = (event) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
          event.altKey) return;
      const anchor = event.target.closest && event.target.closest("a[href]");
      if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
      const url = new URL(anchor.href, window.location.href);
      if (url.origin !== window.location.origin || !(url.pathname === BASE || url.pathname.startsWith(`${BASE}/`))) {
        return;
      }
      if (url.pathname.startsWith(`${BASE}/swagger/`) || url.pathname.startsWith(`${BASE}/vendor/`)) return;
      // a link to a place on this page (#id) is the browser's to follow: it scrolls there
      if (url.hash && url.pathname === window.location.pathname && url.search === window.location.search) return;
      event.preventDefault();
      navigate(url.pathname + url.search);
    };
    document.addEventListener("click", click);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("sluice:navigate", update);
      window.removeEventListener("sluice:unauthorized", expired);
      document.removeEventListener("click", click);
    };
  }, []);

  useEffect(() => {
    if (!session.key) return;
    identify(session.key)
      .then((who) => setMe(who))
      .catch((error) => {
        if (error.status === 401) {
          session.key = null;
          setNotice("Your API key is no longer accepted (revoked?). Sign in again.");
        } else {
          setNotice(error.message);
        }
      })
      .finally(() => setChecking(false));
  }, []);

  if (checking) return html`<main id="main"><p class="loading">Loading the Sluice console…</p></main>`;
  if (!me) {
    return html`<${SignIn} notice=${notice} onSignedIn=${(who) => {
      setNotice(null);
      setMe(who);
      announce(`Signed in${who.tenant ? ` to tenant ${who.tenant}` : ""}`);
    }} />`;
  }
  const signOut = () => {
    session.key = null;
    setMe(null);
    setNotice("Signed out.");
  };
  return html`<${Shell} me=${me} location=${location} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById("app"));
export { ApiError };
