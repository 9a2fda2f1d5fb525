// nioserve demo page: listens to /_status as an event stream (one sample a
// second, pushed by the server's ticker thread; no worker waits for this page),
// falls back to polling /_status once a second when the stream is not to be had,
// shows the counters and draws the last 60 seconds of open / idle connections
// and busy workers. <body data-source> says where the numbers come from:
// "stream" or "poll".
"use strict";

const POLL_MS = 1000;     // one sample per second
const TIMEOUT_MS = 2500;  // a fetch slower than this counts as a failure
const SAMPLES = 60;       // chart window: 60 samples = 60 seconds
const STALE_MS = 2500;    // a stream silent this long shows as down (a gap in the chart)
const FIRST_EVENT_MS = 10000; // a stream with no event this long is given up for polling

// Chart series: the /_status key and the CSS variable holding its color.
const SERIES = [
  { key: "connections_idle", color: "--idle", area: true },
  { key: "connections_open", color: "--open" },
  { key: "workers_busy", color: "--workers" },
];

const num = new Intl.NumberFormat("en-US");
const counters = document.querySelectorAll("[data-counter]");
const statusLine = document.getElementById("status-line");
const rateEl = document.getElementById("rate");
const liveSection = document.getElementById("live");
const canvas = document.getElementById("chart");

// Chart history: one entry per poll, null for a failed poll (drawn as a gap).
const history = [];
let previous = null; // last successful status, for the request rate

// ---- formatting ----

function formatUptime(secs) {
  const s = Math.floor(secs);
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${pad(Math.floor(s / 3600) % 24)}h`;
}

function format(key, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return key === "uptime_secs" ? formatUptime(value) : num.format(value);
}

// ---- counters and status ----

function render(status) {
  for (const el of counters) {
    const value = status[el.dataset.counter];
    el.textContent = format(el.dataset.counter, value);
    el.dataset.value = String(value ?? ""); // the raw number, for tests and tools
  }

  // Requests per second since the previous sample.
  if (previous && status.uptime_secs < previous.uptime_secs) {
    rateEl.textContent = ""; // the server restarted
  } else if (previous && status.uptime_secs > previous.uptime_secs) {
    const rate = (status.requests - previous.requests) / (status.uptime_secs - previous.uptime_secs);
    rateEl.textContent = `${num.format(Math.max(0, Math.round(rate)))} req/s`;
  }
  previous = status;
}

function setStatus(ok) {
  statusLine.dataset.state = ok ? "live" : "down";
  statusLine.textContent = ok ? "live" : "server unreachable";
  liveSection.classList.toggle("stale", !ok);
  if (!ok) {
    rateEl.textContent = "";
    previous = null;
  }
}

function pushSample(status) {
  history.push(status ? SERIES.map((s) => Number(status[s.key]) || 0) : null);
  if (history.length > SAMPLES) history.shift();
}

// ---- polling ----

async function fetchStatus() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const res = await fetch("/_status", { cache: "no-store", signal: abort.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

function markReady() {
  const set = () => { document.body.dataset.ready = "1"; };
  if (document.readyState === "complete") set();
  else window.addEventListener("load", set, { once: true });
}

let ready = false;

// One good sample, from the stream or a poll.
function accept(status, source) {
  render(status);
  setStatus(true);
  pushSample(status);
  draw();
  document.body.dataset.source = source;
  if (!ready) {
    ready = true;
    markReady();
  }
}

async function poll() {
  const started = performance.now();
  try {
    accept(await fetchStatus(), "poll");
  } catch (err) {
    setStatus(false);
    pushSample(null);
    draw();
  }
  // Keep a steady one-second rhythm whatever the fetch took.
  setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - started)));
}

// ---- the event stream ----

// Listens to /_status as server-sent events. Returns false when the browser has
// no EventSource. Falls back to polling when the stream fails for good: the
// server answers something other than an event stream (EventSource closes), or
// no event arrives at all within FIRST_EVENT_MS (a proxy holding it back).
// A stream that drops after working is reopened by the browser itself; while
// it is silent, the page shows the server as down.
function listen() {
  if (typeof EventSource !== "function") return false;
  const source = new EventSource("/_status");
  let last = 0; // when the last event arrived (0: none yet)
  const opened = performance.now();
  let watchdog = null;
  const giveUp = () => {
    source.close();
    clearInterval(watchdog);
    poll();
  };
  source.onmessage = (event) => {
    let status;
    try {
      status = JSON.parse(event.data);
    } catch (err) {
      return; // not a sample; the next one will be
    }
    last = performance.now();
    accept(status, "stream");
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) giveUp();
  };
  // Once a second: a silent stream leaves a gap, as a failed poll does.
  watchdog = setInterval(() => {
    const now = performance.now();
    if (!last && now - opened > FIRST_EVENT_MS) {
      giveUp();
    } else if (last && now - last > STALE_MS) {
      setStatus(false);
      pushSample(null);
      draw();
    }
  }, POLL_MS);
  return true;
}

// ---- chart ----

// A y axis top and grid step with round numbers: 0-5, 0-10, 0-20, 0-50, ...
function niceScale(max) {
  const target = Math.max(max, 5) / 5;
  const mag = 10 ** Math.floor(Math.log10(target));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= target);
  return { step, top: Math.ceil(Math.max(max, 5) / step) * step };
}

function draw() {
  drawChart(canvas, history, SERIES);
}

// Draws `history` (one array of values per sample, in `series` order, or null for a
// gap) on `canvas`: the last SAMPLES seconds, newest at the right.
function drawChart(canvas, history, series) {
  if (!canvas.clientWidth) return; // hidden
  const ctx = canvas.getContext("2d");
  const css = getComputedStyle(document.documentElement);
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);

  const max = Math.max(0, ...history.flatMap((v) => v || []));
  const { step, top } = niceScale(max);

  ctx.font = `12px ${css.getPropertyValue("--sans")}`;
  const left = Math.ceil(ctx.measureText(num.format(top)).width) + 14;
  const right = w - 10;
  const plotTop = 10;
  const bottom = h - 24;
  const x = (i) => right - (SAMPLES - 1 - i) * ((right - left) / (SAMPLES - 1));
  const y = (v) => bottom - (v / top) * (bottom - plotTop);

  // Horizontal grid lines with y labels.
  ctx.lineWidth = 1;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (let v = 0; v <= top; v += step) {
    const gy = Math.round(y(v)) + 0.5;
    ctx.strokeStyle = v === 0 ? "#cbd5e1" : "#edf1f6";
    ctx.beginPath();
    ctx.moveTo(left, gy);
    ctx.lineTo(right, gy);
    ctx.stroke();
    ctx.fillStyle = "#64748b";
    ctx.fillText(num.format(v), left - 8, gy);
  }

  // X labels: seconds ago.
  ctx.textBaseline = "top";
  for (const ago of [60, 45, 30, 15, 0]) {
    const i = Math.min(SAMPLES - 1, SAMPLES - 1 - ago);
    ctx.textAlign = ago === 0 ? "right" : ago === 60 ? "left" : "center";
    ctx.fillText(ago === 0 ? "now" : `−${ago}s`, ago === 60 ? left : x(i), bottom + 7);
  }

  // Samples are right-aligned: the newest is at "now".
  const offset = SAMPLES - history.length;
  series.forEach((line, s) => {
    const color = css.getPropertyValue(line.color).trim();
    // Split into runs of consecutive successful samples; failures leave gaps.
    const runs = [];
    let run = [];
    history.forEach((sample, i) => {
      if (sample) run.push([x(offset + i), y(sample[s])]);
      else if (run.length) { runs.push(run); run = []; }
    });
    if (run.length) runs.push(run);

    for (const pts of runs) {
      if (line.area && pts.length > 1) {
        ctx.beginPath();
        ctx.moveTo(pts[0][0], bottom);
        for (const [px, py] of pts) ctx.lineTo(px, py);
        ctx.lineTo(pts[pts.length - 1][0], bottom);
        ctx.closePath();
        ctx.fillStyle = color + "1f"; // ~12% alpha on a #rrggbb color
        ctx.fill();
      }
      ctx.beginPath();
      pts.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
      ctx.strokeStyle = color;
      ctx.lineWidth = 2.25;
      ctx.lineJoin = "round";
      ctx.lineCap = "round";
      ctx.stroke();
    }

    // A dot on the newest value.
    const last = history[history.length - 1];
    if (last) {
      ctx.beginPath();
      ctx.arc(x(SAMPLES - 1), y(last[s]), 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = color;
      ctx.fill();
    }
  });
}

// Redraw when the canvas changes size (window resize, layout shifts).
new ResizeObserver(() => draw()).observe(canvas);
if (!listen()) poll();

// ---- the experiment (nioserve --experiment) ----

// Shown only when the server answers /_experiment: both servers' figures, polled once
// a second, and a control for the idle connections the load client holds against
// each. Every figure element carries its raw value in data-value ("none" for a fresh
// request that got no answer), for tests and tools.
const EXP_SERIES = [
  { key: "held", color: "--idle", area: true },
  { key: "threads", color: "--workers" },
];
const expSection = document.getElementById("experiment");
const expSlider = document.getElementById("exp-idle");
const expOutput = document.getElementById("exp-idle-value");
const expStatus = document.getElementById("exp-status");
const expModels = ["nio", "blocking"].map((name) => {
  const root = document.getElementById(`exp-${name}`);
  return {
    name,
    root,
    canvas: root.querySelector("canvas"),
    history: [],
    fields: Object.fromEntries([...root.querySelectorAll("[data-exp]")].map((el) => [el.dataset.exp, el])),
  };
});
let expSeq = -1;

function formatBytes(n) {
  if (typeof n !== "number") return "–";
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function setField(model, key, value, text) {
  const el = model.fields[key];
  if (!el) return;
  el.dataset.value = String(value ?? "");
  el.textContent = text;
}

function renderExperiment(exp) {
  expSlider.max = String(exp.limit);
  if (document.activeElement !== expSlider) {
    expSlider.value = String(exp.target);
    expOutput.textContent = num.format(exp.target);
  }
  const fresh = exp.seq !== expSeq;
  expSeq = exp.seq;
  for (const model of expModels) {
    const m = exp[model.name];
    const status = m.status || {};
    setField(model, "held", m.held, num.format(m.held));
    setField(model, "threads", status.threads, format("threads", status.threads));
    setField(model, "rss", status.rss_bytes, formatBytes(status.rss_bytes));
    if (m.latency_ms === null) {
      setField(model, "latency", "none", "no answer");
    } else {
      setField(model, "latency", m.latency_ms, `${m.latency_ms < 10 ? m.latency_ms.toFixed(2) : Math.round(m.latency_ms)} ms`);
    }
    model.fields.latency.classList.toggle("bad", m.latency_ms === null);
    const waiting = m.held - m.answered;
    let note;
    if (model.name === "blocking") {
      const pinned = status.connections_open;
      note = `${num.format(pinned ?? 0)} of ${num.format(exp.blocking_workers)} threads each hold one connection` +
        (waiting > 0 ? `; ${num.format(waiting)} connections wait in the listen backlog` : "") +
        (m.connecting > 0 ? `, ${num.format(m.connecting)} more are not even accepted by the kernel` : "") + ".";
    } else {
      note = `${num.format(status.connections_idle ?? 0)} idle connections on one poller thread; ` +
        `${num.format(status.workers_busy ?? 0)} of ${num.format(status.workers ?? 0)} workers busy.`;
    }
    model.fields.note.textContent = note;
    if (fresh) {
      model.history.push([m.held, Number(status.threads) || 0]);
      if (model.history.length > SAMPLES) model.history.shift();
    }
    model.root.dataset.samples = String(model.history.length);
    drawChart(model.canvas, model.history, EXP_SERIES);
  }
  expStatus.dataset.state = "live";
  expStatus.textContent = exp.target ? `holding ${num.format(exp.target)} per server` : "no load";
}

async function experimentRequest(method, query = "") {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const res = await fetch(`/_experiment${query}`, { method, cache: "no-store", signal: abort.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

async function pollExperiment() {
  const started = performance.now();
  try {
    renderExperiment(await experimentRequest("GET"));
  } catch (err) {
    expStatus.dataset.state = "down";
    expStatus.textContent = "server unreachable";
  }
  setTimeout(pollExperiment, Math.max(0, POLL_MS - (performance.now() - started)));
}

async function setIdle(n) {
  expOutput.textContent = num.format(n);
  try {
    renderExperiment(await experimentRequest("POST", `?idle=${n}`));
  } catch (err) {
    expStatus.dataset.state = "down";
    expStatus.textContent = "could not set the load";
  }
}

async function startExperiment() {
  let first;
  try {
    first = await experimentRequest("GET");
  } catch (err) {
    return; // no experiment on this server: the panel stays hidden
  }
  expSection.hidden = false;
  document.body.dataset.experiment = "1";
  expSlider.addEventListener("input", () => { expOutput.textContent = num.format(Number(expSlider.value)); });
  expSlider.addEventListener("change", () => setIdle(Number(expSlider.value)));
  for (const button of expSection.querySelectorAll("[data-idle]")) {
    button.addEventListener("click", () => {
      const n = button.dataset.idle === "max" ? Number(expSlider.max) : Number(button.dataset.idle);
      expSlider.value = String(n);
      setIdle(n);
    });
  }
  for (const model of expModels) new ResizeObserver(() => drawChart(model.canvas, model.history, EXP_SERIES)).observe(model.canvas);
  renderExperiment(first);
  setTimeout(pollExperiment, POLL_MS);
}

startExperiment();
