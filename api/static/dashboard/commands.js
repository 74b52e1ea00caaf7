// Device commands: the selected site's or device's commands with their lifecycle, and "send a command".
// Reads GET /api/v1/entities/{id}/commands (Realto shape); sends POST .../commands. The lifecycle
// (requested → dispatched → acknowledged / rejected / failed / expired / cancelled) is the list's
// status plus, for commands that changed while the page was open, each step seen on the live stream.
import * as api from "./api.js";
import { cell, fillTable, subtree, utcText } from "./tables.js";

const $ = (id) => document.getElementById(id);
const MAX_DEVICES = 25;
const SHOWN = 12;
const PAGES = 5; // at most 5 pages of 200 per device and refresh
const TERMINAL = new Set(["acknowledged", "rejected", "failed", "expired", "cancelled"]);
const trails = new Map(); // command id -> [{status, at}] seen on the live stream
let sent = null; // {id, entityId, label}: the command this page sent last (its outcome is shown)

export function noteCommandEvent(event) {
  // A stream event of a command-<uuid> stream: remember the step (DeviceCommandDispatched -> dispatched).
  const id = event.stream_id.slice("command-".length);
  const status = event.type.replace(/^DeviceCommand/, "").toLowerCase();
  const steps = trails.get(id) || [];
  if (!steps.some((s) => s.status === status)) steps.push({ status, at: event.metadata && event.metadata.recorded_at });
  trails.set(id, steps);
}

async function commandsOf(asset) {
  const from = new Date(Date.now() - 86400000).toISOString();
  let path = `/api/v1/entities/${asset.id}/commands?${new URLSearchParams({ from, pageSize: 200 })}`;
  const items = [];
  for (let page = 0; path && page < PAGES; page += 1) {
    const body = await api.get(path);
    items.push(...body.data.map((item) => ({ ...item, device: asset.name })));
    path = body.meta.continuationToken
      ? `/api/v1/entities/${asset.id}/commands?${new URLSearchParams({ from, pageSize: 200, continuationToken: body.meta.continuationToken })}`
      : null;
  }
  return items;
}

function lifecycle(item) {
  const d = item.data;
  const steps = [{ status: "requested", at: item.created }, ...(trails.get(item.id) || [])];
  if (!steps.some((s) => s.status === d.status)) steps.push({ status: d.status, at: d.updated });
  const seen = new Set();
  return steps.filter((s) => !seen.has(s.status) && seen.add(s.status))
    .map((s) => `${s.status} ${utcText(s.at).slice(11)}`).join(" → ");
}

export async function loadCommands(assets, asset) {
  const devices = subtree(assets, asset, MAX_DEVICES);
  const lists = await Promise.all(devices.map((d) => commandsOf(d).catch(() => [])));
  const items = lists.flat().sort((a, b) => (a.created < b.created ? 1 : -1)).slice(0, SHOWN);
  fillTable($("commands-table"), items.map((item) => [
    cell(item.device), cell(describe(item.data.command, item.data.parameters)),
    cell(item.data.status, `state ${item.data.status}`), cell(lifecycle(item)), cell(item.data.statusReason),
  ]), "no commands in the last 24 hours");
  if (sent) {
    const mine = lists.flat().find((item) => item.id === sent.id);
    if (mine) showOutcome(mine);
  }
}

function describe(command, parameters) {
  if (command === "set_power" && parameters && parameters.power_kw !== undefined) return `set power ${parameters.power_kw} kW`;
  return command.replace(/_/g, " ");
}

function showOutcome(item) {
  const d = item.data;
  const done = TERMINAL.has(d.status);
  const why = d.statusReason ? `: ${d.statusReason}` : "";
  $("command-outcome").textContent = `${sent.label} → ${d.status}${done ? why : " (waiting for the device…)"}`;
  $("command-outcome").classList.toggle("bad", ["rejected", "failed", "expired"].includes(d.status));
}

export async function sendCommand(asset) {
  const action = $("command-action").value;
  const parameters = action === "set_power" ? { power_kw: Number($("command-power").value) } : {};
  const label = `${describe(action, parameters)} on ${asset.name}`;
  $("command-outcome").classList.remove("bad");
  $("command-outcome").textContent = `Sending ${label}…`;
  try {
    const { body } = await api.post(`/api/v1/entities/${asset.id}/commands`, {
      command: action, parameters, reason: "sent from the dashboard",
    });
    sent = { id: body.id, entityId: asset.id, label };
    showOutcome(body);
    return body;
  } catch (error) {
    sent = null;
    $("command-outcome").textContent = `Could not send ${label}: ${error.message}`;
    $("command-outcome").classList.add("bad");
    return null;
  }
}

// Without the live stream: look at the sent command until it is finished (bounded).
export async function followSent(attempts = 30, delayMs = 1000) {
  for (let i = 0; sent && i < attempts; i += 1) {
    const item = await api.get(`/api/v1/entities/${sent.entityId}/commands/${sent.id}`).catch(() => null);
    if (item) showOutcome(item);
    if (!item || TERMINAL.has(item.data.status)) return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}
