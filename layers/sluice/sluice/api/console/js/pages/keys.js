// API keys: create one (its secret shown once), list them, revoke one.
import { ErrorMessage, Guarded, PERMISSIONS, Time, api, html, lacking, useEffect, useState } from "../lib.js";

export function KeysPage({ me }) {
  const denied = lacking(me, "keys:admin");
  const [keys, setKeys] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState(["imports:read"]);
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(null);
  const [copied, setCopied] = useState(false);

  const load = () => api("/v1/api-keys").then((data) => { setKeys(data.items || []); setLoadError(null); }).catch(setLoadError);
  useEffect(() => { document.title = "API keys — Sluice console"; if (!denied) load(); }, []);

  const toggle = (permission) => (event) => setPermissions(event.target.checked
    ? [...permissions, permission] : permissions.filter((p) => p !== permission));

  const create = async (event) => {
    event.preventDefault();
    setError(null);
    setCreated(null);
    if (!permissions.length) { setError("Choose at least one permission."); return; }
    setBusy(true);
    try {
      const key = await api("/v1/api-keys", { method: "POST", body: { name: name.trim(), permissions } });
      setCreated(key);
      setCopied(false);
      setName("");
      load();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (keyId) => {
    setError(null);
    try {
      await api(`/v1/api-keys/${encodeURIComponent(keyId)}`, { method: "DELETE" });
      setConfirming(null);
      load();
    } catch (exc) {
      setError(exc);
    }
  };
  const copy = async () => {
    try { await navigator.clipboard.writeText(created.key); setCopied(true); } catch { setCopied(false); }
  };

  return html`
    <h1>API keys</h1>
    ${created && html`<div class="card secret" role="status" aria-labelledby="secret-heading">
      <h2 id="secret-heading">New key${created.name ? ` “${created.name}”` : ""}</h2>
      <p><strong>Copy it now: this is the only time the key is shown.</strong></p>
      <p><label for="new-key-secret">Secret key</label>
        <input id="new-key-secret" class="mono wide" readonly value=${created.key} onFocus=${(e) => e.target.select()} /></p>
      <div class="button-row">
        <button type="button" onClick=${copy}>${copied ? "Copied" : "Copy key"}</button>
        <button type="button" class="link-button" onClick=${() => setCreated(null)}>Done</button>
      </div>
    </div>`}
    <form class="card form" onSubmit=${create} novalidate>
      <h2>New key</h2>
      <div class="field">
        <label for="key-name">Name</label>
        <input id="key-name" value=${name} maxlength="100" placeholder="nightly sync" onInput=${(e) => setName(e.target.value)} />
      </div>
      <fieldset>
        <legend>Permissions</legend>
        ${Object.entries(PERMISSIONS).map(([permission, what]) => html`<div class="check">
          <input type="checkbox" id=${`perm-${permission}`} checked=${permissions.includes(permission)}
            onChange=${toggle(permission)} />
          <label for=${`perm-${permission}`}><code>${permission}</code></label> <span class="hint">${what}</span>
        </div>`)}
      </fieldset>
      <${ErrorMessage} error=${error} />
      <${Guarded} me=${me} permission="keys:admin" type="submit" className="primary" disabled=${busy}>Create key<//>
    </form>
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">Keys of this tenant</h2>
      ${denied ? html`<p class="reason" role="note">${denied}</p>` : html`
        <${ErrorMessage} error=${loadError} />
        ${keys === null && !loadError && html`<p class="loading">Loading keys…</p>`}
        ${keys && html`<div class="table-wrap"><table>
          <caption class="visually-hidden">API keys</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Key ID</th><th scope="col">Permissions</th>
            <th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>${keys.map((k) => html`<tr key=${k.keyId} class=${k.revoked ? "revoked" : ""}>
            <td>${k.name || html`<span class="muted">(no name)</span>`}${me && me.keyId === k.keyId ? html` <span class="tag">this key</span>` : ""}</td>
            <td class="mono">${k.keyId}</td>
            <td>${(k.permissions || []).join(", ")}</td>
            <td><${Time} iso=${k.createdAt} /></td>
            <td>${k.revoked ? html`revoked <${Time} iso=${k.revokedAt} />` : "active"}</td>
            <td>${k.revoked ? "" : confirming === k.keyId ? html`<span class="confirm">Revoke? It stops working at once.${" "}
                <button type="button" class="danger" ref=${(el) => el && el.focus()} onClick=${() => revoke(k.keyId)}>Yes, revoke ${k.name || k.keyId}</button>
                <button type="button" class="link-button" onClick=${() => setConfirming(null)}>Keep</button></span>`
              : html`<button type="button" onClick=${() => setConfirming(k.keyId)}
                  aria-label=${`Revoke key ${k.name || k.keyId}`}>Revoke</button>`}</td>
          </tr>`)}</tbody>
        </table></div>`}`}
    </section>`;
}
