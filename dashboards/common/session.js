// The header's "who is signed in" and sign-out button, shared by every page; no session: sign-in page.
import { onUnauthorized } from "./api.js";
import { addStrings, getLang, onLangChange, t } from "./i18n.js";

const SESSION = "/api/v1/session";
const LOGIN = "/login.html";

addStrings({
  vi: {
    "session.signin": "Đăng nhập",
    "session.signout": "Đăng xuất",
    "session.signed_out": "Chưa đăng nhập",
    "session.guest": "Khách, không đăng nhập · {role}",
    "session.role.viewer": "người xem",
    "session.role.operator": "vận hành viên",
    "session.role.analyst": "phân tích viên",
    "session.role.admin": "quản trị viên",
    "session.role.writer": "ghi dữ liệu",
    "session.title": "Đang đăng nhập: {user} ({role})",
  },
  en: {
    "session.signin": "Sign in",
    "session.signout": "Sign out",
    "session.signed_out": "Not signed in",
    "session.guest": "Guest, not signed in · {role}",
    "session.role.viewer": "viewer",
    "session.role.operator": "operator",
    "session.role.analyst": "analyst",
    "session.role.admin": "admin",
    "session.role.writer": "writer",
    "session.title": "Signed in: {user} ({role})",
  },
});

// The sign-in page's address, returning afterwards to this page (path, query and fragment only).
export function loginUrl(extra = {}) {
  const q = new URLSearchParams({ next: location.pathname + location.search + location.hash, lang: getLang(), ...extra });
  return `${LOGIN}?${q}`;
}

// An <a> to the sign-in page (for a page's 401 banner); the caller owns it.
export function signInLink() {
  const a = document.createElement("a");
  a.className = "ioc-signin-link";
  a.href = loginUrl();
  a.textContent = t("session.signin");
  return a;
}

let me = null; // GET /api/v1/session's answer; null: not known; false: signed out (401)
let known = false;
let box = null;
const waiters = [];

// Resolves to GET /api/v1/session's answer ({user, name, role, kind}) once known, or null if the
// page has no valid credentials or the server could not say.
export function whenSession() {
  return known ? Promise.resolve(me || null) : new Promise((r) => waiters.push(r));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function signOut(btn) {
  btn.disabled = true;
  try {
    await fetch(SESSION, { method: "DELETE", credentials: "same-origin" });
  } catch (e) {
    // the cookie may still be valid; the sign-in page says who is signed in
  }
  location.replace(loginUrl({ out: "1" }));
}

function render() {
  if (!box) return;
  box.replaceChildren();
  if (me === null) return;
  if (me === false || me.kind === "anonymous") {
    const text = me ? t("session.guest", { role: t(`session.role.${me.role}`) }) : t("session.signed_out");
    box.append(el("span", "ioc-session-who", text));
    const a = el("a", "ioc-btn ioc-signin-link", t("session.signin"));
    a.href = loginUrl();
    box.append(a);
  } else {
    const role = t(`session.role.${me.role}`);
    const who = el("span", "ioc-session-who");
    who.title = t("session.title", { user: me.name, role });
    who.append(el("b", "", me.name), document.createTextNode(` · ${role}`));
    box.append(who);
    if (me.kind === "session") {
      const btn = el("button", "ioc-btn ioc-signout", t("session.signout"));
      btn.type = "button";
      btn.addEventListener("click", () => signOut(btn));
      box.append(btn);
    }
  }
  box.dataset.user = me ? me.user : "";
}

function settle(answer) {
  me = answer;
  known = true;
  render();
  for (const r of waiters.splice(0)) r(me || null);
}

// Where the component goes: the page's [data-ioc-session] if it has one, else before the header's
// controls (or at its end).
function mount() {
  const header = document.querySelector(".ioc-header");
  box = document.querySelector("[data-ioc-session]");
  if (!box && header) {
    box = el("div", "ioc-session");
    header.insertBefore(box, header.querySelector(".controls"));
  }
  if (box) box.classList.add("ioc-session");
  render();
}

async function start() {
  let r;
  try {
    r = await fetch(SESSION, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    settle(null); // network down: say nothing; the page shows its own connection state
    return;
  }
  if (r.status === 401) {
    location.replace(loginUrl());
    return;
  }
  settle(r.ok ? await r.json() : null);
}

// A 401 later on (session expired or revoked): offer the sign-in link instead of the name.
onUnauthorized(() => settle(false));
onLangChange(render);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
start();
