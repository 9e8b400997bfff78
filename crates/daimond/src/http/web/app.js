// The dashboard's script: plain DOM calls, no framework and no build step (see
// web.rs). Every URL is relative, so the page works under a proxy's prefix.
// The session cookie goes with every request by itself (same origin); the
// API token is never known here.
"use strict";
const $ = (s, r = document) => r.querySelector(s);
const el = (tag, props = {}, ...kids) => {
  const { dataset, ...rest } = props;
  const e = Object.assign(document.createElement(tag), rest);
  Object.assign(e.dataset, dataset || {});
  for (const k of kids) e.append(k);
  return e;
};

async function api(path, opts = {}) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opts));
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch (_) { body = text; }
  if (!r.ok) throw new Error((body && body.message) || r.status + " " + r.statusText);
  return body;
}
const post = (path, body) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body || {}),
});

// ---- formatting
const bytes = (n) => n == null ? "" : n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " K" : (n / 1048576).toFixed(1) + " M";
const cpu = (us) => us == null ? "" : us < 1e6 ? (us / 1000).toFixed(0) + "ms" : (us / 1e6).toFixed(1) + "s";
function ago(since) {
  const t = since ? Date.parse(since) : NaN;
  if (isNaN(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m" : s < 86400 ? Math.floor(s / 3600) + "h" : Math.floor(s / 86400) + "d";
}

// ---- units list
let units = [], sortKey = "name", sortDir = 1;
function renderUnits() {
  const f = $("#filter").value.toLowerCase(), st = $("#state").value;
  const rows = units.filter((u) => (!st || u.state === st) &&
    (!f || u.name.toLowerCase().includes(f) || (u.description || "").toLowerCase().includes(f)));
  rows.sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    if (x == null) return 1; if (y == null) return -1;
    return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * sortDir;
  });
  const body = el("tbody");
  for (const u of rows) {
    const a = el("a", { href: "#unit/" + encodeURIComponent(u.name), textContent: u.name });
    const tr = el("tr", { dataset: { unit: u.name } },
      el("td", {}, a), el("td", { className: u.state, textContent: u.state }),
      el("td", { textContent: u.sub_state }), el("td", { textContent: u.pid || "" }),
      el("td", { textContent: u.state === "active" ? ago(u.since) : "" }),
      el("td", { className: "restarts", textContent: u.restarts }),
      el("td", { className: "wide", textContent: cpu(u.cpu_usec) }),
      el("td", { className: "wide", textContent: bytes(u.memory_bytes) }),
      el("td", { className: "desc wide", textContent: u.description || "" }));
    body.append(tr);
  }
  $("#units-table tbody").replaceWith(body);
  $("#count").textContent = rows.length + " of " + units.length;
}
async function loadUnits() {
  units = await api("api/units");
  renderUnits();
  document.body.dataset.unitsLoaded = "1";
}
for (const th of document.querySelectorAll("#units-table th")) {
  const go = () => {
    sortDir = sortKey === th.dataset.k ? -sortDir : 1; sortKey = th.dataset.k;
    document.querySelectorAll("#units-table th").forEach((t) => t.classList.remove("asc", "desc"));
    th.classList.add(sortDir > 0 ? "asc" : "desc"); renderUnits();
  };
  th.addEventListener("click", go);
  th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
}
$("#filter").addEventListener("input", renderUnits);
$("#state").addEventListener("change", renderUnits);

// ---- one unit
let current = null;
async function loadUnit(name) {
  current = name;
  $("#unit-name").textContent = name;
  $("#unit-logs").href = "#logs/" + encodeURIComponent(name);
  let u;
  try { u = await api("api/units/" + encodeURIComponent(name) + "?lines=20"); }
  catch (e) { $("#unit-error").textContent = e.message; return; }
  if (current !== name) return;
  const dl = el("dl");
  const row = (k, v) => { if (v != null && v !== "") dl.append(el("dt", { textContent: k }), el("dd", { textContent: v })); };
  row("State", u.state + " (" + u.sub_state + ")"); row("Loaded", u.load_state); row("Enabled", u.enabled);
  row("Description", u.description); row("PID", u.pid); row("Since", u.since); row("Restarts", u.restarts);
  row("Result", u.result); row("Last exit", u.last_exit); row("Reason", u.reason); row("Status", u.status_text);
  row("CPU", cpu(u.cpu_usec)); row("Memory", bytes(u.memory_bytes)); row("Unit file", u.fragment_path);
  if (u.restart_policy) row("Restart policy", JSON.stringify(u.restart_policy));
  if (u.timer) row("Next run", u.timer.next);
  $("#unit-detail").replaceWith(Object.assign(dl, { id: "unit-detail" }));
  $("#unit-recent").textContent = (u.recent_logs || []).join("\n");
  try {
    const files = await api("api/units/" + encodeURIComponent(name) + "/file");
    const box = el("div", { id: "unit-file" });
    for (const f of files) box.append(el("h4", { textContent: f.path }), el("pre", { textContent: f.text }));
    $("#unit-file").replaceWith(box);
  } catch (e) { $("#unit-file").textContent = e.message; }
}
$("#actions").addEventListener("click", async (e) => {
  const verb = e.target.dataset && e.target.dataset.verb;
  if (!verb || !current) return;
  if (verb === "stop" && !confirm("Stop " + current + "?")) return;
  $("#unit-error").textContent = "";
  e.target.disabled = true;
  try { await post("api/units/" + encodeURIComponent(current) + "/" + verb); }
  catch (err) { $("#unit-error").textContent = err.message; }
  finally { e.target.disabled = false; }
  loadUnit(current);
});

// ---- live unit state: re-fetch on change, at most every 200 ms
let pending = null;
function changed() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    const v = location.hash.slice(1).split("/")[0] || "units";
    if (v === "units") loadUnits().catch(() => {});
    else if (v === "unit" && current) loadUnit(current);
    else if (v === "timers") loadTimers().catch(() => {});
  }, 200);
}
function watchEvents() {
  const es = new EventSource("api/events");
  es.onopen = () => $("#live").className = "on";
  es.addEventListener("state", changed);
  es.onerror = () => $("#live").className = "";
}

// ---- logs: follow with filters; paused lines are kept (bounded) and shown on resume
const MAX_LINES = 5000, MAX_HELD = 20000;
let logStream = null, paused = false, held = [];
function addLines(lines) {
  const box = $("#log-lines");
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const frag = document.createDocumentFragment();
  for (const l of lines) {
    const t = l.__REALTIME_TIMESTAMP ? new Date(Number(l.__REALTIME_TIMESTAMP) / 1000).toISOString().slice(11, 23) : "";
    frag.append(el("div", { className: "p" + l.PRIORITY, textContent: t + " " + (l.UNIT || "") + ": " + (l.MESSAGE || "") }));
  }
  box.append(frag);
  while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
  if (atEnd) box.scrollTop = box.scrollHeight;
}
function followLogs() {
  if (logStream) logStream.close();
  $("#log-lines").textContent = ""; held = [];
  const q = new URLSearchParams({ output: "json", lines: "200" });
  for (const [k, v] of new FormData($("#log-form"))) if (v) q.set(k, v);
  logStream = new EventSource("api/logs/stream?" + q);
  logStream.onmessage = (e) => {
    const lines = [];
    for (const s of e.data.split("\n")) { if (s) try { lines.push(JSON.parse(s)); } catch (_) {} }
    if (paused) {
      held.push(...lines);
      if (held.length > MAX_HELD) held.splice(0, held.length - MAX_HELD);
      $("#log-note").textContent = held.length + " new lines held";
    } else addLines(lines);
  };
  logStream.addEventListener("close", (e) => { $("#log-note").textContent = "stream ended: " + e.data; logStream.close(); });
  logStream.onerror = () => { $("#log-note").textContent = "reconnecting…"; };
  logStream.onopen = () => { $("#log-note").textContent = "following"; };
}
$("#log-form").addEventListener("submit", (e) => { e.preventDefault(); followLogs(); });
$("#pause").addEventListener("click", () => {
  paused = !paused;
  $("#pause").textContent = paused ? "Resume" : "Pause";
  if (!paused) { addLines(held); held = []; $("#log-note").textContent = "following"; }
});

// ---- timers
async function loadTimers() {
  const list = await api("api/timers");
  const body = el("tbody");
  for (const t of list) {
    const run = t.last_run || {};
    const logs = el("a", { href: "#logs/" + encodeURIComponent(t.activates) + (run.invocation ? "/" + run.invocation : ""),
      textContent: run.invocation ? "last run's logs" : "logs" });
    body.append(el("tr", { dataset: { unit: t.unit } },
      el("td", {}, el("a", { href: "#unit/" + encodeURIComponent(t.unit), textContent: t.unit })),
      el("td", { textContent: t.activates }), el("td", { className: "next", textContent: t.next || "" }),
      el("td", { textContent: t.left_usec != null ? cpu(t.left_usec) : "" }),
      el("td", { textContent: t.last || "" }),
      el("td", { className: run.result && run.result !== "success" ? "failed" : "", textContent: [run.result, run.exit].filter(Boolean).join(", ") }),
      el("td", {}, logs)));
  }
  $("#timers-table tbody").replaceWith(body);
}

// ---- run
const unitValue = (s) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$");
$("#run-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = Object.fromEntries(new FormData(e.target));
  const service = f.name + ".service";
  const req = {
    name: service,
    unit_text: "[Service]\nExecStart=/bin/sh -c \"" + unitValue(f.cmd) + "\"\nRestart=" + f.restart + "\n",
  };
  if (f.schedule) req.timer = { name: f.name + ".timer", unit_text: "[Timer]\nOnCalendar=" + f.schedule + "\nUnit=" + service + "\n" };
  $("#run-result").className = "";
  try { await post("api/run", req); $("#run-result").textContent = "started " + service; location.hash = "#unit/" + encodeURIComponent(service); }
  catch (err) { $("#run-result").className = "error"; $("#run-result").textContent = err.message; }
});

// ---- views
function show() {
  const [view, arg, arg2] = location.hash.slice(1).split("/");
  const v = ["units", "unit", "logs", "timers", "run"].includes(view) ? view : "units";
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== v;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.id === "nav-" + (v === "unit" ? "units" : v));
  if (v === "units") loadUnits().catch((e) => $("#count").textContent = e.message);
  if (v === "unit") loadUnit(decodeURIComponent(arg || ""));
  if (v === "timers") loadTimers().catch(() => {});
  if (v === "logs") {
    if (arg) { $("#log-form").unit.value = decodeURIComponent(arg); $("#log-form").invocation.value = arg2 || ""; }
    followLogs();
  } else if (logStream) { logStream.close(); logStream = null; }
}
window.addEventListener("hashchange", show);
show();
watchEvents();
