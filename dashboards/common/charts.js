// Shared ECharts set-up: colours from theme.css's CSS variables, so charts match the pages.
import * as echarts from "../vendor/echarts.esm.min.mjs";

export { echarts };

// The value of a CSS custom property on <html>, e.g. cssVar("--ok").
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// The colour of an API status name: ok, warn, crit, no-data.
export function statusColor(status) {
  return cssVar({ ok: "--ok", warn: "--warn", crit: "--crit" }[status] || "--nodata");
}

// Base option every chart starts from: transparent background, theme text and grid lines.
export function baseOption() {
  const text = cssVar("--text-2");
  const line = cssVar("--line");
  return {
    backgroundColor: "transparent",
    animation: false,
    textStyle: { color: text, fontFamily: cssVar("--font") },
    grid: { left: 56, right: 24, top: 24, bottom: 32 },
    tooltip: {
      trigger: "axis",
      backgroundColor: cssVar("--panel-2"),
      borderColor: line,
      textStyle: { color: cssVar("--text") },
    },
    xAxis: { axisLine: { lineStyle: { color: line } }, splitLine: { show: false }, axisLabel: { color: text } },
    yAxis: { axisLine: { show: false }, splitLine: { lineStyle: { color: line, opacity: 0.5 } }, axisLabel: { color: text } },
  };
}

// Creates a chart in el with the canvas renderer; resizes it with its element.
export function makeChart(el) {
  const chart = echarts.init(el, null, { renderer: "canvas" });
  new ResizeObserver(() => chart.resize()).observe(el);
  return chart;
}
