// Time windows and series for the charts. Times are ISO 8601 with an offset (UTC here).

const MAX_POINTS = 1000; // downsampled by the server: the query asks for a coarser resolution

export function isoDuration(seconds) {
  if (seconds % 86400 === 0) return `P${seconds / 86400}D`;
  if (seconds % 60 === 0) return `PT${seconds / 60}M`;
  return `PT${seconds}S`;
}

export function parseIsoDuration(text) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(text || "");
  if (!m) return 0;
  const [, d, h, min, s] = m.map((v) => Number(v || 0));
  return ((d * 24 + h) * 60 + min) * 60 + s;
}

// The query resolution (seconds): a multiple of the sensor's, so a window has <= MAX_POINTS values.
export function queryResolution(windowSeconds, sensorResolutionSeconds) {
  const base = Math.max(sensorResolutionSeconds, 60);
  const factor = Math.max(1, Math.ceil(windowSeconds / base / MAX_POINTS));
  return base * factor;
}

// A series response ({start, resolution, values}) as Plotly x/y arrays; null values stay gaps.
export function toXY(series) {
  const startMs = Date.parse(series.start);
  const stepMs = parseIsoDuration(series.resolution || series.duration) * 1000;
  const step = series.resolution ? stepMs : stepMs / Math.max(series.values.length, 1);
  return {
    x: series.values.map((_, i) => new Date(startMs + i * step)),
    y: series.values,
  };
}

export function dataPath(sensorId, startIso, windowSeconds, resolutionSeconds, extra = {}) {
  const params = new URLSearchParams({
    start: startIso, duration: isoDuration(windowSeconds), resolution: isoDuration(resolutionSeconds), ...extra,
  });
  return `/api/v3_0/sensors/${sensorId}/data?${params}`;
}
