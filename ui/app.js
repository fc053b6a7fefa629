// credbroker's web page: lists the signed-in user's services (GET /api/v1/user/credentials),
// links to each connect route, disconnects (DELETE), and reports the connect flow's outcome, which
// the callback sends back in the query (credential_server + credential_connected=1 or
// credential_error=<label>). The front server authenticates the browser; this page holds no token.
// No framework; served with a CSP that allows only this file as script ('self').
"use strict";

// One readable sentence per callback label (README, "callback").
const ERRORS = {
  access_denied: "you declined access",
  invalid_scope: "the service refused the requested permissions",
  server_error: "the service had an error",
  temporarily_unavailable: "the service is temporarily unavailable",
  interaction_required: "the service needs you to sign in again",
  login_required: "the service needs you to sign in again",
  account_selection_required: "the service needs you to choose an account",
  consent_required: "the service needs your consent",
  authorization_denied: "the service refused the authorization",
  invalid_state: "the sign-in link expired or was already used",
  user_mismatch: "the sign-in was started by another user",
  issuer_mismatch: "the answer came from an unexpected server",
  connect_failed: "the service did not issue a credential",
  rate_limited: "too many attempts; wait a minute and try again",
  unavailable: "the credential store is unavailable",
};

const STATUS_TEXT = {
  connected: "connected",
  expired: "expired",
  not_connected: "not connected",
  unavailable: "unavailable",
};

function showBanner(kind, text) {
  const banner = document.getElementById("banner");
  document.getElementById("banner-text").textContent = text;
  banner.className = `banner ${kind}`;
  banner.setAttribute("role", kind === "error" ? "alert" : "status");
  banner.hidden = false;
}

function outcomeFromQuery() {
  const q = new URLSearchParams(location.search);
  const server = q.get("credential_server");
  if (!server) return;
  if (q.get("credential_connected") === "1") {
    showBanner("ok", `Connected to ${server}.`);
  } else {
    const label = q.get("credential_error") || "unknown";
    showBanner("error", `Could not connect to ${server}: ${ERRORS[label] || label}.`);
  }
  // A reload must not announce the outcome again.
  history.replaceState(null, "", location.pathname);
}

function localTime(iso) {
  const t = document.createElement("time");
  if (!iso) return t;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return t;
  t.dateTime = iso;
  t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  t.title = iso;
  return t;
}

function cell(child) {
  const td = document.createElement("td");
  if (typeof child === "string") td.textContent = child;
  else td.append(child);
  return td;
}

async function disconnect(server) {
  let r;
  try {
    r = await fetch(`/api/v1/user/credentials/${encodeURIComponent(server)}`, {
      method: "DELETE",
      credentials: "same-origin",
    });
  } catch {
    showBanner("error", `Could not disconnect ${server}: the server did not answer.`);
    return;
  }
  if (r.ok) {
    showBanner("ok", `Disconnected from ${server}.`);
  } else {
    const body = await r.json().catch(() => ({}));
    showBanner("error", `Could not disconnect ${server}: ${body.message || r.statusText}.`);
  }
  await load();
}

function row(c) {
  const tr = document.createElement("tr");
  tr.dataset.server = c.server;
  const name = document.createElement("th");
  name.scope = "row";
  name.textContent = c.server;
  tr.append(name);
  const badge = document.createElement("span");
  badge.className = `badge ${STATUS_TEXT[c.status] ? c.status : "unavailable"}`;
  badge.textContent = STATUS_TEXT[c.status] || c.status;
  tr.append(cell(badge), cell(localTime(c.expires_at)));
  const action = document.createElement("td");
  if (c.connect_path) {
    const a = document.createElement("a");
    a.className = "button";
    a.href = c.connect_path;
    a.textContent = "Connect";
    a.setAttribute("aria-label", `Connect ${c.server}`);
    action.append(a);
  } else if (c.status === "connected" || c.status === "expired") {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = "Disconnect";
    b.setAttribute("aria-label", `Disconnect ${c.server}`);
    b.addEventListener("click", () => disconnect(c.server));
    action.append(b);
  } else if (c.mode === "token_exchange" || c.mode === "entra_obo") {
    // Obtained from the user's sign-in when first needed: nothing to click.
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = "obtained when first used";
    action.append(hint);
  }
  tr.append(action);
  return tr;
}

async function load() {
  const rows = document.getElementById("rows");
  let r, body;
  try {
    r = await fetch("/api/v1/user/credentials", { credentials: "same-origin" });
    body = await r.json();
  } catch {
    rows.replaceChildren(message("The server did not answer; reload to try again."));
    return;
  }
  if (!r.ok) {
    rows.replaceChildren(message(body.message || r.statusText));
    return;
  }
  if (body.credentials.length === 0) {
    rows.replaceChildren(message("No services are configured."));
    return;
  }
  rows.replaceChildren(...body.credentials.map(row));
}

function message(text) {
  const tr = document.createElement("tr");
  const td = cell(text);
  td.colSpan = 4;
  tr.append(td);
  return tr;
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("banner-close").addEventListener("click", () => {
    document.getElementById("banner").hidden = true;
  });
  outcomeFromQuery();
  load();
});
