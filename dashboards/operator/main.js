// The operator console: tabs, live alerts over /ws, ack/silence, history, rules, collectors' health.
// Who is signed in, and signing in and out, is the shared header's (common/session.js).
import "./strings.js";
import { t, getLang, setLang, onLangChange, applyI18n } from "../common/i18n.js";
import { apiGet, apiSend, onUnauthorized } from "../common/api.js";
import { fmtTime } from "../common/format.js";
import { IocSocket } from "../common/ws.js";
import { ActiveAlerts, loadHistory } from "./alerts.js";
import { Rules } from "./rules.js";
import { loadHealth } from "./health.js";

const HEALTH_EVERY_MS = 10000;
const $ = (sel) => document.querySelector(sel);
let tab = new URLSearchParams(location.search).get("tab") || "active";
let socket = null;
let acting = null;

// For the browser test: what the page last did.
window.iocOperator = { alerts: 0, events: 0, snapshots: 0, historyLoads: 0, ruleLoads: 0, healthLoads: 0 };

function banner(text) {
  const b = $("#banner");
  b.hidden = !text;
  b.textContent = text || "";
}

function failed(e) {
  if (e.status === 401) banner(t("err.401"));
  else if (e.status === 403) banner(t("err.403"));
  else banner(t("err.load", { msg: e.message }));
}

const active = new ActiveAlerts($("#active-table tbody"), $("#active-empty"), $("#active-count"), openAction);
const rules = new Rules($("#rules-table tbody"), $("#rule-dialog"), failed);

let lastConn = ["connecting", {}];

function setConn(s, info) {
  lastConn = [s, info];
  const c = $("#conn");
  c.dataset.state = s;
  c.textContent = s === "closed" ? t("conn.closed", { s: Math.ceil(info.retryMs / 1000) }) : t(`conn.${s}`);
  if (s === "closed" && !info.opened) apiGet("/api/v1/alerts?limit=1").catch(failed);
}

function connect() {
  socket = new IocSocket({
    topics: ["alerts"],
    onState: setConn,
    onSnapshot: (msg) => {
      window.iocOperator.snapshots++;
      active.replace(msg.alerts);
      window.iocOperator.alerts = active.alerts.size;
    },
    onAlert: (msg) => {
      window.iocOperator.events++;
      active.apply(msg.alert);
      window.iocOperator.alerts = active.alerts.size;
      if (tab === "history") refresh();
    },
  });
}

// ack / silence / unsilence for one alert; ack and silence ask first.
function openAction(action, a) {
  if (action === "unsilence") {
    act(action, a, {});
    return;
  }
  acting = { action, a };
  const d = $("#act-dialog");
  d.querySelector(".act-title").textContent = t(action === "ack" ? "op.ack.title" : "op.silence.title");
  d.querySelector(".act-alert").textContent = `${a.rule_name} · ${a.group || "—"}`;
  d.querySelector(".act-comment").hidden = action !== "ack";
  d.querySelector(".act-until").hidden = action !== "silence";
  d.querySelector(".form-error").hidden = true;
  d.querySelector("form").reset();
  d.showModal();
}

async function act(action, a, body) {
  try {
    const updated = await apiSend("POST", `/api/v1/alerts/${a.id}/${action}`, body);
    active.apply(updated);
    return null;
  } catch (e) {
    return e.status === 403 ? t("err.403") : e.body && e.body.field ? t("err.field", { field: e.body.field, msg: e.body.error }) : e.message;
  }
}

$("#act-ok").addEventListener("click", async (ev) => {
  ev.preventDefault();
  const d = $("#act-dialog");
  const f = d.querySelector("form");
  const body = acting.action === "ack" ? { comment: f.comment.value }
    : { until: new Date(Date.now() + Number(f.until.value) * 3600000).toISOString() };
  const err = await act(acting.action, acting.a, body);
  const p = d.querySelector(".form-error");
  p.hidden = !err;
  p.textContent = err || "";
  if (!err) d.close();
});

async function refresh() {
  try {
    if (tab === "history") {
      await loadHistory($("#history-form"), $("#history-table tbody"));
      window.iocOperator.historyLoads++;
    } else if (tab === "rules") {
      const list = await rules.load();
      window.iocOperator.ruleLoads++;
      const sel = $("#history-form").rule;
      const keep = sel.value;
      sel.replaceChildren(sel.options[0], ...list.map((r) => new Option(r.name, r.id)));
      sel.value = keep;
    } else if (tab === "health") {
      await loadHealth($("#health-summary"), $("#health-table tbody"));
      window.iocOperator.healthLoads++;
    }
  } catch (e) {
    failed(e);
  }
}

function showTab(name) {
  tab = name;
  for (const b of document.querySelectorAll("[data-tab]")) b.setAttribute("aria-pressed", String(b.dataset.tab === name));
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
  refresh();
}

$("#rule-new").addEventListener("click", () => rules.open(null));
$("#history-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  refresh();
});
for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));

function renderLang() {
  applyI18n();
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
  const c = $("#conn");
  c.textContent = lastConn[0] === "closed" ? t("conn.closed", { s: Math.ceil(lastConn[1].retryMs / 1000) }) : t(`conn.${lastConn[0]}`);
  active.render();
  refresh();
}
onLangChange(renderLang);
onUnauthorized(() => banner(t("err.401")));

setInterval(() => {
  $("#clock").textContent = fmtTime(new Date());
}, 1000);
setInterval(() => active.render(), 15000);
setInterval(() => tab === "health" && refresh(), HEALTH_EVERY_MS);

applyI18n();
for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
$("#clock").textContent = fmtTime(new Date());
showTab(tab);
connect();
