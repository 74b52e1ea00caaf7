// The schedule's facts, its unmet targets (scheduling_result.unresolved) and the solver's notes.
import { facts, fillTable, utcText } from "./tables.js";

const $ = (id) => document.getElementById(id);

export function showSchedule(body, problem) {
  if (!body) {
    facts($("schedule-info"), [["status", problem || "none yet"]]);
    fillTable($("unmet-table"), [], "no schedule");
    $("solver-notes").replaceChildren();
    return;
  }
  const solver = body.solver || {};
  const unmet = (body.scheduling_result && body.scheduling_result.unresolved) || [];
  facts($("schedule-info"), [
    ["schedule", body.schedule], ["start", utcText(body.start)], ["shown", body.duration],
    ["solver status", solver.status || "—"],
    ["cost over the horizon", solver.cost_eur === null || solver.cost_eur === undefined ? "—" : `${solver.cost_eur.toFixed(2)} EUR`],
    ["unmet targets", String(unmet.length)],
  ]);
  fillTable($("unmet-table"), unmet.map((u) => [
    u.constraint, utcText(u.datetime), u.violation, u.message,
  ]), "every target is met");
  const notes = body.notes || [];
  $("solver-notes").replaceChildren(...(notes.length ? notes : ["none"]).map((note) => {
    const li = document.createElement("li"); li.textContent = note; return li;
  }));
}
