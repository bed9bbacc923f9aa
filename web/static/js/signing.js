// The signing panel of a signing-ceremony room (template: _signing_panel.html; API:
// expo/signing/api.py). It reads the ceremony (documents, parties, who signed what), and for the
// party this page signs for (its signing link's `party`, or the signed-in account named as a
// party) offers each unsigned document's form: typed legal name and explicit consent. Errors show
// beside their field. Every signature, anyone's, arrives on the room's channel (re-dispatched by
// room.js as "expo:channel-event") and the panel reads the ceremony again.

import { fetchJson, oneAtATime } from "./api.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const t = JSON.parse(document.getElementById("signing-strings").textContent);
const party = new URLSearchParams(window.location.search).get("party") || "";
const api = `/api/signing/rooms/${config.room}`;
const panel = document.getElementById("signing-panel");
const list = document.getElementById("signing-documents");
const progress = document.getElementById("signing-progress");
const you = document.getElementById("signing-you");
const certificate = document.getElementById("signing-certificate");
const template = document.getElementById("signing-form-template");
let state = null;

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

const ERRORS = {
  "signing.name_mismatch": ["name", "nameMismatch"],
  "signing.consent_required": ["consent", "consentRequired"],
  "signing.document_changed": ["form", "changed"],
  "signing.already_signed": ["form", "already"],
};

function showError(form, where, text) {
  for (const node of form.querySelectorAll("[data-error]")) {
    const mine = node.dataset.error === where;
    node.hidden = !mine;
    node.textContent = mine ? text : "";
  }
  const input = form.querySelector(`[data-field="${where}"]`);
  for (const field of form.querySelectorAll("[data-field]")) field.removeAttribute("aria-invalid");
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

function signForm(document_) {
  const form = template.content.firstElementChild.cloneNode(true);
  const id = `sign-${document_.id}`;
  form.id = id;
  for (const label of form.querySelectorAll("label[data-for]")) {
    label.htmlFor = `${id}-${label.dataset.for}`;
  }
  for (const field of form.querySelectorAll("[data-field]")) field.id = `${id}-${field.dataset.field}`;
  form.querySelector('[data-hint="name"]').textContent = fill(t.namedAs, { name: state.you.signer_name });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const consent = form.elements.consent.checked;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await fetchJson(`${api}/signatures`, {
        method: "POST",
        body: { key: config.key, party, document_id: document_.id, name, consent },
      });
      await load();
    } catch (error) {
      const [where, text] = ERRORS[error.code] || ["form", "failed"];
      showError(form, where, t[text]);
      button.disabled = false;
    }
  });
  return form;
}

function documentItem(document_) {
  const item = document.createElement("li");
  item.className = "signing-document";
  item.dataset.document = document_.id;
  const title = document.createElement("p");
  const link = document.createElement("a");
  link.href = document_.url;
  link.textContent = document_.name;
  link.title = t.download;
  title.append(link);
  const hash = document.createElement("p");
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = "SHA-256 ";
  const code = document.createElement("code");
  code.className = "sha256";
  code.textContent = document_.sha256;
  hash.append(label, code);
  const parties = document.createElement("ul");
  parties.className = "signing-parties";
  for (const named of state.parties) {
    const signed = named.signed.includes(document_.id);
    const entry = document.createElement("li");
    entry.dataset.party = named.id;
    entry.dataset.signed = String(signed);
    entry.textContent = `${named.party} · ${named.signer_name} · ${signed ? t.signed : t.waiting}`;
    parties.append(entry);
  }
  item.append(title, hash, parties);
  if (state.you) {
    const mine = state.parties.find((named) => named.id === state.you.party_id);
    if (mine && mine.signed.includes(document_.id)) {
      const done = document.createElement("p");
      done.className = "signing-done";
      done.textContent = t.youSigned;
      item.append(done);
    } else {
      item.append(signForm(document_));
    }
  }
  return item;
}

function render() {
  const empty = !state.documents.length || !state.parties.length;
  panel.dataset.state = state.complete ? "complete" : empty ? "empty" : "open";
  progress.textContent = state.complete
    ? t.complete
    : empty
      ? t.empty
      : fill(t.progress, { signed: state.signed, needed: state.needed });
  you.hidden = false;
  you.textContent = state.you
    ? fill(t.you, { party: state.you.party, name: state.you.signer_name })
    : t.observer;
  // Keep a half-typed form: only documents whose state changed are drawn again.
  const drawn = new Map([...list.children].map((item) => [item.dataset.document, item]));
  const next = state.documents.map((document_) => {
    const key = String(document_.id);
    const old = drawn.get(key);
    const signedBy = state.parties.filter((named) => named.signed.includes(document_.id)).map((n) => n.id);
    const stamp = `${document_.sha256}:${signedBy.join(",")}:${state.parties.length}`;
    if (old && old.dataset.stamp === stamp) return old;
    const fresh = documentItem(document_);
    fresh.dataset.stamp = stamp;
    return fresh;
  });
  list.replaceChildren(...next);
  certificate.hidden = !state.certificate_url || state.signed === 0;
  certificate.href = state.certificate_url || "#";
}

// One read at a time; a signature heard during a read brings one more read after it.
const load = oneAtATime(async () => {
  try {
    const query = new URLSearchParams({ key: config.key });
    if (party) query.set("party", party);
    state = await fetchJson(`${api}?${query}`);
    render();
  } catch {
    // The room ended or the network failed: the room's own status line says so.
  }
});

document.addEventListener("expo:channel-event", (event) => {
  const type = (event.detail || {}).type;
  if (type === "signature" || type === "ceremony") load();
});
load();
