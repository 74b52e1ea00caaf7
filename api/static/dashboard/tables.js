// Small DOM helpers for the dashboard's tables and fact lists (text only: no HTML from data).

export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined || text === "" ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

export function fillTable(table, rows, emptyText) {
  // rows: arrays of <td> (or of texts); an empty list shows one row saying so.
  const body = table.tBodies[0];
  if (!rows.length) {
    const td = cell(emptyText, "empty");
    td.colSpan = table.tHead.rows[0].cells.length;
    const tr = document.createElement("tr");
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.append(...cells.map((c) => (c instanceof HTMLElement ? c : cell(c))));
    return tr;
  }));
}

export function facts(element, entries) {
  element.replaceChildren(...entries.flatMap(([key, value]) => {
    const dt = document.createElement("dt"); dt.textContent = key;
    const dd = document.createElement("dd"); dd.textContent = value;
    return [dt, dd];
  }));
}

export function utcText(iso) {
  // "2026-12-06 08:01:02" from an ISO time (any offset); "—" when absent.
  if (!iso) return "—";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

// The devices under an asset (itself first, then its descendants), at most `limit`.
export function subtree(assets, root, limit) {
  const out = [root];
  for (let i = 0; i < out.length && out.length < limit; i += 1) {
    for (const child of assets.filter((a) => a.parent_asset_id === out[i].id)) {
      if (out.length < limit) out.push(child);
    }
  }
  return out;
}
