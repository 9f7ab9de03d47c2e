// The leadership dashboard: loads the indicators, follows /ws live, districts, kiosk rotation, language.
import "./strings.js";
import { t, getLang, setLang, onLangChange, applyI18n } from "../common/i18n.js";
import { apiGet, onUnauthorized } from "../common/api.js";
import { fmtTime, fmtAgo } from "../common/format.js";
import { IocSocket } from "../common/ws.js";
import { signInLink } from "../common/session.js";
import { DashState } from "./state.js";
import { Tiles } from "./tiles.js";
import { Detail, fetchSeries } from "./detail.js";

const params = new URLSearchParams(location.search);
const kiosk = params.get("kiosk") === "1";
const rotateMs = Math.max(5, Number(params.get("rotate")) || 20) * 1000;
const SPARK_RANGE = "6h";
const SPARK_REFRESH_MS = 5 * 60000;

const $ = (sel) => document.querySelector(sel);
const state = new DashState();
const tiles = new Tiles($("#sections"), state, (id) => !kiosk && detail.open(id, scope));
const detail = new Detail($("#detail"), state);
let scope = params.get("group") || "";
let socket = null;
let disconnectedSince = 0;
let fatal = false;
const pending = new Set();
let frameScheduled = false;

// For the browser test and for whoever looks: what the page last did.
window.iocDashboard = { state, lastFrameAt: 0, frames: 0, sparkLoads: 0 };

function banner(text, level) {
  const b = $("#banner");
  b.hidden = !text;
  b.textContent = text || "";
  b.classList.toggle("warn", level === "warn");
}

function setConn(s, info) {
  const c = $("#conn");
  c.dataset.state = s;
  c.textContent = s === "closed" ? t("conn.closed", { s: Math.ceil(info.retryMs / 1000) }) : t(`conn.${s}`);
  if (s === "open") disconnectedSince = 0;
  else if (!disconnectedSince) disconnectedSince = Date.now();
  if (s === "closed" && !info.opened) probeAccess();
}

// A refused upgrade looks like a plain close: ask the API why (401/403 gets a clear banner).
async function probeAccess() {
  try {
    await apiGet("/api/v1/indicators");
  } catch (e) {
    if (e.status === 403) showFatal(t("err.403"));
  }
}

// Stops live updates and says why; signIn: with a link to the sign-in page (a 401).
function showFatal(text, signIn) {
  fatal = true;
  banner(text);
  if (signIn) $("#banner").append(signInLink());
  if (socket) socket.close();
  socket = null;
}

function renderAll() {
  const now = Date.now();
  tiles.render(scope, now, disconnectedSince);
  renderScopes();
  renderUpdated(now);
}

function renderUpdated(now) {
  const u = $("#updated");
  const last = state.lastFrame;
  if (!last) {
    u.textContent = t("updated.never");
    return;
  }
  const ago = now - last;
  u.textContent = t("updated", { time: fmtTime(new Date(last)) }) + (ago > 10000 ? ` (${fmtAgo(ago)})` : "");
  u.classList.toggle("old", ago > 30000);
}

function renderScopes() {
  const nav = $("#scopes");
  const names = ["", ...state.groups];
  if (nav.dataset.names !== names.join("\n") || nav.dataset.lang !== getLang()) {
    nav.replaceChildren();
    for (const g of names) {
      const b = document.createElement("button");
      b.className = "ioc-chip";
      b.dataset.group = g;
      const dot = document.createElement("span");
      dot.className = "dot";
      b.append(dot, document.createTextNode(g || t("scope.all")));
      b.addEventListener("click", () => selectScope(g));
      nav.append(b);
    }
    nav.dataset.names = names.join("\n");
    nav.dataset.lang = getLang();
  }
  for (const b of nav.children) {
    b.setAttribute("aria-pressed", String(b.dataset.group === scope));
    b.querySelector(".dot").dataset.status = state.worstStatus(b.dataset.group);
  }
  $("#scope-name").textContent = scope || t("scope.all");
}

function selectScope(g) {
  scope = g;
  const u = new URL(location.href);
  if (g) u.searchParams.set("group", g);
  else u.searchParams.delete("group");
  history.replaceState(null, "", u);
  tiles.clearSparks();
  renderAll();
  loadSparks();
}

// Loads every tile's sparkline (last hours of the current scope) from the series API.
async function loadSparks() {
  const group = scope;
  await Promise.all(state.defs.map(async (def) => {
    const g = (def.group_by || []).length ? group : "";
    try {
      const pts = await fetchSeries(def.id, g, SPARK_RANGE);
      if (group === scope) tiles.setSpark(def.id, pts);
    } catch (e) {
      if (group === scope) tiles.setSpark(def.id, []);
    }
  }));
  window.iocDashboard.sparkLoads++;
}

// Frames can come many times a second: repaint once per animation frame.
function schedule(ids) {
  for (const id of ids) pending.add(id);
  if (frameScheduled) return;
  frameScheduled = true;
  requestAnimationFrame(() => {
    frameScheduled = false;
    const now = Date.now();
    for (const id of pending) tiles.renderOne(id, scope, now, disconnectedSince);
    pending.clear();
    renderScopes();
    renderUpdated(now);
    detail.refresh();
    window.iocDashboard.lastFrameAt = Date.now();
  });
}

function onFrame(msg, snapshot) {
  window.iocDashboard.frames++;
  schedule(state.applyItems(msg.items, snapshot));
}

async function load() {
  try {
    const doc = await apiGet("/api/v1/indicators");
    state.setIndicators(doc);
  } catch (e) {
    if (e.status === 401) return showFatal(t("err.401"), true);
    if (e.status === 403) return showFatal(t("err.403"));
    banner(t("err.load", { msg: e.message }), "warn");
    setTimeout(load, 5000);
    return;
  }
  banner(state.defs.length ? "" : t("err.none"), "warn");
  tiles.build();
  renderAll();
  loadSparks();
  setInterval(loadSparks, SPARK_REFRESH_MS);
  socket = new IocSocket({
    topics: ["indicators"],
    onSnapshot: (m) => onFrame(m, true),
    onUpdate: (m) => onFrame(m, false),
    onState: setConn,
  });
  window.iocDashboard.socket = socket;
  if (kiosk) startRotation();
}

// A wall screen does not scroll: shrink the type until the page fits the window.
function fitKiosk() {
  const root = document.documentElement;
  let scale = 1.2;
  root.style.setProperty("--scale", String(scale));
  while (scale > 0.7 && root.scrollHeight > window.innerHeight) {
    scale -= 0.05;
    root.style.setProperty("--scale", scale.toFixed(2));
  }
}

function startRotation() {
  fitKiosk();
  window.addEventListener("resize", fitKiosk);
  setInterval(() => {
    const names = ["", ...state.groups];
    selectScope(names[(names.indexOf(scope) + 1) % names.length]);
  }, rotateMs);
}

function relabel() {
  applyI18n();
  for (const b of document.querySelectorAll("[data-lang]"))
    b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
  document.title = `IOC — ${t("title")}`;
}

function tick() {
  $("#clock").textContent = fmtTime(new Date());
  if (!fatal && state.defs.length) renderAll();
}

onUnauthorized(() => showFatal(t("err.401"), true));
onLangChange(() => {
  relabel();
  if (fatal) return;
  tiles.build();
  renderAll();
  if (kiosk) fitKiosk();
  loadSparks();
  detail.refresh();
  detail.loadTrend();
});
for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
$("#kiosk-btn").addEventListener("click", () => {
  const u = new URL(location.href);
  u.searchParams.set("kiosk", "1");
  location.href = u.toString();
});
if (kiosk) document.documentElement.classList.add("kiosk");
relabel();
tick();
setInterval(tick, 1000);
load();
