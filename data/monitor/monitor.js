// Minka worker monitor: loads the page strings (/api/i18n, chosen by the
// server from Accept-Language or ?lang=), then polls /api/status once a
// second and fills the page; the file list (/api/files) and the logs
// (/api/events) are fetched only when catalog_digest or events_serial
// change. Data is only ever set as textContent.
"use strict";

let T = {};
const key = () => sessionStorage.getItem("minka-monitor-key");
const $ = (id) => document.getElementById(id);

function t(name) { return T[name] || name; }

function applyStrings() {
  for (const el of document.querySelectorAll("[data-i18n]")) {
    if (T[el.dataset.i18n]) el.textContent = T[el.dataset.i18n];
  }
  if (T.lang) document.documentElement.lang = T.lang;
  document.title = t("page_title");
}

function fmtBytes(n) {
  if (typeof n !== "number") return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function fmtDuration(s) {
  if (typeof s !== "number") return "–";
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
  return (d ? d + t("unit_days") + " " : "") + (d || h ? h + "h " : "") + m + "m " + sec + "s";
}

function fmtTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso || "–") : d.toLocaleString(T.lang || undefined);
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fillTable(id, items, columns) {
  const body = $(id);
  body.replaceChildren();
  for (const item of items || []) {
    const row = body.insertRow();
    for (const col of columns) {
      const [text, cls] = col(item);
      cell(row, text, cls);
    }
  }
  if (!items || !items.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = columns.length;
    td.className = "hint";
    td.textContent = t("none");
  }
}

function fillLog(id, items) {
  const list = $(id);
  list.replaceChildren();
  for (const item of (items || []).slice(0, 50)) {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.textContent = fmtTime(item.time);
    li.append(time, (item.kind ? "[" + item.kind + "] " : "") + (item.message || ""));
    list.append(li);
  }
}

const fileColumns = [
  (f) => [f.id], (f) => [f.name], (f) => [fmtBytes(f.size)],
  (f) => [f.sha256, "hash"], (f) => [fmtTime(f.created)],
];

function render(s) {
  $("worker-id").textContent = s.id ?? "?";
  const role = $("role");
  role.textContent = t("role_" + s.role) || s.role || "?";
  role.className = "badge " + (s.role || "");
  $("digest").textContent = s.catalog_digest || "–";
  for (const f of ["term", "leader", "commit_index", "applied_index", "last_index", "snapshot_index", "threads"]) {
    $(f).textContent = s[f] ?? "–";
  }
  $("uptime").textContent = fmtDuration(s.uptime_s);
  $("rss").textContent = fmtBytes(s.rss_bytes);
  fillTable("peers", s.peers, [
    (p) => [p.id], (p) => [p.address],
    (p) => p.reachable ? [t("yes")] : [t("no"), "no"],
    (p) => [p.match_index], (p) => [p.lag],
    (p) => [p.last_contact_ms == null ? "–" : p.last_contact_ms + " ms"],
  ]);
  renderJobs(s.jobs);
}

function renderFiles(f) {
  fillTable("files", f.files, fileColumns);
  fillTable("models", f.models, fileColumns);
  const shown = (f.files || []).length;
  $("files-count").textContent = f.files_total > shown
    ? t("files_shown").replace("{shown}", shown).replace("{total}", f.files_total) : "";
}

function renderEvents(e) {
  fillLog("events", e.events);
  fillLog("requests", e.requests);
}

// Reserved for training jobs: a line per job until the job pane exists.
function renderJobs(jobs) {
  const box = $("jobs");
  if (!jobs || !jobs.length) return;
  box.replaceChildren();
  for (const j of jobs) {
    const p = document.createElement("p");
    p.textContent = [j.id, j.state, j.progress !== undefined ? Math.round(j.progress * 100) + "%" : ""]
      .filter((x) => x !== undefined && x !== "").join(" · ");
    box.append(p);
  }
}

function setConn(text, bad) {
  const c = $("conn");
  c.textContent = text;
  c.className = bad ? "conn bad" : "conn";
}

// What the file list and the logs were last fetched for.
let shownDigest = null, shownEvents = null;

async function getJSON(path, headers) {
  const r = await fetch(path, { headers, cache: "no-store" });
  return r.ok ? r.json() : null;
}

async function poll() {
  try {
    const headers = key() ? { Authorization: "Bearer " + key() } : {};
    const r = await fetch("/api/status", { headers, cache: "no-store" });
    if (r.status === 401) {
      $("auth").hidden = false;
      setConn(t("auth_needed"), true);
    } else if (!r.ok) {
      setConn(t("error") + " " + r.status, true);
    } else {
      $("auth").hidden = true;
      const s = await r.json();
      render(s);
      if (s.catalog_digest !== shownDigest) {
        const f = await getJSON("/api/files", headers);
        if (f) { renderFiles(f); shownDigest = s.catalog_digest; }
      }
      if (s.events_serial === undefined || s.events_serial !== shownEvents) {
        const e = await getJSON("/api/events", headers);
        if (e) { renderEvents(e); shownEvents = s.events_serial; }
      }
      setConn(t("updated") + " " + new Date().toLocaleTimeString(T.lang || undefined), false);
    }
  } catch (e) {
    setConn(t("unreachable"), true);
  }
  setTimeout(poll, 1000);
}

$("auth").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("minka-monitor-key", $("auth-key").value);
  $("auth-key").value = "";
});

async function start() {
  try {
    const r = await fetch("/api/i18n" + location.search);
    if (r.ok) T = await r.json();
  } catch (e) { /* keep the built-in English */ }
  applyStrings();
  poll();
}

start();
