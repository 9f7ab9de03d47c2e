// KPI tiles: one per indicator, grouped by domain (the id's prefix), with value, target, status, sparkline.
import { t, localName } from "../common/i18n.js";
import { fmtValue, fmtDateTime } from "../common/format.js";
import { baseOption, makeChart, statusColor } from "../common/charts.js";

const DOMAINS = ["traffic", "lighting", "camera", "service", "feedback"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function domainOf(def) {
  const d = def.id.split(".")[0];
  return DOMAINS.includes(d) ? d : "other";
}

const OPS = { ">=": "≥", "<=": "≤", "!=": "≠", "==": "=" };

// A comparison operator as printed: >= becomes ≥.
export function opText(op) {
  return OPS[op] || op || "";
}

// The target line of a tile: "Mục tiêu ≥ 30 km/h", thresholds, or "".
export function targetText(def) {
  const unit = def.unit ? ` ${def.unit}` : "";
  if (def.target && typeof def.target.value === "number")
    return t("target", { op: opText(def.target.op), value: fmtValue(def.target.value, def.unit) + unit });
  if (def.thresholds && typeof def.thresholds.warn === "number") {
    const vars = { warn: fmtValue(def.thresholds.warn, def.unit) + unit,
                   crit: fmtValue(def.thresholds.crit, def.unit) + unit };
    return t(def.better === "lower" ? "thresholds.lower" : "thresholds.higher", vars);
  }
  return "";
}

export class Tiles {
  // root: the <main> element; state: DashState; onOpen(id): a tile was clicked.
  constructor(root, state, onOpen) {
    this.root = root;
    this.state = state;
    this.onOpen = onOpen;
    this.tiles = new Map(); // id -> {el, parts, chart, spark: [[ms, v]]}
  }

  // Builds every section and tile from the definitions (after a language switch too).
  build() {
    for (const tile of this.tiles.values()) if (tile.chart) tile.chart.dispose();
    this.tiles.clear();
    this.root.replaceChildren();
    const sections = new Map();
    for (const def of this.state.defs) {
      const dom = domainOf(def);
      if (!sections.has(dom)) {
        const sec = el("section", "domain");
        sec.dataset.domain = dom;
        sec.append(el("h2", null, t(`domain.${dom}`)), el("div", "grid"));
        sec.style.setProperty("--n", "0");
        sections.set(dom, sec);
      }
      const sec = sections.get(dom);
      sec.querySelector(".grid").append(this.buildTile(def));
      sec.style.setProperty("--n", String(Number(sec.style.getPropertyValue("--n")) + 1));
    }
    const order = [...DOMAINS, "other"];
    for (const dom of order) if (sections.has(dom)) this.root.append(sections.get(dom));
  }

  buildTile(def) {
    const a = el("article", "tile");
    a.dataset.id = def.id;
    a.tabIndex = 0;
    const parts = {
      name: el("h3", "tile-name", localName(def.name) || def.id),
      value: el("span", "v"),
      unit: el("span", "u", def.unit || ""),
      target: el("div", "tile-target", targetText(def)),
      badge: el("span", "badge"),
      stale: el("span", "stale-mark", t("stale")),
      context: el("span", "context"),
      spark: el("div", "tile-spark"),
    };
    const val = el("div", "tile-value");
    val.append(parts.value, parts.unit);
    const foot = el("div", "tile-foot");
    foot.append(parts.badge, parts.stale, parts.context);
    a.append(parts.name, val, parts.target, parts.spark, foot);
    a.addEventListener("click", () => this.onOpen(def.id));
    a.addEventListener("keydown", (e) => e.key === "Enter" && this.onOpen(def.id));
    this.tiles.set(def.id, { el: a, parts, chart: null, spark: null, live: null, drawnAt: 0, def });
    return a;
  }

  // Shows the values of group ("" = province) on every tile; now and disconnectedSince decide staleness.
  render(group, now, disconnectedSince) {
    for (const id of this.tiles.keys()) this.renderOne(id, group, now, disconnectedSince);
  }

  renderOne(id, group, now, disconnectedSince) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    const def = tile.def;
    const grouped = (def.group_by || []).length > 0;
    const v = this.state.get(id, grouped ? group : "");
    const status = v ? v.status : "no-data";
    const stale = this.state.isStale(id, v, now, disconnectedSince);
    const text = fmtValue(v ? v.value : null, def.unit);
    if (tile.parts.value.textContent !== text) tile.parts.value.textContent = text;
    tile.el.dataset.status = status;
    tile.el.classList.toggle("is-stale", stale);
    tile.parts.badge.textContent = t(`status.${status}`);
    tile.el.title = v && v.ts ? (stale ? t("stale.title", { time: fmtDateTime(new Date(v.ts)) }) : fmtDateTime(new Date(v.ts))) : "";
    const total = this.state.get(id, "");
    if (v && !stale) this.liveSpark(tile, now, v.value);
    tile.parts.context.textContent = group && grouped && total ? t("province", { value: fmtValue(total.value, def.unit) }) : "";
  }

  // Sets a tile's sparkline history ([[ms, value]] from the series API) and draws it.
  setSpark(id, points) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.spark = points;
    tile.live = null;
    this.drawSpark(tile);
  }

  // Adds the live value at time ms to the sparkline's tail: one point per minute, the
  // newest replacing the last of its minute.
  liveSpark(tile, ms, value) {
    if (!tile.spark || value == null) return;
    const minute = Math.floor(ms / 60000) * 60000;
    const last = tile.spark[tile.spark.length - 1];
    if (tile.live && tile.live[0] === minute && tile.live[1] === value) return;
    if (last && last[0] >= minute) tile.spark[tile.spark.length - 1] = [minute, value];
    else tile.spark.push([minute, value]);
    tile.live = [minute, value];
    if (tile.chart && (ms - tile.drawnAt > 5000 || !last || last[0] < minute)) this.drawSpark(tile);
  }

  // Forgets every sparkline (the scope changed; new histories are on their way).
  clearSparks() {
    for (const tile of this.tiles.values()) tile.spark = null;
  }

  drawSpark(tile) {
    const points = tile.spark;
    tile.drawnAt = Date.now();
    if (!tile.chart) tile.chart = makeChart(tile.parts.spark);
    const color = statusColor(tile.el.dataset.status);
    const opt = baseOption();
    tile.chart.setOption({
      ...opt,
      grid: { left: 2, right: 2, top: 4, bottom: 2 },
      tooltip: { show: false },
      xAxis: { type: "time", show: false },
      yAxis: { type: "value", show: false, scale: true },
      series: [{
        type: "line", data: points, showSymbol: points.length < 3, symbolSize: 4, smooth: 0.15,
        lineStyle: { width: 2, color }, itemStyle: { color },
        areaStyle: { color: color, opacity: 0.12 },
      }],
    }, true);
    tile.chart.getDom().dataset.points = String(points.length);
  }
}
