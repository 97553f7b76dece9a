// The public API with the user's token. Tokens live in sessionStorage (gone with the tab); on a 401
// the refresh token is tried once, then the app goes back to the sign-in page.
const ACCESS = "secplat.access_token";
const REFRESH = "secplat.refresh_token";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const listeners = { unauthorized: [], reachable: [] };
export function on(event, fn) {
  listeners[event].push(fn);
}
function emit(event, arg) {
  for (const fn of listeners[event]) fn(arg);
}

export function token() {
  return sessionStorage.getItem(ACCESS);
}
export function setTokens(pair) {
  sessionStorage.setItem(ACCESS, pair.access_token);
  if (pair.refresh_token) sessionStorage.setItem(REFRESH, pair.refresh_token);
}
export function clearTokens() {
  sessionStorage.removeItem(ACCESS);
  sessionStorage.removeItem(REFRESH);
}

// The API's error envelope → a readable message.
function messageOf(status, body) {
  if (body && typeof body === "object") {
    const e = body.error;
    if (e && typeof e.message === "string") {
      if (Array.isArray(e.detail) && e.detail.length && e.detail[0] && e.detail[0].msg)
        return `${e.message}: ${e.detail.map((d) => (d.loc ? d.loc.join(".") + ": " : "") + d.msg).join("; ")}`;
      return e.message;
    }
    if (typeof body.detail === "string") return body.detail;
  }
  return `Request failed (HTTP ${status})`;
}

async function send(method, path, opts, auth) {
  const headers = Object.assign({}, opts.headers || {});
  let body = opts.body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams) && !(body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  if (auth && token()) headers["Authorization"] = `Bearer ${token()}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: "no-store", signal: opts.signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    emit("reachable", false);
    throw new ApiError(0, "API unreachable", null);
  }
  // Any answer means the API is reachable (a 503 from one route is that route's answer).
  emit("reachable", true);
  return res;
}

let refreshing = null;
async function refresh() {
  const rt = sessionStorage.getItem(REFRESH);
  if (!rt) return false;
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await send("POST", "/auth/refresh", { body: { refresh_token: rt } }, false);
        if (!res.ok) return false;
        setTokens(await res.json());
        return true;
      } catch {
        return false;
      } finally {
        setTimeout(() => (refreshing = null), 0);
      }
    })();
  }
  return refreshing;
}

// Returns the Response (ok), or throws ApiError. opts: {body, headers, signal, raw}.
export async function request(method, path, opts = {}) {
  let res = await send(method, path, opts, true);
  if (res.status === 401 && token()) {
    if (await refresh()) res = await send(method, path, opts, true);
    if (res.status === 401) {
      clearTokens();
      emit("unauthorized");
    }
  }
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    throw new ApiError(res.status, messageOf(res.status, body), body);
  }
  return res;
}

export async function json(method, path, body) {
  const res = await request(method, path, body === undefined ? {} : { body });
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path) => json("GET", path);
export const post = (path, body) => json("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => json("PATCH", path, body);
export const put = (path, body) => json("PUT", path, body);
export const del = (path) => json("DELETE", path);

// GET with X-Total-Count: {items, total}.
export async function page(path) {
  const res = await request("GET", path);
  const items = await res.json();
  const total = Number(res.headers.get("X-Total-Count"));
  return { items, total: Number.isFinite(total) ? total : items.length };
}

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const res = await send("POST", "/auth/login", { body: form }, false);
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, messageOf(res.status, body), body);
  setTokens(body);
  return body;
}

// Ends the session on the server (the route needs the access token too), then forgets the tokens.
export async function logout() {
  const rt = sessionStorage.getItem(REFRESH);
  if (rt && token()) {
    try {
      await send("POST", "/auth/logout", { body: { refresh_token: rt } }, true);
    } catch {
      /* signed out locally either way */
    }
  }
  clearTokens();
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
