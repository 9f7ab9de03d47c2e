// The drill-down of one indicator: its trend from the history API and its value in every district.
import { t, localName } from "../common/i18n.js";
import { apiGet } from "../common/api.js";
import { fmtValue, fmtNumber, fmtHourMinute, fmtDayMonth, fmtDateTime } from "../common/format.js";
import { baseOption, makeChart, cssVar, statusColor } from "../common/charts.js";
import { targetText, opText } from "./tiles.js";

// Ranges offered: length and the rollup step asked of the series API.
export const RANGES = {
  "6h": { ms: 6 * 3600e3, step: "1m" },
  "24h": { ms: 24 * 3600e3, step: "15m" },
  "7d": { ms: 7 * 86400e3, step: "1h" },
  "30d": { ms: 30 * 86400e3, step: "1d" },
};

// Points of GET /api/v1/indicators/{id}/series as [[ms, value]] for the last range of group.
export async function fetchSeries(id, group, rangeKey) {
  const r = RANGES[rangeKey];
  const to = new Date();
  const from = new Date(to.getTime() - r.ms);
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), step: r.step });
  if (group) q.set("group", group);
  const doc = await apiGet(`/api/v1/indicators/${encodeURIComponent(id)}/series?${q}`);
  return (doc.points || []).map((p) => [Date.parse(p.ts), p.value]);
}

export class Detail {
  // dialog: the <dialog> element; state: DashState.
  constructor(dialog, state) {
    this.dialog = dialog;
    this.state = state;
    this.id = null;
    this.group = "";
    this.range = "24h";
    this.trend = null;
    this.bars = null;
    this.q = (sel) => dialog.querySelector(sel);
    this.q(".close").addEventListener("click", () => this.close());
    dialog.addEventListener("close", () => { this.id = null; });
    for (const b of dialog.querySelectorAll("[data-range]"))
      b.addEventListener("click", () => { this.range = b.dataset.range; this.loadTrend(); });
  }

  // Opens the drill-down of indicator id, starting with group ("" = province).
  open(id, group) {
    this.id = id;
    this.group = group;
    if (!this.dialog.open) this.dialog.showModal();
    if (!this.trend) this.trend = makeChart(this.q(".trend"));
    if (!this.bars) {
      this.bars = makeChart(this.q(".bars"));
      this.bars.on("click", (p) => { this.group = p.name === this.group ? "" : p.name; this.refresh(); this.loadTrend(); });
    }
    this.refresh();
    this.loadTrend();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  // Redraws the header and the district bars from the current values (live).
  refresh() {
    if (!this.id) return;
    const def = this.state.byId.get(this.id);
    const v = this.state.get(this.id, this.group);
    this.dialog.dataset.status = v ? v.status : "no-data";
    this.q(".d-name").textContent = localName(def.name);
    this.q(".d-scope").textContent = this.group || t("scope.all");
    this.q(".d-value").textContent = `${fmtValue(v ? v.value : null, def.unit)} ${def.unit || ""}`;
    this.q(".d-target").textContent = targetText(def);
    this.q(".d-updated").textContent = v && v.ts ? fmtDateTime(new Date(v.ts)) : "";
    for (const b of this.dialog.querySelectorAll("[data-range]"))
      b.setAttribute("aria-pressed", String(b.dataset.range === this.range));
    const rows = this.state.groups
      .map((g) => ({ g, v: this.state.get(this.id, g) }))
      .filter((r) => r.v && r.v.value != null)
      .sort((a, b) => a.v.value - b.v.value);
    this.q(".bars-box").hidden = rows.length === 0;
    if (!rows.length) return;
    const opt = baseOption();
    this.bars.setOption({
      ...opt,
      grid: { left: 110, right: 64, top: 8, bottom: 8 },
      tooltip: { show: false },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", data: rows.map((r) => r.g), axisLabel: { color: cssVar("--text") }, axisLine: { show: false }, axisTick: { show: false } },
      series: [{
        type: "bar", barMaxWidth: 18,
        data: rows.map((r) => ({
          value: r.v.value,
          itemStyle: { color: statusColor(r.v.status), opacity: !this.group || r.g === this.group ? 1 : 0.35, borderRadius: 3 },
        })),
        label: { show: true, position: "right", color: cssVar("--text"), formatter: (p) => fmtValue(p.value, def.unit) },
      }],
    }, true);
  }

  async loadTrend() {
    if (!this.id) return;
    const id = this.id, group = this.group, range = this.range;
    const def = this.state.byId.get(id);
    this.refresh();
    let points = [];
    try {
      points = await fetchSeries(id, group, range);
    } catch (e) {
      points = [];
    }
    if (id !== this.id || group !== this.group || range !== this.range) return;
    this.q(".trend-empty").hidden = points.length > 0;
    const long = RANGES[range].ms > 2 * 86400e3;
    const opt = baseOption();
    const marks = [];
    const goal = def.target && typeof def.target.value === "number" ? def.target.value : null;
    if (def.target && typeof def.target.value === "number")
      marks.push({ yAxis: def.target.value, lineStyle: { color: cssVar("--ok"), type: "dashed" }, label: { position: "insideEndTop", formatter: t("target", { op: opText(def.target.op), value: fmtValue(def.target.value, def.unit) }), color: cssVar("--ok") } });
    if (def.thresholds && typeof def.thresholds.crit === "number")
      marks.push({ yAxis: def.thresholds.crit, lineStyle: { color: cssVar("--crit"), type: "dotted" }, label: { show: false } });
    this.trend.setOption({
      ...opt,
      tooltip: { ...opt.tooltip, valueFormatter: (x) => `${fmtValue(x, def.unit)} ${def.unit || ""}` },
      xAxis: { ...opt.xAxis, type: "time", axisLabel: { color: cssVar("--text-2"), formatter: (ms) => (long ? fmtDayMonth(new Date(ms)) : fmtHourMinute(new Date(ms))) } },
      yAxis: { ...opt.yAxis, type: "value", scale: true, min: goal == null ? null : (e) => Math.min(e.min, goal),
               max: goal == null ? null : (e) => Math.max(e.max, goal), axisLabel: { color: cssVar("--text-2"), formatter: (x) => fmtNumber(x) } },
      series: [{
        type: "line", data: points, showSymbol: points.length < 3, smooth: 0.2,
        lineStyle: { width: 2.5, color: cssVar("--accent") },
        areaStyle: { color: cssVar("--accent"), opacity: 0.1 },
        markLine: { symbol: "none", silent: true, data: marks },
      }],
    }, true);
  }
}
