// Active alerts (live from /ws: severity, age, ack, silence) and the alert history (from the API).
import { t, localName } from "../common/i18n.js";
import { apiGet } from "../common/api.js";
import { fmtValue, fmtAgo, fmtDateTime } from "../common/format.js";

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
const STATUS_OF = { critical: "crit", warning: "warn", info: "ok" };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function since(a) {
  return Date.parse(a.fired_at || a.started_at);
}

function severityCell(a) {
  const td = el("td");
  const chip = el("span", "sev", t(`op.sev.${a.severity}`));
  chip.dataset.status = STATUS_OF[a.severity] || "ok";
  td.append(chip);
  return td;
}

function ackText(a) {
  if (!a.acked) return "";
  return t("op.ack.by", { by: a.acked.by, at: fmtDateTime(new Date(a.acked.at)), comment: a.acked.comment });
}

// The active alerts: a map by id kept from the snapshot and each alert event.
export class ActiveAlerts {
  constructor(tbody, empty, counter, onAction) {
    this.tbody = tbody;
    this.empty = empty;
    this.counter = counter;
    this.onAction = onAction;
    this.alerts = new Map();
  }

  // A snapshot's "alerts" array replaces everything.
  replace(list) {
    this.alerts.clear();
    for (const a of list || []) this.alerts.set(a.id, a);
    this.render();
  }

  // One alert event (any change of one alert): active ones are kept, others dropped.
  apply(a) {
    if (a.state === "pending" || a.state === "firing") this.alerts.set(a.id, a);
    else this.alerts.delete(a.id);
    this.render();
  }

  sorted() {
    return [...this.alerts.values()].sort((x, y) =>
      (SEVERITY_ORDER[x.severity] ?? 3) - (SEVERITY_ORDER[y.severity] ?? 3) ||
      (x.state === "firing" ? 0 : 1) - (y.state === "firing" ? 0 : 1) ||
      since(x) - since(y));
  }

  render() {
    const now = Date.now();
    const rows = this.sorted().map((a) => {
      const tr = el("tr");
      tr.dataset.id = a.id;
      tr.dataset.state = a.state;
      tr.append(severityCell(a));
      const st = el("td", "state", t(`op.state.${a.state}`));
      if (a.flapping) st.append(el("span", "tag", t("op.flapping")));
      tr.append(st, el("td", "rule", a.rule_name), el("td", "group", a.group || "—"),
        el("td", "num", fmtValue(a.value)), el("td", "age", fmtAgo(now - since(a))),
        el("td", "msg", localName(a.message)));
      const ack = el("td", "ack", ackText(a));
      if (a.silenced_until) ack.append(el("div", "silenced", t("op.silenced_until", { time: fmtDateTime(new Date(a.silenced_until)) })));
      tr.append(ack);
      const actions = el("td", "actions");
      if (!a.acked) actions.append(this.button("ack", a));
      actions.append(this.button(a.silenced_until ? "unsilence" : "silence", a));
      tr.append(actions);
      return tr;
    });
    this.tbody.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
    this.counter.textContent = String(rows.length);
    this.counter.dataset.status = this.sorted().some((a) => a.state === "firing" && a.severity === "critical") ? "crit" : rows.length ? "warn" : "ok";
  }

  button(action, a) {
    const b = el("button", `ioc-btn act-${action}`, t(`op.${action}`));
    b.type = "button";
    b.addEventListener("click", () => this.onAction(action, a));
    return b;
  }
}

// The history tab: alerts from GET /api/v1/alerts with the form's filters.
export async function loadHistory(form, tbody) {
  const f = new FormData(form);
  const q = new URLSearchParams();
  if (f.get("state")) q.set("state", f.get("state"));
  if (f.get("rule")) q.set("rule", f.get("rule"));
  q.set("since", new Date(Date.now() - Number(f.get("since") || 24) * 3600000).toISOString());
  q.set("limit", "500");
  const list = await apiGet(`/api/v1/alerts?${q}`);
  tbody.replaceChildren(...list.map((a) => {
    const tr = el("tr");
    tr.dataset.id = a.id;
    tr.dataset.state = a.state;
    tr.append(severityCell(a), el("td", "state", t(`op.state.${a.state}`)), el("td", "rule", a.rule_name),
      el("td", "group", a.group || "—"), el("td", "time", fmtDateTime(new Date(a.started_at))),
      el("td", "time", a.resolved_at ? fmtDateTime(new Date(a.resolved_at)) : "—"),
      el("td", "msg", localName(a.message)), el("td", "ack", ackText(a)));
    return tr;
  }));
  return list;
}
