// HTTP API calls for the pages: JSON in and out, errors as ApiError, handlers for 401.
const unauthorized = [];

// An HTTP answer other than 2xx: status, parsed body (or text) and the API's message.
export class ApiError extends Error {
  constructor(status, body) {
    const msg = body && typeof body === "object" && body.error ? body.error : `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.body = body;
  }
}

// Adds fn(error), called for every 401 (no valid credentials and no anonymous access); the page
// and the shared header (common/session.js) each add theirs.
export function onUnauthorized(fn) {
  unauthorized.push(fn);
}

async function call(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = text;
  }
  if (!r.ok) {
    const err = new ApiError(r.status, data);
    if (r.status === 401) for (const fn of unauthorized) fn(err);
    throw err;
  }
  return data;
}

// GET path; resolves to the parsed JSON, rejects with ApiError (or a network TypeError).
export function apiGet(path) {
  return call("GET", path);
}

// method path with a JSON body; resolves to the parsed JSON answer (null for 204).
export function apiSend(method, path, body) {
  return call(method, path, body);
}
