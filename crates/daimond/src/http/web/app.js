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
// Only the rows in and near the viewport are in the page; the rest of the
// table is two spacer rows of the right height. Laying out 9,000 cells was
// most of the time to show 1,000 units (more than fetching and parsing them),
// so the work per render is bounded by the screen, not by the number of
// units. Rows have one fixed height (no cell wraps; the columns are fixed
// by the header), which makes a row's position a multiplication. Rows in the
// window are kept by unit name and changed in place: a refresh (every state
// event) rewrites only the cells whose text changed.
let units = [], view = [], sortKey = "name", sortDir = 1, rowH = 0;
const rowOf = new Map();
const SPARE = 30;
const cellsOf = (u) => [u.state, u.sub_state, u.pid || "", u.state === "active" ? ago(u.since) : "",
  u.restarts, cpu(u.cpu_usec), bytes(u.memory_bytes), u.description || ""];
const CELL_CLASS = ["", "", "", "", "restarts", "wide", "wide", "desc wide"];
function newRow(u) {
  const tr = el("tr", { dataset: { unit: u.name } },
    el("td", {}, el("a", { href: "#unit/" + encodeURIComponent(u.name), textContent: u.name })));
  const cells = CELL_CLASS.map((c) => tr.appendChild(el("td", { className: c })));
  return { tr, cells, text: [] };
}
function fillRow(r, u) {
  const text = cellsOf(u);
  for (let i = 0; i < text.length; i++) {
    const t = String(text[i]);
    if (r.text[i] === t) continue;
    r.text[i] = t;
    r.cells[i].textContent = t;
    if (i === 0) r.cells[0].className = t;
  }
}
// Plain comparisons: localeCompare costs a collation per call.
function compare(a, b) {
  const x = a[sortKey], y = b[sortKey];
  if (x == null || x === "") return y == null || y === "" ? 0 : 1;
  if (y == null || y === "") return -1;
  return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
}
function renderUnits() {
  const f = $("#filter").value.toLowerCase(), st = $("#state").value;
  view = units.filter((u) => (!st || u.state === st) &&
    (!f || u.name.toLowerCase().includes(f) || (u.description || "").toLowerCase().includes(f)));
  view.sort(compare);
  $("#count").textContent = view.length + " of " + units.length;
  renderWindow();
}
const gap = (cls) => el("tr", { className: "gap " + cls, ariaHidden: "true" }, el("td", { colSpan: 9 }));
function renderWindow() {
  const body = $("#units-table tbody");
  if (!body.firstElementChild) body.append(gap("top"), gap("bottom"));
  const top = body.firstElementChild, bottom = body.lastElementChild;
  const h = rowH || 30;
  // Where row 0 is, from the viewport's top (negative once scrolled past).
  const y0 = $("#units-table thead").getBoundingClientRect().bottom;
  const first = Math.min(Math.max(0, Math.floor(-y0 / h) - SPARE), Math.max(0, view.length - 1));
  const last = Math.min(view.length, first + Math.ceil(window.innerHeight / h) + 2 * SPARE);
  const keep = new Set();
  let at = top.nextElementSibling;
  for (let i = first; i < last; i++) {
    const u = view[i];
    let r = rowOf.get(u.name);
    if (!r) { r = newRow(u); rowOf.set(u.name, r); }
    fillRow(r, u);
    keep.add(u.name);
    if (r.tr === at) at = at.nextElementSibling;
    else body.insertBefore(r.tr, at);
  }
  while (at !== bottom) { const next = at.nextElementSibling; at.remove(); at = next; }
  for (const name of rowOf.keys()) if (!keep.has(name)) rowOf.delete(name);
  top.firstChild.style.height = first * h + "px";
  bottom.firstChild.style.height = (view.length - last) * h + "px";
  const one = top.nextElementSibling;
  if (!rowH && one !== bottom) { rowH = one.getBoundingClientRect().height || 30; renderWindow(); }
}
let scrolled = false;
const onScroll = () => {
  if (scrolled) return;
  scrolled = true;
  requestAnimationFrame(() => { scrolled = false; if (!$("#units").hidden) renderWindow(); });
};
window.addEventListener("scroll", onScroll, { passive: true });
window.addEventListener("resize", () => { rowH = 0; onScroll(); });
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
  // The last run and the ones before it (each automatic restart is one), each
  // with a link to its own logs.
  const runs = el("tbody");
  for (const r of [u.last_run, ...(u.earlier_runs || [])].filter(Boolean)) {
    runs.append(el("tr", {},
      el("td", { textContent: r.started.replace("T", " ").slice(0, 19) }),
      el("td", { textContent: r.duration_usec != null ? cpu(r.duration_usec) : "running" }),
      el("td", { className: r.result && r.result !== "success" ? "failed" : "", textContent: r.result || "" }),
      el("td", { textContent: r.exit || "" }),
      el("td", {}, el("a", { href: "#logs/" + encodeURIComponent(name) + "/" + r.invocation, textContent: "logs" }))));
  }
  $("#unit-runs tbody").replaceWith(runs);
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

// ---- live unit state: re-fetch at once on a change, then at most every 200 ms
// while changes keep coming (a crash loop must not turn into a fetch loop).
let refreshing = false, again = false;
function changed() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  const v = location.hash.slice(1).split("/")[0] || "units";
  const done = v === "units" ? loadUnits() : v === "unit" && current ? loadUnit(current)
    : v === "timers" ? loadTimers() : Promise.resolve();
  done.catch(() => {}).finally(() => setTimeout(() => {
    refreshing = false;
    if (again) { again = false; changed(); }
  }, 200));
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
    // The unit's name links to its page (and the page's Logs link back here).
    const unit = l.UNIT ? el("a", { href: "#unit/" + encodeURIComponent(l.UNIT), textContent: l.UNIT }) : "";
    frag.append(el("div", { className: "p" + l.PRIORITY }, t + " ", unit, ": " + (l.MESSAGE || "")));
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
