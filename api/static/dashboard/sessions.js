// Charge sessions of the selected site's EVSEs (or of the selected EVSE), newest first.
// Reads GET /api/v1/entities/{id}/charge-sessions (Realto's charging records) per EVSE.
import * as api from "./api.js";
import { fillTable, subtree, utcText } from "./tables.js";

const MAX_DEVICES = 25;
const SHOWN = 15;

const isEvse = (asset) => /evse/i.test(asset.generic_asset_type.name);
const kwh = (v) => (v === null || v === undefined ? "—" : v.toFixed(2));

export async function loadSessions(assets, asset, table) {
  const evses = subtree(assets, asset, MAX_DEVICES).filter(isEvse);
  const lists = await Promise.all(evses.map(async (evse) => {
    // newest sessions: the last 30 days; when that has none, the first page of all time (oldest first)
    const recent = new URLSearchParams({ from: new Date(Date.now() - 30 * 86400000).toISOString(), pageSize: 100 });
    let body = await api.get(`/api/v1/entities/${evse.id}/charge-sessions?${recent}`).catch(() => ({ data: [] }));
    if (!body.data.length) body = await api.get(`/api/v1/entities/${evse.id}/charge-sessions?pageSize=100`).catch(() => ({ data: [] }));
    return body.data.map((record) => ({ device: evse.name, record }));
  }));
  const rows = lists.flat().sort((a, b) => (a.record.data.start < b.record.data.start ? 1 : -1)).slice(0, SHOWN);
  const empty = evses.length ? "no charge sessions recorded" : "no charger here";
  fillTable(table, rows.map(({ device, record }) => [
    device, utcText(record.data.start), record.data.end ? utcText(record.data.end) : "still plugged in",
    kwh(record.data.charge.total.total), kwh(record.data.charge.averagePower.value),
  ]), empty);
}
