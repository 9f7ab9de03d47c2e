// The dashboard's model: indicator definitions from the API, current values per (indicator, group).
const SEP = "\u0000";
const UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 };

// "5m" -> 300000; 0 for anything else.
export function durationMs(s) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s || "");
  return m ? Number(m[1]) * UNITS[m[2]] : 0;
}

export class DashState {
  constructor() {
    this.defs = [];          // indicator definitions in config order
    this.byId = new Map();
    this.values = new Map(); // id SEP group -> {value, status, ts (ms), seen (ms, local clock)}
    this.groups = [];        // every group name seen, sorted in the locale
    this.lastFrame = 0;      // local time of the last snapshot or update
    this.skew = 0;           // server clock minus this browser's clock, ms
  }

  // Takes GET /api/v1/indicators: definitions plus the values it carries ("" is the total).
  setIndicators(doc) {
    this.defs = doc.indicators || [];
    this.byId = new Map(this.defs.map((d) => [d.id, d]));
    this.values.clear();
    const seen = Date.now();
    if (doc.ts) this.skew = Date.parse(doc.ts) - seen;
    for (const d of this.defs) {
      this.put(d.id, "", d.value, d.status, d.ts, seen);
      for (const g of d.groups || []) this.put(d.id, g.group, g.value, g.status, g.ts, seen);
    }
    this.lastFrame = seen;
    this.sortGroups();
  }

  put(id, group, value, status, ts, seen) {
    this.values.set(id + SEP + group, { value, status, ts: ts ? Date.parse(ts) : 0, seen });
  }

  sortGroups() {
    const set = new Set();
    for (const k of this.values.keys()) {
      const g = k.slice(k.indexOf(SEP) + 1);
      if (g) set.add(g);
    }
    this.groups = [...set].sort((a, b) => a.localeCompare(b, "vi"));
  }

  // Applies a snapshot (replaces every value it covers) or an update frame's items. Returns the
  // ids whose values changed.
  applyItems(items, snapshot) {
    const now = Date.now();
    const changed = new Set();
    if (snapshot) {
      this.values.clear();
      for (const d of this.defs) changed.add(d.id);
    }
    let newGroup = false;
    for (const it of items || []) {
      if (!this.byId.has(it.indicator)) continue;
      const key = it.indicator + SEP + it.group;
      if (!this.values.has(key) && it.group) newGroup = true;
      this.put(it.indicator, it.group, it.value, it.status, it.ts, now);
      changed.add(it.indicator);
    }
    this.lastFrame = now;
    if (newGroup || snapshot) this.sortGroups();
    return changed;
  }

  // The current value of indicator id for group ("" = the whole province), or null.
  get(id, group) {
    return this.values.get(id + SEP + group) || null;
  }

  // True when the newest sample behind v is over a minute and over half its window old (by the
  // server's clock): its sources have gone quiet and the value will soon age out. A connection
  // down for over 15 s (disconnectedSince, ms or 0) makes every value stale.
  isStale(id, v, now, disconnectedSince) {
    if (!v || v.value == null) return false;
    if (disconnectedSince && now - disconnectedSince > 15000) return true;
    const def = this.byId.get(id);
    const age = now + this.skew - v.ts;
    return v.ts > 0 && age > 60000 && age > durationMs(def && def.window) / 2;
  }

  // The worst status of any indicator in group: crit > warn > ok > no-data.
  worstStatus(group) {
    const rank = { "no-data": 0, ok: 1, warn: 2, crit: 3 };
    let worst = "no-data";
    for (const d of this.defs) {
      const v = this.get(d.id, group);
      if (v && rank[v.status] > rank[worst]) worst = v.status;
    }
    return worst;
  }
}
