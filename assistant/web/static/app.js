// The companion page: pairing, push-to-talk, typed requests, the live event stream, and the
// assistant's timers, devices, routines, music and phones. No build step: plain modules.

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
};

let state = null;
let me = null;  // this phone, as /api/me says: {id, name, admin, …}
let socket = null;
let refreshTimer = null;

async function api(path, options = {}) {
  const r = await fetch(path, { credentials: "same-origin", headers: { "Content-Type": "application/json" }, ...options });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) { showPairing(); throw new Error(body.error || "not paired"); }
  return { status: r.status, ok: r.ok, body };
}

// --- pairing ------------------------------------------------------------------------------------

function showPairing() {
  $("#app").hidden = true;
  $("#pairing").hidden = false;
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (code) $("#pair-code").value = code;
  $("#pair-code").focus();
}

$("#pair-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#pair-error").textContent = "";
  const r = await fetch("/api/pair", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: $("#pair-code").value, name: $("#pair-name").value }) });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { $("#pair-error").textContent = body.error || "Pairing failed."; return; }
  history.replaceState(null, "", "/");
  start();
});

// --- the app ------------------------------------------------------------------------------------

async function start() {
  const r = await api("/api/me").catch(() => null);
  if (!r || !r.ok) return;
  me = r.body.phone;
  $("#pairing").hidden = true;
  $("#app").hidden = false;
  connect();
  await refresh();
  setInterval(tick, 1000);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${proto}//${location.host}/api/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => setStatus("Ready");
  socket.onclose = (e) => {
    if (e.code === 4001 || e.code === 1008) { showPairing(); return; }
    setStatus("Reconnecting…");
    setTimeout(connect, 1500);
  };
  socket.onmessage = (m) => {
    if (m.data instanceof ArrayBuffer) { player.push(m.data); return; }
    onEvent(JSON.parse(m.data));
  };
}

function setStatus(text) { $("#status").textContent = text; }

function logLine(cls, text) {
  const li = el("li", { className: cls, textContent: text });
  $("#log").prepend(li);
  while ($("#log").children.length > 50) $("#log").lastChild.remove();
}

// The passage a knowledge answer came from, under the answer: its document and page, opened on a tap.
function showPassage(data) {
  const details = el("details", {},
    el("summary", { textContent: `From ${data.named}` }),
    el("blockquote", { textContent: data.passage }));
  $("#log").prepend(el("li", { className: "source" }, details));
}

const REFRESH_ON = /^(timer|alarm|reminder|routine|device|media)\./;

function onEvent(ev) {
  window.dispatchEvent(new CustomEvent("assistant-event", { detail: ev }));  // for scripts and the benchmark
  switch (ev.type) {
    case "wake": setStatus("Listening…"); break;
    case "stt_start": setStatus("Understanding…"); break;
    case "transcript": if (ev.text) logLine("heard", `“${ev.text}”`); break;
    case "intent": logLine("doing", `Doing: ${ev.tool}`); setStatus("Doing…"); break;
    case "reply": logLine("said", ev.text); setStatus("Ready"); break;
    case "reply_audio": player.begin(ev.rate); break;
    case "reply_audio_end": player.end(); break;
    case "error": if (ev.message) logLine("doing", `Problem: ${ev.message}`); break;
    case "ready": setStatus("Ready"); break;
    case "tool_result": if (ev.tool === "knowledge.ask" && ev.data && ev.data.passage) showPassage(ev.data); break;
  }
  if ((ev.type === "tool_result" && REFRESH_ON.test(ev.tool)) || ["changed", "timer_done", "due", "device_found", "device_lost"].includes(ev.type)) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 150);
  }
}

// --- reply audio: int16 frames, played back to back -----------------------------------------------

const player = {
  ctx: null, rate: 22050, at: 0,
  begin(rate) {
    this.rate = rate;
    this.ctx = this.ctx || new AudioContext();
    this.at = Math.max(this.at, this.ctx.currentTime + 0.05);
  },
  push(buffer) {
    if (!this.ctx) this.begin(this.rate);
    const pcm = new Int16Array(buffer);
    if (!pcm.length) return;
    const audio = this.ctx.createBuffer(1, pcm.length, this.rate);
    const ch = audio.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const src = this.ctx.createBufferSource();
    src.buffer = audio; src.connect(this.ctx.destination);
    this.at = Math.max(this.at, this.ctx.currentTime);
    src.start(this.at);
    this.at += audio.duration;
    window.__replyAudio = (window.__replyAudio || 0) + pcm.length;  // for the tests and the benchmark
    if (window.__releasedAt && !window.__firstAudioAt) window.__firstAudioAt = performance.now();
  },
  end() {},
};

// --- push-to-talk -------------------------------------------------------------------------------

const mic = { ctx: null, node: null, stream: null, on: false };

async function talkStart() {
  if (mic.on || !socket || socket.readyState !== 1) return;
  mic.on = true;
  $("#ptt").classList.add("on");
  $("#ptt").textContent = "Listening… release to send";
  try {
    if (!mic.ctx) {
      mic.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
      mic.ctx = new AudioContext();
      await mic.ctx.audioWorklet.addModule("/static/capture-worklet.js");
      const source = mic.ctx.createMediaStreamSource(mic.stream);
      mic.node = new AudioWorkletNode(mic.ctx, "capture");
      source.connect(mic.node);
      mic.node.port.onmessage = (e) => {
        if (e.data === "flushed") { if (mic.ending) { mic.ending = false; socket.send(JSON.stringify({ type: "ptt_end" })); } return; }
        if (!mic.sending) return;
        const f = e.data, out = new Int16Array(f.length);
        for (let i = 0; i < f.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32767)));
        socket.send(out.buffer);
      };
    }
    await mic.ctx.resume();
    if (player.ctx) await player.ctx.resume();  // a tap is what lets audio play on phones
    socket.send(JSON.stringify({ type: "ptt_start", rate: Math.round(mic.ctx.sampleRate) }));
    mic.sending = true;
    setStatus("Listening…");
  } catch (err) {
    mic.on = false;
    $("#ptt").classList.remove("on");
    $("#ptt").textContent = "Hold to talk";
    logLine("doing", `The microphone is not available: ${err.message}`);
  }
}

function talkEnd() {
  if (!mic.on) return;
  mic.on = false;
  $("#ptt").classList.remove("on");
  $("#ptt").textContent = "Hold to talk";
  if (!mic.sending) return;
  mic.ending = true;
  mic.node.port.postMessage("flush");
  mic.sending = false;
  window.__firstAudioAt = 0;
  window.__releasedAt = performance.now();
  setStatus("Understanding…");
}

const ptt = $("#ptt");
ptt.addEventListener("pointerdown", (e) => { e.preventDefault(); ptt.setPointerCapture(e.pointerId); talkStart(); });
ptt.addEventListener("pointerup", talkEnd);
ptt.addEventListener("pointercancel", talkEnd);
ptt.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); talkStart(); } });
ptt.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") { e.preventDefault(); talkEnd(); } });

$("#say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#say-text").value.trim();
  if (!text || !socket || socket.readyState !== 1) return;
  socket.send(JSON.stringify({ type: "text", text }));
  $("#say-text").value = "";
});

// --- state --------------------------------------------------------------------------------------

async function refresh() {
  const r = await api("/api/state").catch(() => null);
  if (!r || !r.ok) return;
  state = r.body;
  state.fetchedAt = Date.now() / 1000;
  state.offset = state.fetchedAt - state.now;
  renderTimers(); renderDevices(); renderRoutines(); renderMedia();
  const phones = await api("/api/phones").catch(() => null);
  if (phones && phones.ok) renderPhones(phones.body.phones);
  const voices = await api("/api/people").catch(() => null);
  if (voices && voices.ok) renderVoices(voices.body.people);
}

function clock(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(s).padStart(2, "0")}`;
}

function tick() {
  if (!state) return;
  const now = Date.now() / 1000 - state.offset;
  for (const node of document.querySelectorAll("[data-due]")) {
    if (node.dataset.paused === "true") continue;
    node.textContent = clock(Number(node.dataset.due) - now);
  }
}

async function call(tool, args = {}, confirmed = false) {
  const r = await api("/api/call", { method: "POST", body: JSON.stringify({ tool, args, confirmed }) });
  if (r.status === 409 && r.body.question && confirm(r.body.question)) return call(tool, args, true);
  if (!r.ok && r.body.error) logLine("doing", `Problem: ${r.body.error}`);
  else if (r.body.reply) logLine("said", r.body.reply);
  return r;
}

function renderTimers() {
  const list = $("#timers");
  list.replaceChildren();
  for (const t of state.timers) {
    const label = t.name ? `${t.name} timer` : "Timer";
    const paused = t.ends_at == null;
    const count = el("span", { className: "count", textContent: clock(t.remaining_s) });
    if (!paused) count.dataset.due = t.ends_at;
    count.dataset.paused = String(paused);
    list.append(el("li", { className: "timer" }, el("span", { textContent: label + (paused ? " (paused)" : "") }), count,
      el("button", { className: "secondary", type: "button", textContent: "Cancel", ariaLabel: `Cancel ${label}`,
        onclick: () => call("timer.cancel", t.name ? { name: t.name } : {}) })));
  }
  for (const a of state.alarms) list.append(el("li", {}, el("span", { textContent: `Alarm ${a.label || ""}` }), el("span", { textContent: a.due })));
  for (const r of state.reminders) list.append(el("li", {}, el("span", { textContent: `Reminder: ${r.text}` }), el("span", { textContent: r.due })));
  if (!list.children.length) list.append(el("li", { textContent: "Nothing is running." }));
  tick();
}

function renderDevices() {
  const box = $("#devices");
  box.replaceChildren();
  const rooms = new Map();
  for (const d of state.devices) {
    const room = d.room || "Other";
    if (!rooms.has(room)) rooms.set(room, []);
    rooms.get(room).push(d);
  }
  for (const [room, devices] of rooms) {
    const part = el("div", { className: "room" }, el("h3", { textContent: room }));
    for (const d of devices) {
      const on = d.state && d.state.on;
      const row = el("div", { className: "device" + (d.online ? "" : " offline") });
      row.dataset.device = d.id;
      row.append(el("span", { textContent: d.name + (d.online ? "" : " (offline)") }));
      if (d.capabilities.includes("on_off")) {
        const button = el("button", { type: "button", className: on ? "" : "secondary", textContent: on ? "On" : "Off",
          disabled: !d.online, ariaPressed: String(!!on), ariaLabel: `${d.name}: ${on ? "on" : "off"}` });
        button.addEventListener("click", () => call(on ? "device.turn_off" : "device.turn_on", { device: d.name }));
        row.append(button);
      }
      if (d.capabilities.includes("brightness")) {
        const slider = el("input", { type: "range", min: 0, max: 100, step: 5, value: (d.state && d.state.brightness) ?? 0,
          disabled: !d.online, ariaLabel: `${d.name} brightness` });
        slider.addEventListener("change", () => call("device.set_brightness", { device: d.name, percent: Number(slider.value) }));
        row.append(slider);
      }
      part.append(row);
    }
    box.append(part);
  }
  if (!state.devices.length) box.append(el("p", { className: "help", textContent: "No devices found yet." }));
}

function renderRoutines() {
  const list = $("#routines");
  list.replaceChildren();
  for (const r of state.routines) {
    const last = r.runs[0];
    const li = el("li", {}, el("span", { textContent: r.name + (r.enabled ? "" : " (off)") }),
      el("button", { type: "button", className: r.enabled ? "" : "secondary", textContent: r.enabled ? "On" : "Off",
        ariaPressed: String(r.enabled), ariaLabel: `${r.name} runs on its own: ${r.enabled ? "on" : "off"}`,
        onclick: () => call(r.enabled ? "routine.disable" : "routine.enable", { name: r.name }) }),
      el("button", { type: "button", className: "secondary", textContent: "Run", ariaLabel: `Run ${r.name}`,
        onclick: () => call("routine.run", { name: r.name }) }));
    li.dataset.routine = r.name;
    if (last) li.append(el("span", { className: "steps",
      textContent: `Last run: ${last.state} — ` + Object.entries(last.steps).map(([k, v]) => `${k} ${v}`).join(", ") }));
    list.append(li);
  }
  if (!list.children.length) list.append(el("li", { textContent: "No routines." }));
}

function renderMedia() {
  const p = $("#player");
  p.replaceChildren();
  const playing = state.playing;
  p.append(el("span", { textContent: playing ? `${playing.paused ? "Paused" : "Playing"}: ${playing.title || "?"}${playing.artist ? " by " + playing.artist : ""}` : "Nothing is playing." }));
  if (playing) {
    p.append(el("button", { type: "button", className: "secondary", textContent: playing.paused ? "Resume" : "Pause",
      onclick: () => call(playing.paused ? "media.resume" : "media.pause") }));
    p.append(el("button", { type: "button", className: "secondary", textContent: "Next", onclick: () => call("media.next_track") }));
    p.append(el("button", { type: "button", className: "secondary", textContent: "Stop", onclick: () => call("media.stop") }));
  }
  const albums = $("#albums");
  albums.replaceChildren();
  for (const a of state.albums) {
    const li = el("li", {}, el("strong", { textContent: a.name }), el("div", { className: "help", textContent: `${a.count} photos` }));
    for (const id of a.preview) {
      li.append(el("img", { src: `/api/media/thumb/${id}`, alt: `A photo in ${a.name}`, loading: "lazy",
        onerror: (e) => e.target.remove() }));  // a photo that cannot be read has no thumbnail
    }
    albums.append(li);
  }
}

// Every phone may unpair itself; only an admin phone (paired with `assistant pair --admin`) others.
function renderPhones(phones) {
  const list = $("#phones");
  list.replaceChildren();
  for (const ph of phones) {
    const self = me && ph.id === me.id;
    const li = el("li", {}, el("span", { textContent: ph.name + (self ? " (this phone)" : "") + (ph.admin ? " · admin" : "") }));
    if (self || (me && me.admin)) {
      li.append(el("button", { type: "button", className: "secondary", textContent: "Unpair",
        ariaLabel: self ? "Unpair this phone" : `Unpair ${ph.name}`,
        onclick: () => unpair(ph, self) }));
    }
    list.append(li);
  }
}

// The household's voices: an admin phone sees, gives roles to and forgets anyone's; a phone paired as
// a person sees and forgets theirs.
const ROLES = ["adult", "child", "guest"];

function renderVoices(people) {
  $("#voices-card").hidden = !(people.length || (me && me.admin));
  const list = $("#voices");
  list.replaceChildren();
  for (const p of people) {
    const who = [el("span", { textContent: `${p.name} · ${p.role}` })];
    if (me && me.admin) {
      const role = el("select", { ariaLabel: `${p.name}'s role`, onchange: (e) => setRole(p.name, p.role, e.target) });
      for (const r of ROLES.includes(p.role) ? ROLES : [...ROLES, p.role]) {
        role.append(el("option", { value: r, textContent: r, selected: r === p.role }));
      }
      who.splice(0, 1, el("span", { textContent: `${p.name} · ` }), role);
    }
    list.append(el("li", {}, ...who,
      el("button", { type: "button", className: "secondary", textContent: "Forget",
        ariaLabel: `Forget ${p.name}'s voice`, onclick: () => forgetVoice(p.name) })));
  }
}

async function setRole(name, was, select) {
  if (!confirm(`Give ${name} the role ${select.value}?`)) { select.value = was; return; }
  const r = await api(`/api/people/${encodeURIComponent(name)}/role`,
    { method: "PUT", body: JSON.stringify({ role: select.value }) });
  if (!r.ok && r.body.error) logLine("doing", `Problem: ${r.body.error}`);
  refresh();
}

async function forgetVoice(name) {
  if (!confirm(`Forget ${name}'s voice?`)) return;
  const r = await api(`/api/people/${encodeURIComponent(name)}`, { method: "DELETE" });
  if (!r.ok && r.body.error) logLine("doing", `Problem: ${r.body.error}`);
  refresh();
}

async function unpair(ph, self) {
  if (!confirm(self ? "Unpair this phone?" : `Unpair ${ph.name}?`)) return;
  const r = await api(`/api/phones/${encodeURIComponent(ph.id)}`, { method: "DELETE" });
  if (!r.ok && r.body.error) logLine("doing", `Problem: ${r.body.error}`);
  if (self) showPairing(); else refresh();
}

if ("serviceWorker" in navigator && location.protocol === "https:") navigator.serviceWorker.register("/sw.js").catch(() => {});
start().then(() => { if ($("#app").hidden) showPairing(); });
