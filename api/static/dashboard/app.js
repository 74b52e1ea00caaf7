// The dashboard: log in, pick a site or device, see its series, act on it.
import * as api from "./api.js";
import { drawChart, drawMap } from "./chart.js";
import { uploadCsv } from "./upload.js";
import { dataPath, parseIsoDuration, queryResolution, toXY } from "./series.js";
import { followSent, loadCommands, noteCommandEvent, sendCommand } from "./commands.js";
import { loadSessions } from "./sessions.js";
import { showSchedule } from "./schedule_info.js";
import { facts } from "./tables.js";
import { startLive, stopLive } from "./live.js";

const $ = (id) => document.getElementById(id);
const state = { assets: [], asset: null, sensors: [], sensor: null, live: false };
const DAY_MS = 86400000;

function setStatus(message, bad = false) {
  $("status").textContent = message;
  $("status").classList.toggle("bad", bad);
}

async function boot() {
  const session = await api.currentSession();
  if (session) showApp(session); else showLogin();
}

function showLogin() {
  $("login-view").hidden = false;
  $("app-view").hidden = true;
  $("account").hidden = true;
  $("email").focus();
}

async function showApp(session) {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("account").hidden = false;
  $("who").textContent = `${session.email} (${session.roles.join(", ") || "user"})`;
  const today = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
  $("start-date").value = new Date(today - DAY_MS).toISOString().slice(0, 10);
  state.assets = await api.get("/api/v3_0/assets");
  renderTree();
  drawMap($("map"), state.assets.filter((a) => a.parent_asset_id === null), selectAsset);
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get("asset"));
  const first = state.assets.find((a) => a.id === wanted) || state.assets.find((a) => a.parent_asset_id === null);
  if (first) await selectAsset(first.id);
  startLive({ onEvent, onPoll: () => { refresh(); refreshPanels(); }, onMode: showMode });
}

const LIVE_TEXT = { live: "Live", reconnecting: "Reconnecting…", polling: "Polling every 15 s" };
function showMode(mode) {
  state.live = mode === "live";
  $("live-status").textContent = LIVE_TEXT[mode];
  $("live-status").dataset.mode = mode;
  $("live-status").classList.toggle("on", state.live);
}

// Coalesce bursts of events: each kind of view reloads at most once per 400 ms.
const pending = new Map();
function soon(key, fn) {
  if (pending.has(key)) return;
  pending.set(key, setTimeout(() => {
    pending.delete(key);
    Promise.resolve().then(fn).catch((error) => setStatus(`Could not update: ${error.message}`, true));
  }, 400));
}

function onEvent(event) {
  const [kind, id] = [event.stream_id.split("-")[0], Number(event.stream_id.split("-").slice(1).join("-"))];
  const shown = state.sensor && [state.sensor.id, Number(priceSensorId(state.asset))].includes(id);
  if ((kind === "sensordata" || kind === "forecast") && shown) soon("chart", refresh);
  else if (kind === "schedule" || kind === "job") soon("chart", refresh);
  else if (kind === "command") { noteCommandEvent(event); soon("commands", () => loadCommands(state.assets, state.asset)); }
  if (/^(EvPlugged|Charging|ConnectionState)/.test(event.type)) soon("sessions", () => loadSessions(state.assets, state.asset, $("sessions-table")));
}

async function refreshPanels() {
  if (!state.asset) return;
  await Promise.all([
    loadCommands(state.assets, state.asset).catch((e) => setStatus(`Commands: ${e.message}`, true)),
    loadSessions(state.assets, state.asset, $("sessions-table")).catch((e) => setStatus(`Charge sessions: ${e.message}`, true)),
  ]);
}

function renderTree() {
  const byParent = new Map();
  for (const asset of state.assets) {
    const key = asset.parent_asset_id ?? "root";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(asset);
  }
  const build = (key) => {
    const list = document.createElement("ul");
    for (const asset of byParent.get(key) || []) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.assetId = asset.id;
      button.innerHTML = `${escapeHtml(asset.name)} <span class="type">${escapeHtml(asset.generic_asset_type.name)}</span>`;
      button.addEventListener("click", () => selectAsset(asset.id));
      item.append(button);
      if (byParent.has(asset.id)) item.append(build(asset.id));
      list.append(item);
    }
    return list;
  };
  $("asset-tree").replaceChildren(...build("root").children);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

async function selectAsset(assetId) {
  // A later selection wins: results of an earlier one that arrive late are dropped.
  const selection = (state.selection = (state.selection || 0) + 1);
  const current = () => selection === state.selection;
  state.asset = state.assets.find((a) => a.id === assetId);
  state.sensor = null; // until this asset's sensors are loaded: no action may target the previous one
  delete document.body.dataset.loadedAsset;
  setStatus("");
  history.replaceState(null, "", `#asset=${assetId}`);
  for (const b of document.querySelectorAll(".tree button")) b.setAttribute("aria-current", String(Number(b.dataset.assetId) === assetId));
  $("asset-title").textContent = state.asset.name;
  const sensors = await api.get(`/api/v3_0/sensors?asset_id=${assetId}`);
  if (!current()) return;
  state.sensors = sensors;
  const select = $("sensor-select");
  select.replaceChildren(...sensors.map((s) => new Option(`${s.name} (${s.unit})`, s.id)));
  const power = sensors.find((s) => /W$/.test(s.unit)) || sensors[0];
  state.sensor = power || null;
  if (power) select.value = power.id;
  document.body.dataset.loadedAsset = String(assetId); // its sensors are known: actions may target it
  const latest = power && !state.windowChosen ? await latestDataStart(power) : null;
  if (!current()) return;
  if (latest) { $("start-date").value = latest; $("days").value = "3"; }
  await Promise.all([refresh(), refreshPanels()]);
}

async function latestDataStart(sensor) {
  // The start of a 3-day window ending with the last day that holds data (the demo's data ends in
  // the past), from daily means of the last 60 days; null when there is none.
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const from = new Date(today - 59 * DAY_MS);
  try {
    const daily = await api.get(dataPath(sensor.id, from.toISOString(), 60 * 86400, 86400));
    const last = daily.values.map((v, i) => (v === null ? -1 : i)).reduce((a, b) => Math.max(a, b), -1);
    return last < 0 ? null : new Date(from.getTime() + Math.max(last - 2, 0) * DAY_MS).toISOString().slice(0, 10);
  } catch (error) {
    return null;
  }
}

function flexContext(asset) {
  // The asset's flex-context, inherited from its ancestors field by field (as the scheduler does).
  let merged = {};
  for (let a = asset; a; a = state.assets.find((p) => p.id === a.parent_asset_id)) {
    merged = { ...JSON.parse(a.flex_context || "{}"), ...merged };
  }
  return merged;
}

function priceSensorId(asset) {
  const context = flexContext(asset);
  const price = context["consumption-price"] || context["consumption-price-sensor"];
  return typeof price === "object" && price ? price.sensor : price;
}

function windowOf() {
  const start = new Date(`${$("start-date").value}T00:00:00Z`);
  return { start, seconds: Number($("days").value) * 86400 };
}

function beliefTime(window) {
  const min = window.start.getTime() - DAY_MS;
  const max = Math.min(Date.now(), window.start.getTime() + window.seconds * 1000);
  const fraction = Number($("belief-time").value) / 100;
  return new Date(Math.round((min + fraction * (max - min)) / 900000) * 900000);
}

async function series(path) {
  try { return toXY(await api.get(path)); } catch (error) { return null; }
}

async function refresh() {
  const run = (state.refreshRun = (state.refreshRun || 0) + 1); // only the newest refresh draws
  const sensor = state.sensor;
  if (!sensor) {
    setStatus("This asset has no sensors: its devices' charge sessions and commands are below.");
    if (window.Plotly) window.Plotly.purge($("chart"));
    $("belief-label").textContent = "—";
    showSchedule(null, "no sensor here");
    facts($("forecast-info"), [["configured", "no sensor here"]]);
    return;
  }
  const window = windowOf();
  const startIso = window.start.toISOString();
  const resolution = queryResolution(window.seconds, parseIsoDuration(sensor.event_resolution));
  const believed = beliefTime(window);
  $("belief-label").textContent = believed.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const priceId = priceSensorId(state.asset);
  const [readings, forecast, prices, schedule] = await Promise.all([
    series(dataPath(sensor.id, startIso, window.seconds, resolution)),
    series(dataPath(sensor.id, startIso, window.seconds, resolution, { source: "forecaster:auto", prior: believed.toISOString() })),
    priceId ? series(dataPath(priceId, startIso, window.seconds, 3600)) : null,
    loadSchedule(sensor),
  ]);
  const priceSensor = priceId ? await api.get(`/api/v3_0/sensors/${priceId}`).catch(() => null) : null;
  if (run !== state.refreshRun) return;
  drawChart($("chart"), {
    readings, forecast, schedule, prices, unit: sensor.unit, priceUnit: priceSensor && priceSensor.unit, beliefTime: believed,
  });
  await showForecasting(sensor);
}

async function loadSchedule(sensor) {
  try {
    const body = await api.get(`/api/v3_0/sensors/${sensor.id}/schedules/latest?duration=P2D`);
    showSchedule(body);
    return toXY(body);
  } catch (error) {
    showSchedule(null, error.status === 404 ? "none yet for this sensor" : error.message);
    return null;
  }
}

async function showForecasting(sensor) {
  try {
    const info = await api.get(`/api/v3_0/sensors/${sensor.id}/forecasting`);
    facts($("forecast-info"), [
      ["configured", String(info.configured)], ["serving", info.source || "—"],
      ["latest belief", info.latest_belief_time || "—"], ["readings learned", info.learned ?? "—"],
      ["problem", info.problem || "—"],
    ]);
  } catch (error) {
    facts($("forecast-info"), [["error", error.message]]);
  }
}

function scheduleStart(sensor) {
  // From now, or (when the window shown ends earlier) from the window's last day; aligned to the sensor.
  const stepMs = Math.max(parseIsoDuration(sensor.event_resolution), 60) * 1000;
  const window = windowOf();
  const lastDay = window.start.getTime() + window.seconds * 1000 - DAY_MS;
  return new Date(Math.floor(Math.min(Date.now(), lastDay) / stepMs) * stepMs);
}

function storedFlexModel(sensor) {
  const models = JSON.parse(state.asset.flex_model || "[]");
  const list = Array.isArray(models) ? models : [models];
  const own = list.find((m) => m && m.sensor === sensor.id) || {};
  const { sensor: _ignored, ...rest } = own;
  return rest;
}

function scheduleFlexModel(sensor, start) {
  // The device's stored flex-model, with the operator's state of charge and (optional) target.
  const model = { ...storedFlexModel(sensor), "soc-at-start": `${Number($("soc-start").value)} kWh` };
  const target = $("soc-target").value;
  if (target !== "" && $("soc-target-time").value) {
    let at = new Date(`${start.toISOString().slice(0, 10)}T${$("soc-target-time").value}:00Z`);
    if (at <= start) at = new Date(at.getTime() + DAY_MS);
    model["soc-targets"] = [{ datetime: at.toISOString(), value: `${Number(target)} kWh` }];
  }
  return model;
}

async function triggerSchedule(event) {
  event.preventDefault();
  const sensor = state.sensor;
  if (!sensor) {
    setStatus("The device's sensors are still loading: try again in a moment.", true);
    return;
  }
  setStatus("Scheduling…");
  try {
    const start = scheduleStart(sensor);
    const body = { start: start.toISOString(), duration: "PT24H", "flex-model": scheduleFlexModel(sensor, start) };
    const { body: queued } = await api.post(`/api/v3_0/sensors/${sensor.id}/schedules/trigger`, body);
    await api.waitForJob(`/api/v3_0/sensors/${sensor.id}/schedules/${queued.schedule}`);
    setStatus(`Schedule ${queued.schedule} computed.`);
    await refresh();
  } catch (error) {
    setStatus(`Scheduling failed: ${error.message}`, true);
  }
}

async function triggerForecast() {
  const sensor = state.sensor;
  if (!sensor) {
    setStatus("The device's sensors are still loading: try again in a moment.", true);
    return;
  }
  setStatus("Forecasting…");
  try {
    const body = { start: scheduleStart(sensor).toISOString(), duration: "PT24H" };
    const { body: queued } = await api.post(`/api/v3_0/sensors/${sensor.id}/forecasts/trigger`, body);
    await api.waitForJob(`/api/v3_0/sensors/${sensor.id}/forecasts/${queued.forecast}`);
    setStatus(`Forecast ${queued.forecast} computed.`);
    $("belief-time").value = 100;
    await refresh();
  } catch (error) {
    setStatus(`Forecasting failed: ${error.message}`, true);
  }
}

async function onUpload(event) {
  const file = event.target.files[0];
  if (!file) return;
  if (!state.sensor) {
    setStatus("The device's sensors are still loading: try again in a moment.", true);
    return;
  }
  const progress = $("upload-progress");
  progress.hidden = false;
  try {
    const stored = await uploadCsv(state.sensor, await file.text(), (done) => { progress.value = done; });
    setStatus(`Uploaded ${stored} readings from ${file.name}.`);
    await refresh();
  } catch (error) {
    setStatus(`Upload failed: ${error.message}`, true);
  } finally {
    event.target.value = "";
  }
}

let debounce = null;
function later(fn) { clearTimeout(debounce); debounce = setTimeout(fn, 250); }

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await api.login($("email").value, $("password").value);
    showApp(await api.currentSession());
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});
$("logout").addEventListener("click", async () => { await api.logout(); stopLive(); showLogin(); });
$("sensor-select").addEventListener("change", () => {
  state.sensor = state.sensors.find((s) => s.id === Number($("sensor-select").value));
  refresh();
});
$("start-date").addEventListener("change", () => { state.windowChosen = true; refresh(); });
$("days").addEventListener("change", () => { state.windowChosen = true; refresh(); });
$("belief-time").addEventListener("input", () => later(refresh));
$("schedule-form").addEventListener("submit", triggerSchedule);
$("trigger-forecast").addEventListener("click", triggerForecast);
$("csv-file").addEventListener("change", onUpload);
$("command-action").addEventListener("change", () => { $("command-power").disabled = $("command-action").value !== "set_power"; });
$("command-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const sentCommand = await sendCommand(state.asset);
  if (!sentCommand) return;
  await loadCommands(state.assets, state.asset);
  if (!state.live) await followSent(); // the stream reports the rest when it is live
});

boot().catch((error) => setStatus(`Could not start: ${error.message}`, true));
