// The sign-in page: POST /api/v1/session, clear messages for a wrong password and for slowing down
// (429, with a countdown), then back to ?next= (same-origin relative paths only).
import { addStrings, applyI18n, getLang, onLangChange, setLang, t } from "./i18n.js";

const SESSION = "/api/v1/session";
const LOGIN_PATH = "/login.html";

addStrings({
  vi: {
    "login.brand": "Trung tâm Giám sát, Điều hành Thông minh",
    "login.brand_sub": "Đăng nhập hệ thống",
    "login.title": "Đăng nhập",
    "login.hint": "Dùng tài khoản do quản trị viên cấp.",
    "login.user": "Tên đăng nhập",
    "login.password": "Mật khẩu",
    "login.submit": "Đăng nhập",
    "login.busy": "Đang kiểm tra…",
    "login.next": "Sau khi đăng nhập sẽ quay lại:",
    "login.page./": "Bảng điều hành lãnh đạo",
    "login.page./operator/": "Bàn điều hành vận hành",
    "login.page./analyst/": "Báo cáo phân tích",
    "login.err.empty": "Hãy nhập tên đăng nhập và mật khẩu.",
    "login.err.401": "Sai tên đăng nhập hoặc mật khẩu.",
    "login.err.429": "Đăng nhập sai quá nhiều lần. Vui lòng đợi {wait} rồi thử lại.",
    "login.err.429_done": "Đã hết thời gian chờ, bạn có thể thử lại.",
    "login.err.503": "Chưa đăng nhập được: cơ sở dữ liệu của máy chủ chưa sẵn sàng. Vui lòng thử lại sau ít phút.",
    "login.err.network": "Không kết nối được tới máy chủ. Kiểm tra mạng rồi thử lại.",
    "login.err.other": "Không đăng nhập được (mã {status}): {msg}",
    "login.wait.s": "{s} giây",
    "login.wait.ms": "{m} phút {s} giây",
    "login.signed_in": "Bạn đang đăng nhập với tên {user}.",
    "login.continue": "Tiếp tục",
    "login.signed_out": "Bạn đã đăng xuất.",
  },
  en: {
    "login.brand": "Intelligent Operations Center",
    "login.brand_sub": "Sign in",
    "login.title": "Sign in",
    "login.hint": "Use the account your administrator gave you.",
    "login.user": "User name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Checking…",
    "login.next": "After signing in you return to:",
    "login.page./": "Leadership dashboard",
    "login.page./operator/": "Operator console",
    "login.page./analyst/": "Analyst reports",
    "login.err.empty": "Enter your user name and password.",
    "login.err.401": "Wrong user name or password.",
    "login.err.429": "Too many failed sign-ins. Please wait {wait} and try again.",
    "login.err.429_done": "The wait is over, you can try again.",
    "login.err.503": "Cannot sign in: the server's database is not ready. Please try again in a few minutes.",
    "login.err.network": "Cannot reach the server. Check the network and try again.",
    "login.err.other": "Sign-in failed (status {status}): {msg}",
    "login.wait.s": "{s} s",
    "login.wait.ms": "{m} min {s} s",
    "login.signed_in": "You are signed in as {user}.",
    "login.continue": "Continue",
    "login.signed_out": "You have signed out.",
  },
});

// Where to go after signing in: raw if it is a path on this site ("/…", not "//…", no
// backslashes or control characters, not this page), else "/". Never another origin.
export function safeNext(raw) {
  if (typeof raw !== "string" || !raw.startsWith("/") || raw.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(raw))
    return "/";
  let u;
  try {
    u = new URL(raw, location.origin);
  } catch (e) {
    return "/";
  }
  if (u.origin !== location.origin || u.pathname === LOGIN_PATH) return "/";
  return u.pathname + u.search + u.hash;
}

const params = new URLSearchParams(location.search);
const next = safeNext(params.get("next"));
const form = document.getElementById("login-form");
const errBox = document.getElementById("login-error");
const note = document.getElementById("login-note");
const submit = document.getElementById("login-submit");
let error = null; // [key, vars, level] of the message shown, so a language switch re-renders it
let waitUntil = 0;
let waitTimer = null;
let signedIn = null;
let busy = false;

function fmtWait(s) {
  return s < 60 ? t("login.wait.s", { s }) : t("login.wait.ms", { m: Math.floor(s / 60), s: s % 60 });
}

function showError(key, vars, level) {
  error = key ? [key, vars, level] : null;
  renderError();
}

function renderError() {
  errBox.hidden = !error;
  if (!error) return;
  const [key, vars, level] = error;
  const v = { ...vars };
  if (key === "login.err.429") v.wait = fmtWait(Math.max(0, Math.ceil((waitUntil - Date.now()) / 1000)));
  errBox.textContent = t(key, v);
  errBox.classList.toggle("warn", level === "warn");
}

function renderSubmit() {
  submit.disabled = busy || Date.now() < waitUntil;
  submit.textContent = t(busy ? "login.busy" : "login.submit");
}

// 429: count the wait down on screen; the button stays disabled until it is over.
function startWait(seconds) {
  waitUntil = Date.now() + seconds * 1000;
  clearInterval(waitTimer);
  showError("login.err.429", {}, "warn");
  waitTimer = setInterval(() => {
    if (Date.now() >= waitUntil) {
      clearInterval(waitTimer);
      showError("login.err.429_done", {}, "warn");
    } else {
      renderError();
    }
    renderSubmit();
  }, 1000);
}

function renderNote() {
  note.replaceChildren();
  if (signedIn) {
    const a = document.createElement("a");
    a.href = next;
    a.textContent = t("login.continue");
    note.append(document.createTextNode(`${t("login.signed_in", { user: signedIn })} `), a);
  } else if (params.get("out") === "1") {
    note.textContent = t("login.signed_out");
  }
  note.hidden = !note.firstChild;
}

function renderNext() {
  const a = document.getElementById("login-next");
  const path = next.replace(/[?#].*$/, "");
  const key = `login.page.${path}`;
  a.href = next;
  a.textContent = t(key) === key ? next : t(key);
}

function render() {
  applyI18n();
  document.title = `IOC · ${t("login.title")}`;
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
  renderNote();
  renderNext();
  renderError();
  renderSubmit();
}

async function signIn(ev) {
  ev.preventDefault();
  const user = form.elements.user.value.trim();
  const password = form.elements.password.value;
  if (!user || !password) {
    showError("login.err.empty", {});
    (user ? form.elements.password : form.elements.user).focus();
    return;
  }
  if (busy || Date.now() < waitUntil) return;
  busy = true;
  renderSubmit();
  let r;
  try {
    r = await fetch(SESSION, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ user, password }),
    });
  } catch (e) {
    r = null;
  }
  busy = false;
  if (r && r.ok) {
    location.replace(next);
    return;
  }
  if (!r) {
    showError("login.err.network", {});
  } else if (r.status === 401) {
    showError("login.err.401", {});
    form.elements.password.value = "";
    form.elements.password.focus();
  } else if (r.status === 429) {
    startWait(Math.max(1, parseInt(r.headers.get("Retry-After"), 10) || 1));
  } else if (r.status === 503) {
    showError("login.err.503", {}, "warn");
  } else {
    let msg = "";
    try {
      msg = (await r.json()).error || "";
    } catch (e) {
      msg = r.statusText;
    }
    showError("login.err.other", { status: r.status, msg });
  }
  renderSubmit();
}

// Already signed in (a person's session): say so, with a link back; the form can switch user.
async function checkSession() {
  try {
    const r = await fetch(SESSION, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const me = r.ok ? await r.json() : null;
    signedIn = me && me.kind === "session" ? me.user : null;
  } catch (e) {
    signedIn = null;
  }
  renderNote();
}

for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
onLangChange(render);
form.addEventListener("submit", signIn);
render();
form.elements.user.focus();
checkSession();
