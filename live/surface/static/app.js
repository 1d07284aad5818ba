// latent-live control surface. Built at load time from GET /api/params (the parameter table);
// uses only the documented API: /api/state, /api/control, /api/preset/*, /api/tap,
// /api/midi/*, /api/banks, /api/preview.jpg and the /api/ws WebSocket.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

const ui = { params: {}, widgets: {}, state: null, ws: null, dragging: new Set(), pending: {}, bpb: 4 };

async function api(path, body) {
  const opt = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, opt);
  const data = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

// ------------------------------------------------------------------ controls
function fmt(p, v) {
  if (v === null || v === undefined) return "";
  if (p.type === "int") return String(v);
  if (p.type === "float") return Number(v).toFixed(p.hi > 10 ? 1 : 2);
  if (p.type === "bool") return v ? "on" : "off";
  return String(v);
}

function send(name, value) {
  if (ui.ws && ui.ws.readyState === 1) {
    ui.ws.send(JSON.stringify({ type: "control", name, value }));
  } else {
    api("/api/control", { name, value }).catch(showError);
  }
}

function learnButton(p) {
  return el("button", { class: "learn", title: "MIDI learn: then move a fader or press a pad",
    "data-learn": p.name, hidden: "",
    onclick: () => {
      const armed = ui.state && ui.state.midi && ui.state.midi.armed === p.name;
      api("/api/midi/learn", { control: armed ? null : p.name }).catch(showError);
    } }, "L");
}

function buildControl(p) {
  ui.params[p.name] = p;
  if (p.type === "float" || p.type === "int") {
    const val = el("span", { class: "val" });
    const step = p.type === "int" ? 1 : (p.hi - p.lo) / 1000;
    const input = el("input", { type: "range", min: p.lo, max: p.hi, step, value: p.default,
      "data-control": p.name, "aria-label": p.name });
    let queued = null;
    input.addEventListener("input", () => {
      val.textContent = fmt(p, Number(input.value));
      const first = queued === null;
      queued = Number(input.value);
      if (first) requestAnimationFrame(() => { send(p.name, queued); queued = null; });
    });
    input.addEventListener("pointerdown", () => ui.dragging.add(p.name));
    const up = () => setTimeout(() => ui.dragging.delete(p.name), 300);
    input.addEventListener("pointerup", up); input.addEventListener("pointercancel", up);
    input.addEventListener("change", up);
    ui.widgets[p.name] = { set: (v) => { if (!ui.dragging.has(p.name)) input.value = v; val.textContent = fmt(p, v); } };
    return el("div", { class: "ctl fader", title: p.doc }, el("label", {}, p.name), val, learnButton(p), input);
  }
  if (p.type === "bool") {
    const b = el("button", { "data-control": p.name, onclick: () => send(p.name, !(ui.state && ui.state.controls[p.name])) }, p.name);
    ui.widgets[p.name] = { set: (v) => b.classList.toggle("on", !!v) };
    return el("div", { class: "ctl toggle", title: p.doc }, b, el("span"), learnButton(p));
  }
  if (p.type === "trigger") {
    const b = el("button", { "data-control": p.name, onclick: () => send(p.name, 1) }, p.name);
    return el("div", { class: "ctl button", title: p.doc }, b, el("span"), learnButton(p));
  }
  return null;   // text controls (preset) have their own panel
}

async function buildGroups() {
  const table = await api("/api/params");
  const box = $("#groups");
  for (const g of table.groups) {
    const kids = g.params.map(buildControl).filter(Boolean);
    if (!kids.length) continue;
    box.append(el("section", { class: "panel group", "data-group": g.name }, el("h2", {}, g.name), ...kids));
  }
}

// ------------------------------------------------------------------ state
function applyState(s) {
  ui.state = s;
  for (const [name, w] of Object.entries(ui.widgets)) {
    if (name in s.controls) w.set(s.controls[name]);
  }
  renderPresets(s);
  renderBanks(s);
  renderMidi(s);
}

let presetKey = "";
function renderPresets(s) {
  const msg = $("#preset-msg");
  msg.textContent = s.presets_message || msg.textContent;
  msg.classList.toggle("warn", !!s.presets_message);
  const key = JSON.stringify([Object.keys(s.presets), s.preset]);
  if (key === presetKey) return;     // keep the buttons (a click must not land on a replaced one)
  presetKey = key;
  const list = $("#preset-list");
  list.replaceChildren(...Object.keys(s.presets).map((name) => el("li", { class: name === s.preset ? "current" : "" },
    el("span", {}, name),
    el("button", { "data-recall": name, onclick: () => api("/api/preset/recall", { name }).catch(showError) }, "recall"),
    el("button", { "data-delete": name, onclick: () => api("/api/preset/delete", { name }).then(presetResult).catch(showError) }, "delete"))));
}

function presetResult(r) {
  const msg = $("#preset-msg");
  msg.textContent = r.persisted ? "saved in the show file" : (r.message || "");
  msg.classList.toggle("warn", !r.persisted);
}

let bankKey = "";
function renderBanks(s) {
  const key = JSON.stringify(s.banks);
  const playing = s.playing || {};
  if (key !== bankKey) {
    bankKey = key;
    const box = $("#bank-list");
    box.replaceChildren(...s.banks.map((b) => {
      const thumbs = [];
      for (let e = 0; e < b.count; e++) {
        const pick = () => {
          if (playing.bank_index === b.index || (ui.state.playing || {}).bank === b.name) send("entry.select", e);
          else send("bank.select", b.index);
        };
        thumbs.push(b.sheet
          ? el("img", { src: `/api/banks/${b.index}/thumb/${e}.jpg`, alt: `${b.name} ${e}`, title: `entry ${e}`,
              "data-bank": b.index, "data-entry": e, loading: "lazy", onclick: pick })
          : el("button", { class: "entry", "data-bank": b.index, "data-entry": e, onclick: pick }, String(e)));
      }
      return el("div", { class: "bank", "data-bank": b.index },
        el("h3", {}, el("span", {}, `${b.index + 1}. ${b.name}`), el("span", { class: "now" }),
          el("button", { onclick: () => send("bank.select", b.index) }, "switch on the bar")),
        el("div", { class: "thumbs" }, ...thumbs));
    }));
  }
  for (const div of document.querySelectorAll(".bank")) {
    const on = playing.bank === s.banks[Number(div.dataset.bank)]?.name;
    div.querySelector(".now").textContent = on ? "playing" : "";
    for (const t of div.querySelectorAll("[data-entry]")) {
      t.classList.toggle("playing", on && Number(t.dataset.entry) === playing.entry_a);
    }
  }
}

function renderMidi(s) {
  const m = s.midi;
  const status = $("#midi-status");
  for (const b of document.querySelectorAll("[data-learn]")) {
    b.hidden = !m;
    b.classList.toggle("armed", !!m && m.armed === b.dataset.learn);
  }
  if (!m) { status.textContent = "no MIDI controller ([midi] input in the show file)"; return; }
  const lines = [];
  lines.push(m.connected ? `input: ${m.input}${m.output ? ", feedback: " + m.output : ""}` : m.message);
  if (m.armed) lines.push(`learning ${m.armed}: move a fader or press a pad`);
  if (m.last_learn) lines.push(`learned: ${m.last_learn.mapping}` +
    (m.last_learn.conflicts.length ? ` (conflict: ${m.last_learn.conflicts.join("; ")})` : ""));
  lines.push(`${m.mappings.length} mappings`);
  status.textContent = lines.join("\n");
  status.classList.toggle("warn", !m.connected || (m.last_learn && m.last_learn.conflicts.length > 0));
}

// ------------------------------------------------------------------ meters, beat, telemetry
const METERS = [["bass", ""], ["mid", ""], ["treble", ""], ["bass_att", "att"], ["mid_att", "att"],
  ["treble_att", "att"], ["onset", "onset"], ["loudness", ""]];
const meterEls = {};
function buildMeters() {
  const box = $("#meters");
  for (const [name, cls] of METERS) {
    const bar = el("i");
    meterEls[name] = bar;
    box.append(el("span", {}, name), el("div", { class: `meter ${cls}`, "data-meter": name }, bar));
  }
}

let lastBeat = -1, beatLitUntil = 0, meterCount = 0;
function applyMeters(m) {
  meterCount++;
  const pct = (x) => `${Math.max(0, Math.min(100, x * 100)).toFixed(1)}%`;
  for (const [name] of METERS) {
    let v = m[name];
    if (name.endsWith("_att")) v = (m[name] || 0) / 2;
    if (name === "loudness") v = ((m.loudness_db ?? -120) + 60) / 60;
    if (meterEls[name]) meterEls[name].style.width = pct(v || 0);
  }
  $("#bpm").textContent = m.bpm ? m.bpm.toFixed(1) : "--.-";
  $("#tsource").textContent = m.tempo_source || "none";
  if (m.beats_per_bar !== ui.bpb) { ui.bpb = m.beats_per_bar; buildBeats(); }
  if (m.beat_count !== lastBeat) { lastBeat = m.beat_count; beatLitUntil = performance.now() + 120; }
  const lit = performance.now() < beatLitUntil;
  const dots = $("#beats").children;
  for (let i = 0; i < dots.length; i++) dots[i].classList.toggle("lit", lit && i === m.beat_in_bar);
  document.body.dataset.meters = meterCount;
  document.body.dataset.bass = m.bass;
}
function buildBeats() {
  const box = $("#beats");
  box.replaceChildren(...Array.from({ length: ui.bpb }, (_, i) => el("span", { class: i === 0 ? "down" : "" })));
}

function applyTelemetry(t) {
  const f = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x)) ? "-" : Number(x).toFixed(d);
  const lines = [
    `fps ${f(t.fps)}  frame ${f(t.frame_ms_p50)} / p99 ${f(t.frame_ms_p99)} ms  gen ${f(t.gen_fps)} fps`,
    `latency ~${f(t.latency_ms, 0)} ms  xruns ${t.xruns ?? "-"}  late ${t.late_frames ?? "-"}  fallbacks ${t.fallbacks ?? "-"}`,
  ];
  if (t.web) lines.push(`web: refused ${t.web.refused}  dropped ${t.web.flood_dropped + t.web.malformed}  pages ${t.web.ws_clients}`);
  for (const m of (t.messages || []).slice(-3)) lines.push(`! ${m}`);
  $("#telemetry").textContent = lines.join("\n");
}

// ------------------------------------------------------------------ preview
function startPreview(on) {
  const img = $("#preview");
  if (!on) { img.hidden = true; return; }
  img.hidden = false;
  let busy = false;
  setInterval(() => {
    if (busy || document.hidden) return;
    busy = true;
    const next = new Image();
    next.onload = () => { img.src = next.src; busy = false; };
    next.onerror = () => { busy = false; };
    const old = img.dataset.url;
    next.src = `/api/preview.jpg?n=${Date.now()}`;
    img.dataset.url = next.src;
    if (old) URL.revokeObjectURL?.(old);
  }, 250);
}

// ------------------------------------------------------------------ connection
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/api/ws`);
  ui.ws = ws;
  ws.onopen = () => { $("#conn").textContent = "live"; $("#conn").className = "conn on"; };
  ws.onclose = () => {
    $("#conn").textContent = "offline"; $("#conn").className = "conn off";
    ui.ws = null;
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    let m; try { m = JSON.parse(ev.data); } catch { return; }
    if (m.type === "meters") applyMeters(m);
    else if (m.type === "state") applyState(m);
    else if (m.type === "telemetry") applyTelemetry(m);
    else if (m.type === "error") showError(new Error(m.error));
  };
}

function showError(e) {
  const t = $("#telemetry");
  t.dataset.error = e.message;
  console.warn(e.message);
}

async function main() {
  buildMeters();
  buildBeats();
  await buildGroups();
  const s = await api("/api/state");
  applyState(s);
  applyMeters(s.meters || {});
  applyTelemetry(s.telemetry || {});
  startPreview(s.preview);
  $("#tap").addEventListener("pointerdown", (e) => { e.preventDefault(); api("/api/tap", {}).catch(showError); });
  $("#bpm-set").addEventListener("click", () => send("bpm", Number($("#bpm-manual").value || 0)));
  $("#bpm-release").addEventListener("click", () => send("bpm", 0));
  $("#preset-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#preset-name").value.trim();
    if (name) api("/api/preset/save", { name }).then(presetResult).catch(showError);
  });
  connect();
  document.body.dataset.ready = "1";
}

main().catch(showError);
