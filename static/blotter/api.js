// The REST API with the browser's session: JSON in and out, Django's CSRF token from its cookie.

const API = "/api/v1/";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Answers {status, ok, data}; never throws for an HTTP status, only for a network failure
 * (then {status: 0, ok: false, data: {detail}}). A lost session goes back to the login page. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (error) {
    return { status: 0, ok: false, data: { detail: `the OMS did not answer (${error.message})` } };
  }
  if (response.status === 401) {
    window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
  }
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 300) };
  }
  return { status: response.status, ok: response.ok, data };
}

/** Every page of a limit/offset list. */
export async function apiList(path) {
  const rows = [];
  let next = path + (path.includes("?") ? "&" : "?") + "limit=500";
  while (next) {
    const answer = await api(next);
    if (!answer.ok) return rows;
    const page = answer.data;
    if (Array.isArray(page)) return page;
    rows.push(...page.results);
    next = page.next ? page.next.slice(page.next.indexOf(API) + API.length) : null;
  }
  return rows;
}

/** A refusal's message for people: DRF's `detail`, else the fields' messages. */
export function errorText(data) {
  if (!data) return "no answer";
  if (typeof data === "string") return data;
  if (data.detail) return String(data.detail);
  return Object.entries(data)
    .filter(([key]) => key !== "reason" && key !== "order")
    .map(([key, value]) => `${key}: ${flatten(value).join(" ")}`)
    .join("; ");
}

/** A 400's messages by field path ("routing.venue"), nested objects flattened. */
export function fieldErrors(data, prefix = "") {
  const found = {};
  if (!data || typeof data !== "object" || Array.isArray(data)) return found;
  for (const [key, value] of Object.entries(data)) {
    if (key === "detail" || key === "reason" || key === "order") continue;
    const path = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(found, fieldErrors(value, path));
    else found[path] = flatten(value).join(" ");
  }
  return found;
}

function flatten(value) {
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (value && typeof value === "object") return Object.values(value).flatMap(flatten);
  return [String(value)];
}
