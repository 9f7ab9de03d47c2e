// The analysts' reports page: builds GET /api/v1/export queries, previews them (JSON: a table
// and a chart) and downloads the same query as CSV, JSON or XLSX.
import "./strings.js";
import { apiGet, onUnauthorized } from "../common/api.js";
import { baseOption, makeChart } from "../common/charts.js";
import { fmtNumber, fmtValue } from "../common/format.js";
import { applyI18n, getLang, localName, onLangChange, setLang, t } from "../common/i18n.js";
import { signInLink } from "../common/session.js";

const PREVIEW_MAX = 2000;
const form = document.getElementById("query");
const banner = document.getElementById("banner");
const list = document.getElementById("ind-list");
const download = document.getElementById("download");
let indicators = [];
let last = null; // the last preview's answer
let chart = null;

function say(text) {
  banner.textContent = text || "";
  banner.hidden = !text;
}

function isoDate(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

// The query for the form: dates without an offset are local days in the report's zone.
function params(format) {
  const f = new FormData(form);
  const ids = [...list.querySelectorAll("input:checked")].map((i) => i.value);
  const p = new URLSearchParams({
    indicators: ids.join(","), from: f.get("from"), to: f.get("to"), step: f.get("step"),
    format, compare: f.get("compare"), lang: getLang(),
  });
  p.set("group", f.get("group"));
  if (format === "csv" && f.get("excel")) {
    p.set("bom", "1");
    p.set("sep", ";");
  }
  return ids.length ? p : null;
}

function updateDownload() {
  const p = params(new FormData(form).get("format"));
  if (p) download.href = `/api/v1/export?${p}`;
  else download.removeAttribute("href");
}

function renderIndicators() {
  const checked = new Set([...list.querySelectorAll("input:checked")].map((i) => i.value));
  list.replaceChildren(...indicators.map((ind, k) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = ind.id;
    box.checked = checked.size ? checked.has(ind.id) : k === 0;
    const name = document.createElement("span");
    name.textContent = localName(ind.name);
    const unit = document.createElement("small");
    unit.textContent = ind.unit || "";
    label.append(box, name, unit);
    return label;
  }));
  const groups = new Set();
  for (const ind of indicators) for (const g of ind.groups || []) if (g.group) groups.add(g.group);
  const select = form.elements.group;
  for (const o of [...select.options]) if (o.dataset.group) o.remove();
  for (const g of [...groups].sort((a, b) => a.localeCompare(b, "vi"))) {
    const o = new Option(g, g);
    o.dataset.group = "1";
    select.add(o);
  }
  updateDownload();
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
}

function renderTable(doc) {
  const cmp = doc.compare !== "none";
  const cols = ["time", "indicator", "group", "value", "min", "max", "samples", "attainment"]
    .concat(cmp ? ["previous", "delta", "delta_pct"] : []);
  const head = document.createElement("tr");
  for (const c of cols) {
    const th = document.createElement("th");
    th.textContent = t(`an.col.${c}`);
    head.append(th);
  }
  document.querySelector("#table thead").replaceChildren(head);
  const byId = Object.fromEntries(doc.indicators.map((i) => [i.id, i]));
  const rows = doc.rows.slice(0, PREVIEW_MAX).map((r) => {
    const tr = document.createElement("tr");
    const ind = byId[r.indicator] || { name: r.indicator, unit: "" };
    cell(tr, r.ts.replace("T", " ").slice(0, 16));
    cell(tr, ind.unit ? `${ind.name} (${ind.unit})` : ind.name);
    cell(tr, r.group === "" ? t("an.total") : r.group);
    for (const k of ["value", "min", "max"]) cell(tr, fmtValue(r[k], ind.unit));
    cell(tr, fmtNumber(r.samples, 0));
    cell(tr, fmtNumber(r.attainment_pct, 1));
    if (cmp) {
      cell(tr, fmtValue(r.previous, ind.unit));
      const dir = r.delta > 0 ? "up" : r.delta < 0 ? "down" : "";
      cell(tr, fmtValue(r.delta, ind.unit), dir);
      cell(tr, fmtNumber(r.delta_pct, 1), dir);
    }
    return tr;
  });
  document.querySelector("#table tbody").replaceChildren(...rows);
  document.getElementById("summary").textContent =
    t("an.summary", { rows: fmtNumber(doc.rows.length, 0), max: fmtNumber(PREVIEW_MAX, 0) });
}

// One line per indicator and group; with a comparison, the compared period dashed.
function renderChart(doc) {
  chart = chart || makeChart(document.getElementById("chart"));
  const byId = Object.fromEntries(doc.indicators.map((i) => [i.id, i]));
  const series = new Map();
  for (const r of doc.rows) {
    const key = `${r.indicator}\u0000${r.group}`;
    if (!series.has(key)) {
      const ind = byId[r.indicator];
      const name = `${ind ? ind.name : r.indicator}${r.group ? ` · ${r.group}` : ""}`;
      series.set(key, { name, data: [], prev: [] });
    }
    const s = series.get(key);
    s.data.push([r.ts, r.value]);
    if (doc.compare !== "none") s.prev.push([r.ts, r.previous]);
  }
  const out = [];
  for (const s of series.values()) {
    out.push({ type: "line", name: s.name, data: s.data, showSymbol: s.data.length < 60 });
    if (s.prev.length)
      out.push({ type: "line", name: t("an.previous", { name: s.name }), data: s.prev,
                 lineStyle: { type: "dashed" }, showSymbol: false });
  }
  const opt = baseOption();
  opt.legend = { type: "scroll", bottom: 0, textStyle: { color: opt.textStyle.color } };
  opt.grid.bottom = 48;
  opt.xAxis.type = "time";
  opt.yAxis.type = "value";
  opt.series = out;
  chart.setOption(opt, true);
}

async function preview(ev) {
  ev.preventDefault();
  const p = params("json");
  if (!p) {
    say(t("an.nothing"));
    return;
  }
  say("");
  try {
    last = await apiGet(`/api/v1/export?${p}`);
    renderTable(last);
    renderChart(last);
  } catch (e) {
    if (e.status === 403) say(t("an.forbidden"));
    else if (e.status !== 401) say(t("an.error", { msg: e.body && e.body.param ? `${e.body.param}: ${e.message}` : e.message }));
  }
}

async function loadIndicators() {
  try {
    const doc = await apiGet("/api/v1/indicators");
    indicators = doc.indicators || [];
    renderIndicators();
    const want = new URLSearchParams(location.search).get("indicators");
    if (want) {
      const ids = new Set(want.split(","));
      for (const i of list.querySelectorAll("input")) i.checked = ids.has(i.value);
    }
    if (indicators.length) form.requestSubmit(); // the page opens on a preview
  } catch (e) {
    if (e.status !== 401) say(t("an.error", { msg: e.message }));
  }
}

function start() {
  applyI18n();
  const today = new Date();
  const monthStart = new Date(today.getFullYear(), today.getMonth(), 1);
  form.elements.from.value = isoDate(new Date(monthStart.getFullYear(), monthStart.getMonth() - 1, 1));
  form.elements.to.value = isoDate(monthStart);
  form.elements.step.value = "1d";
  // a shared link (?from=&to=&step=&group=&compare=&indicators=) opens the same query
  const q = new URLSearchParams(location.search);
  for (const k of ["from", "to", "step", "compare"]) if (q.get(k)) form.elements[k].value = q.get(k);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
    b.addEventListener("click", () => setLang(b.dataset.lang));
  }
  onLangChange(() => {
    applyI18n();
    for (const b of document.querySelectorAll("[data-lang]"))
      b.setAttribute("aria-pressed", String(b.dataset.lang === getLang()));
    renderIndicators();
    if (last) form.requestSubmit();
  });
  onUnauthorized(() => {
    say(t("an.login.why"));
    banner.append(signInLink());
  });
  form.addEventListener("submit", preview);
  form.addEventListener("change", updateDownload);
  document.getElementById("all").addEventListener("click", () => {
    for (const i of list.querySelectorAll("input")) i.checked = true;
    updateDownload();
  });
  document.getElementById("none").addEventListener("click", () => {
    for (const i of list.querySelectorAll("input")) i.checked = false;
    updateDownload();
  });
  loadIndicators();
}

start();
