// Plotly drawing: one chart per selection (readings, forecast, schedule on y; prices on y2),
// and a small longitude/latitude map of the sites (no map tiles: nothing loads from outside).

const COLORS = { readings: "#1f5fbf", forecast: "#e07b00", schedule: "#2a9d4b", prices: "#8a8f98" };

function trace(name, xy, extra = {}) {
  return { name, x: xy.x, y: xy.y, type: "scattergl", mode: "lines", connectgaps: false, ...extra };
}

export function drawChart(element, { readings, forecast, schedule, prices, unit, priceUnit, beliefTime }) {
  const traces = [];
  if (readings) traces.push(trace("latest beliefs (measured, else forecast)", readings, { line: { color: COLORS.readings } }));
  if (forecast) traces.push(trace(`forecast believed at ${beliefTime.toISOString().slice(0, 16)}Z`, forecast,
    { line: { color: COLORS.forecast, dash: "dot" } }));
  if (schedule) traces.push(trace("schedule", schedule, { line: { color: COLORS.schedule, shape: "hv" } }));
  if (prices) traces.push(trace("prices", prices, { yaxis: "y2", line: { color: COLORS.prices, shape: "hv" } }));
  const layout = {
    margin: { l: 50, r: 50, t: 10, b: 40 },
    legend: { orientation: "h", y: -0.15 },
    xaxis: { type: "date" },
    yaxis: { title: { text: unit || "" }, zeroline: true },
    yaxis2: { title: { text: priceUnit || "" }, overlaying: "y", side: "right", showgrid: false },
    shapes: [{ type: "line", xref: "x", yref: "paper", x0: beliefTime, x1: beliefTime, y0: 0, y1: 1,
      line: { color: COLORS.forecast, width: 1, dash: "dash" } }],
    uirevision: "keep-zoom",
  };
  window.Plotly.react(element, traces, layout, { responsive: true, displaylogo: false });
}

export function drawMap(element, sites, onSelect) {
  const located = sites.filter((s) => s.latitude !== null && s.longitude !== null);
  const data = [{
    type: "scatter", mode: "markers+text", x: located.map((s) => s.longitude), y: located.map((s) => s.latitude),
    text: located.map((s) => s.name), textposition: "top center", customdata: located.map((s) => s.id),
    marker: { size: 10, color: COLORS.readings },
  }];
  const layout = {
    margin: { l: 40, r: 10, t: 10, b: 30 },
    xaxis: { title: { text: "longitude" } }, yaxis: { title: { text: "latitude" }, scaleanchor: "x" },
  };
  window.Plotly.react(element, data, layout, { responsive: true, displaylogo: false });
  element.removeAllListeners?.("plotly_click");
  element.on?.("plotly_click", (event) => onSelect(event.points[0].customdata));
}
