// Webhooks: register an endpoint (its signing secret shown once), see each endpoint's state, change its events,
// turn it off and on, rotate its secret, delete it, and read its delivery log (every attempt) with redelivery.
import {
  BASE, ErrorMessage, Guarded, Pager, Time, api, formatDuration, html, lacking, navigate, query,
  useCursorPages, useEffect, useState,
} from "../lib.js";

const PERMISSION = "webhooks:admin";
export const EVENT_TYPES = {
  "job.accepted": "a job was accepted",
  "job.completed": "a job completed",
  "job.failed": "a job failed",
  "job.rejected": "a job was rejected",
  "job.canceled": "a job was canceled",
  "job.reverted": "an import was reverted",
  "export.completed": "an export is ready",
  "export.failed": "an export failed",
  "webhook.disabled": "an endpoint was disabled after failing",
};

function EventChoice({ idPrefix, chosen, onChange }) {
  const all = chosen.includes("*");
  const toggle = (type) => (event) => onChange(event.target.checked
    ? [...chosen.filter((t) => t !== "*"), type] : chosen.filter((t) => t !== type));
  return html`<fieldset>
    <legend>Events</legend>
    <div class="check">
      <input type="checkbox" id=${`${idPrefix}-all`} checked=${all}
        onChange=${(e) => onChange(e.target.checked ? ["*"] : [])} />
      <label for=${`${idPrefix}-all`}>All events</label> <span class="hint">including types added later</span>
    </div>
    ${Object.entries(EVENT_TYPES).map(([type, what]) => html`<div class="check">
      <input type="checkbox" id=${`${idPrefix}-${type}`} checked=${all || chosen.includes(type)} disabled=${all}
        onChange=${toggle(type)} />
      <label for=${`${idPrefix}-${type}`}><code>${type}</code></label> <span class="hint">${what}</span>
    </div>`)}
  </fieldset>`;
}

function Secret({ shown, onDone }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(shown.secret); setCopied(true); } catch { setCopied(false); }
  };
  return html`<div class="card secret" role="status" aria-labelledby="webhook-secret-heading">
    <h2 id="webhook-secret-heading">Signing secret of ${shown.url}</h2>
    <p><strong>Copy it now: this is the only time the secret is shown.</strong> Your receiver checks each
      delivery's <code>webhook-signature</code> with it (Standard Webhooks).</p>
    <p><label for="webhook-secret">Signing secret</label>
      <input id="webhook-secret" class="mono wide" readonly value=${shown.secret} onFocus=${(e) => e.target.select()} /></p>
    ${shown.previousSecretExpiresAt && html`<p class="hint">The previous secret also signs deliveries until
      <${Time} iso=${shown.previousSecretExpiresAt} />.</p>`}
    <div class="button-row">
      <button type="button" onClick=${copy}>${copied ? "Copied" : "Copy secret"}</button>
      <button type="button" class="link-button" onClick=${onDone}>Done</button>
    </div>
  </div>`;
}

function endpointState(webhook) {
  if (webhook.enabled) return "enabled";
  return html`disabled <${Time} iso=${webhook.disabledAt} />${webhook.disabledReason ? `: ${webhook.disabledReason}` : ""}`;
}

export function WebhooksPage({ me }) {
  const denied = lacking(me, PERMISSION);
  const [webhooks, setWebhooks] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState(["*"]);
  const [description, setDescription] = useState("");
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () => api("/v1/webhooks").then((data) => { setWebhooks(data.items || []); setLoadError(null); })
    .catch(setLoadError);
  useEffect(() => { document.title = "Webhooks — Sluice console"; if (!denied) load(); }, []);

  const create = async (event) => {
    event.preventDefault();
    setError(null);
    setCreated(null);
    if (!url.trim()) { setError("Enter the endpoint's URL."); return; }
    if (!events.length) { setError("Choose at least one event."); return; }
    setBusy(true);
    try {
      const body = { url: url.trim(), events };
      if (description.trim()) body.description = description.trim();
      setCreated(await api("/v1/webhooks", { method: "POST", body }));
      setUrl("");
      setDescription("");
      load();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  return html`
    <h1>Webhooks</h1>
    ${created && html`<${Secret} shown=${created} onDone=${() => setCreated(null)} />`}
    <form class="card form" onSubmit=${create} novalidate>
      <h2>New endpoint</h2>
      <div class="field">
        <label for="webhook-url">Endpoint URL</label>
        <input id="webhook-url" type="url" class="wide" value=${url} maxlength="2048"
          placeholder="https://example.com/sluice-events" onInput=${(e) => setUrl(e.target.value)} />
        <span class="hint">HTTPS on a public address (the local stack also allows http://127.0.0.1).</span>
      </div>
      <div class="field">
        <label for="webhook-description">Description</label>
        <input id="webhook-description" value=${description} maxlength="500"
          onInput=${(e) => setDescription(e.target.value)} />
      </div>
      <${EventChoice} idPrefix="new-event" chosen=${events} onChange=${setEvents} />
      <${ErrorMessage} error=${error} />
      <${Guarded} me=${me} permission=${PERMISSION} type="submit" className="primary" disabled=${busy}>Add endpoint<//>
    </form>
    <section aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">Endpoints of this tenant</h2>
      ${denied ? html`<p class="reason" role="note">${denied}</p>` : html`
        <${ErrorMessage} error=${loadError} />
        ${webhooks === null && !loadError && html`<p class="loading">Loading endpoints…</p>`}
        ${webhooks && !webhooks.length && html`<p>No endpoints yet.</p>`}
        ${webhooks && webhooks.length > 0 && html`<div class="table-wrap"><table>
          <caption class="visually-hidden">Webhook endpoints</caption>
          <thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th>
            <th scope="col">Last success</th><th scope="col">Last failure</th></tr></thead>
          <tbody>${webhooks.map((w) => html`<tr key=${w.webhookId} class=${w.enabled ? "" : "revoked"}>
            <td><a href=${`${BASE}/webhooks/${encodeURIComponent(w.webhookId)}`}>${w.url}</a>
              ${w.description && html`<div class="hint">${w.description}</div>`}</td>
            <td>${w.events.join(", ")}</td>
            <td>${endpointState(w)}</td>
            <td><${Time} iso=${w.lastSuccessAt} /></td>
            <td><${Time} iso=${w.lastFailureAt} /></td>
          </tr>`)}</tbody>
        </table></div>`}`}
    </section>`;
}

function Deliveries({ webhookId, version, onRedelivered }) {
  const pages = useCursorPages(`${webhookId}:${version}`);
  const [state, setState] = useState({ items: null, nextCursor: null, error: null });
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    api(`/v1/webhooks/${encodeURIComponent(webhookId)}/deliveries${query({ limit: 20, cursor: pages.cursor })}`)
      .then((data) => live && setState({ items: data.items || [], nextCursor: data.nextCursor, error: null }))
      .catch((exc) => live && setState({ items: [], nextCursor: null, error: exc }));
    return () => { live = false; };
  }, [webhookId, version, pages.cursor]);
  const redeliver = async (deliveryId) => {
    setError(null);
    try {
      await api(`/v1/webhooks/${encodeURIComponent(webhookId)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
        { method: "POST" });
      onRedelivered(deliveryId);
    } catch (exc) {
      setError(exc);
    }
  };
  return html`<section aria-labelledby="deliveries-heading">
    <h2 id="deliveries-heading">Delivery log</h2>
    <${ErrorMessage} error=${state.error || error} />
    ${state.items === null && html`<p class="loading">Loading deliveries…</p>`}
    ${state.items && !state.items.length && !state.error && html`<p>No delivery attempts yet.</p>`}
    ${state.items && state.items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Delivery attempts, newest first</caption>
      <thead><tr><th scope="col">At</th><th scope="col">Event</th><th scope="col">Attempt</th>
        <th scope="col">Outcome</th><th scope="col">Duration</th><th scope="col">Next attempt</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${state.items.map((a) => html`<tr key=${`${a.deliveryId}:${a.attempt}`}>
        <td><${Time} iso=${a.at} /></td>
        <td><code>${a.type}</code><div class="hint mono">${a.eventId}</div></td>
        <td>${a.attempt}</td>
        <td class=${a.status === "succeeded" ? "" : "error-text"}>${a.status}${a.responseCode ? ` (${a.responseCode})` : ""}
          ${a.error && html`<div class="hint">${a.error}</div>`}</td>
        <td>${formatDuration(a.durationMs)}</td>
        <td><${Time} iso=${a.nextAttemptAt} /></td>
        <td><button type="button" onClick=${() => redeliver(a.deliveryId)}
          aria-label=${`Redeliver ${a.type} ${a.eventId}`}>Redeliver</button></td>
      </tr>`)}</tbody>
    </table></div>`}
    <${Pager} label="Delivery pages" hasPrevious=${pages.hasPrevious} hasNext=${!!state.nextCursor}
      onPrevious=${pages.previous} onNext=${() => pages.next(state.nextCursor)} />
  </section>`;
}

export function WebhookPage({ me, params }) {
  const { webhookId } = params;
  const denied = lacking(me, PERMISSION);
  const [webhook, setWebhook] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [events, setEvents] = useState([]);
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const [version, setVersion] = useState(0);

  const path = `/v1/webhooks/${encodeURIComponent(webhookId)}`;
  const take = (data) => { setWebhook(data); setEvents(data.events); setLoadError(null); };
  useEffect(() => {
    document.title = "Webhook — Sluice console";
    if (!denied) api(path).then(take).catch(setLoadError);
  }, [webhookId]);

  const act = async (request, done) => {
    setError(null);
    setNotice(null);
    try { done(await request()); } catch (exc) { setError(exc); }
  };
  const saveEvents = (event) => {
    event.preventDefault();
    if (!events.length) { setError("Choose at least one event."); return; }
    act(() => api(path, { method: "PATCH", body: { events } }), (data) => { take(data); setNotice("Events saved."); });
  };
  const setEnabled = (enabled) => act(() => api(path, { method: "PATCH", body: { enabled } }), (data) => {
    take(data);
    setNotice(enabled ? "Endpoint enabled." : "Endpoint disabled.");
  });
  const rotate = () => act(() => api(`${path}/rotate-secret`, { method: "POST" }), (data) => { take(data); setShown(data); });
  const remove = () => act(() => api(path, { method: "DELETE" }), () => navigate(`${BASE}/webhooks`));

  if (denied) return html`<h1>Webhook</h1><p class="reason" role="note">${denied}</p>`;
  if (loadError) {
    return html`<h1>Webhook</h1>${loadError.status === 404 ? html`<p role="alert">Webhook ${webhookId} not found.</p>`
      : html`<${ErrorMessage} error=${loadError} />`}<p><a href=${`${BASE}/webhooks`}>All webhooks</a></p>`;
  }
  if (!webhook) return html`<h1>Webhook</h1><p class="loading">Loading…</p>`;
  return html`
    <p><a href=${`${BASE}/webhooks`}>All webhooks</a></p>
    <h1>Webhook <span class="mono">${webhook.url}</span></h1>
    ${shown && html`<${Secret} shown=${shown} onDone=${() => setShown(null)} />`}
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    <${ErrorMessage} error=${error} />
    <dl class="details">${[
      ["ID", html`<span class="mono">${webhook.webhookId}</span>`],
      ["State", endpointState(webhook)],
      ["Description", webhook.description || "—"],
      ["Created", html`<${Time} iso=${webhook.createdAt} />`],
      ["Last success", html`<${Time} iso=${webhook.lastSuccessAt} />`],
      ["Last failure", html`<${Time} iso=${webhook.lastFailureAt} />`],
    ].map(([term, value]) => html`<div><dt>${term}</dt><dd>${value}</dd></div>`)}</dl>
    <div class="button-row">
      ${webhook.enabled ? html`<button type="button" onClick=${() => setEnabled(false)}>Disable endpoint</button>`
        : html`<button type="button" class="primary" onClick=${() => setEnabled(true)}>Enable endpoint</button>`}
      <button type="button" onClick=${rotate}>Rotate secret</button>
      ${confirming ? html`<span class="confirm">Delete this endpoint? Nothing more is sent to it.${" "}
          <button type="button" class="danger" ref=${(el) => el && el.focus()} onClick=${remove}>Yes, delete</button>
          <button type="button" class="link-button" onClick=${() => setConfirming(false)}>Keep</button></span>`
        : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Delete endpoint</button>`}
    </div>
    <form class="card form" onSubmit=${saveEvents} novalidate>
      <${EventChoice} idPrefix="edit-event" chosen=${events} onChange=${setEvents} />
      <button type="submit">Save events</button>
    </form>
    <${Deliveries} webhookId=${webhookId} version=${version}
      onRedelivered=${() => { setNotice("Redelivery queued."); setVersion((n) => n + 1); }} />`;
}
