// Collectors' health from GET /metrics (iocd_collector_* series) and GET /healthz.
import { t } from "../common/i18n.js";
import { apiGet } from "../common/api.js";
import { fmtNumber, fmtAgo } from "../common/format.js";

// Parses Prometheus text into {name, labels, value} rows for names starting with prefix.
export function parseMetrics(text, prefix) {
  const rows = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const m = line.match(/^([a-z_]+)(?:\{(.*)\})?\s+(\S+)$/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    rows.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return rows;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// Loads and shows the collectors' table and the summary line.
export async function loadHealth(summary, tbody) {
  const [health, r] = await Promise.all([apiGet("/healthz").catch((e) => e.body), fetch("/metrics", { credentials: "same-origin" })]);
  const text = r.ok ? await r.text() : "";
  const by = new Map();
  for (const row of parseMetrics(text, "iocd_collector_")) {
    const key = row.labels.collector;
    if (!by.has(key)) by.set(key, { name: key, plugin: row.labels.plugin, ok: 0, error: 0, timeout: 0 });
    const c = by.get(key);
    if (row.name === "iocd_collector_collections_total") c[row.labels.result] = row.value;
    else c[row.name.replace("iocd_collector_", "")] = row.value;
  }
  const now = Date.now();
  tbody.replaceChildren(...[...by.values()].sort((a, b) => (a.up - b.up) || a.name.localeCompare(b.name)).map((c) => {
    const tr = el("tr");
    tr.dataset.collector = c.name;
    const up = el("td", "up", t(c.up ? "op.h.up.yes" : "op.h.up.no"));
    up.dataset.status = c.up ? "ok" : "crit";
    const last = c.last_success_timestamp_seconds ? fmtAgo(now - c.last_success_timestamp_seconds * 1000) : t("op.h.never");
    tr.append(el("td", "name", c.name), el("td", "", c.plugin), up, el("td", "", last),
      el("td", "num", fmtNumber(c.ok, 0)), el("td", "num", fmtNumber(c.error, 0)),
      el("td", "num", fmtNumber(c.timeout, 0)), el("td", "num", fmtNumber(c.consecutive_failures || 0, 0)),
      el("td", "num", fmtNumber(c.samples_total || 0, 0)));
    return tr;
  }));
  if (health) {
    summary.textContent = t("op.h.summary", { db: health.db, spool: fmtNumber(health.spool_bytes || 0, 0), n: by.size });
    summary.dataset.status = health.status === "ok" ? "ok" : "warn";
  }
  if (!by.size) summary.textContent += ` ${t("op.h.none")}`;
  return [...by.values()];
}
