// Numbers and times in the chosen locale (Intl vi-VN / en-US); the one place pages format values.
import { getLocale } from "./i18n.js";

const cache = new Map();

function nf(min, max) {
  const key = `${getLocale()}|${min}|${max}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(getLocale(), { minimumFractionDigits: min, maximumFractionDigits: max });
    cache.set(key, f);
  }
  return f;
}

// Fraction digits for an indicator value: one for percentages and anything under 100, none
// from 100 up, two under 1 (so 0.35 does not read as 0.4). Integers never get decimals.
export function valueDigits(v, unit) {
  if (Number.isInteger(v)) return 0;
  const a = Math.abs(v);
  if (unit === "%") return 1;
  if (a >= 100) return 0;
  if (a >= 1) return 1;
  return 2;
}

// An indicator value as shown on tiles and tables, e.g. 1.234,5 (vi) or 1,234.5 (en); "—" for
// null or not finite. The unit is not included.
export function fmtValue(v, unit) {
  if (v == null || !Number.isFinite(v)) return "—";
  const d = valueDigits(v, unit);
  return nf(d === 0 ? 0 : d, d).format(v);
}

// v with exactly `digits` fraction digits (default: at most 2).
export function fmtNumber(v, digits) {
  if (v == null || !Number.isFinite(v)) return "—";
  return digits == null ? nf(0, 2).format(v) : nf(digits, digits).format(v);
}

// HH:MM:SS in the locale, 24-hour.
export function fmtTime(d) {
  return new Intl.DateTimeFormat(getLocale(), {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(d);
}

// Date and time, short, e.g. 26/11/2026 14:05 (vi).
export function fmtDateTime(d) {
  return new Intl.DateTimeFormat(getLocale(), {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(d);
}

// Hour and minute for chart axes.
export function fmtHourMinute(d) {
  return new Intl.DateTimeFormat(getLocale(), { hour: "2-digit", minute: "2-digit", hour12: false }).format(d);
}

// Day and month for chart axes.
export function fmtDayMonth(d) {
  return new Intl.DateTimeFormat(getLocale(), { day: "2-digit", month: "2-digit" }).format(d);
}

// A duration in ms as "12 giây", "5 phút", "3 giờ" (vi) / "12 seconds" … (en).
export function fmtAgo(ms) {
  const rtf = new Intl.RelativeTimeFormat(getLocale(), { numeric: "always" });
  const s = Math.round(ms / 1000);
  if (s < 60) return rtf.format(-s, "second");
  if (s < 3600) return rtf.format(-Math.round(s / 60), "minute");
  if (s < 86400) return rtf.format(-Math.round(s / 3600), "hour");
  return rtf.format(-Math.round(s / 86400), "day");
}
