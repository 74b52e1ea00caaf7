// Calls to the platform's public API with the session cookie (set by /dashboard/login).
// Writes carry the CSRF token the server handed out for this session.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    const message = body && body.message ? body.message : `HTTP ${status}`;
    super(body && body.field ? `${message} (field: ${body.field})` : message);
    this.status = status;
    this.code = body && body.status;
  }
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return { status: response.status, body: parsed };
}

export async function currentSession() {
  try {
    const { body } = await request("GET", "/dashboard/session");
    csrfToken = body.csrf_token;
    return body;
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

export async function login(email, password) {
  const { body } = await request("POST", "/dashboard/login", { email, password });
  csrfToken = body.csrf_token;
  return body;
}

export async function logout() {
  await request("POST", "/dashboard/logout");
  csrfToken = null;
}

export const get = (path) => request("GET", path).then((r) => r.body);
export const post = (path, body) => request("POST", path, body);

// Poll a job until it is no longer pending (FlexMeasures' 202 while queued); bounded.
export async function waitForJob(path, { attempts = 60, delayMs = 500 } = {}) {
  for (let i = 0; i < attempts; i += 1) {
    const { status, body } = await request("GET", path);
    if (status !== 202) return body;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  throw new Error("the job is still running; look again in a moment");
}
