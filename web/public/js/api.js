// Requests to the zonetrack server. Every URL is relative to the page, so the map works when the
// server sits behind a proxy under a path prefix.

/** An answer the server refused, with its stable code and the message a person can act on. */
export class ApiError extends Error {
  constructor(status, code, description) {
    super(description || `the server answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** GETs `path` (relative, with its query) and parses JSON; non-2xx becomes an ApiError. */
export function getJSON(path, signal) {
  return readJSON(fetch(path, { signal, headers: { Accept: 'application/json, application/geo+json' } }));
}

/** Parses the answer to a fetch already under way; non-2xx becomes an ApiError. */
export async function readJSON(pending) {
  const resp = await pending;
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // Not JSON: handled below for errors; a 2xx without JSON is a server bug worth reporting.
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, body?.code ?? String(resp.status), body?.description);
  }
  if (body === null) throw new ApiError(resp.status, 'bad_response', 'the server sent something that is not JSON');
  return body;
}

/** A query string from an object, skipping null/undefined values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The `bbox` parameter for Leaflet bounds, clamped to the globe, 4 decimals (about 10 m). */
export function bboxParam(bounds) {
  const w = Math.max(-180, bounds.getWest());
  const s = Math.max(-90, bounds.getSouth());
  const e = Math.min(180, bounds.getEast());
  const n = Math.min(90, bounds.getNorth());
  return [w, s, e, n].map((v) => v.toFixed(4)).join(',');
}
