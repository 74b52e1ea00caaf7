// CSV upload of readings ("datetime,value" per line; a header line is detected, not assumed).
// Values are posted in runs of consecutive timestamps at the sensor's resolution (the API's
// {values, start, duration} shape), at most CHUNK values per request, with progress.

import { isoDuration, parseIsoDuration } from "./series.js";
import { post } from "./api.js";

const CHUNK = 500;

export function parseCsv(text) {
  const rows = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim()) return;
    const [when, value] = line.split(",");
    const time = Date.parse(when);
    if (Number.isNaN(time)) {
      if (index === 0) return; // a header
      throw new Error(`line ${index + 1}: "${when}" is not a datetime`);
    }
    if (!/([zZ]|[+-]\d\d:?\d\d)$/.test(when.trim())) throw new Error(`line ${index + 1}: the datetime needs an offset`);
    const number = Number(value);
    if (value === undefined || value.trim() === "" || !Number.isFinite(number)) {
      throw new Error(`line ${index + 1}: "${value}" is not a number`);
    }
    rows.push([time, number]);
  });
  return rows.sort((a, b) => a[0] - b[0]);
}

export function runs(rows, stepMs) {
  const out = [];
  for (const [time, value] of rows) {
    const last = out[out.length - 1];
    if (last && time === last.start + last.values.length * stepMs && last.values.length < CHUNK) last.values.push(value);
    else out.push({ start: time, values: [value] });
  }
  return out;
}

export async function uploadCsv(sensor, text, onProgress) {
  const stepS = parseIsoDuration(sensor.event_resolution);
  const rows = parseCsv(text);
  if (!rows.length) throw new Error("the file holds no readings");
  const chunks = runs(rows, stepS * 1000);
  let done = 0;
  for (const chunk of chunks) {
    await post(`/api/v3_0/sensors/${sensor.id}/data`, {
      values: chunk.values, start: new Date(chunk.start).toISOString(),
      duration: isoDuration(stepS * chunk.values.length), unit: sensor.unit,
    });
    done += chunk.values.length;
    onProgress(Math.round((100 * done) / rows.length));
  }
  return done;
}
