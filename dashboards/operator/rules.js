// Alert rules: the list, and the editor (create, edit, disable, delete) with a 24-hour preview.
import { t, localName } from "../common/i18n.js";
import { apiGet, apiSend } from "../common/api.js";
import { fmtNumber } from "../common/format.js";

const CMP = [">", ">=", "<", "<="];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// A rule's condition in a few characters, e.g. "> 10 (5)", "outside 10–50", "no data 10m".
export function conditionText(c) {
  if (CMP.includes(c.op)) return `${c.op} ${c.value}${c.clear != null ? ` (${c.clear})` : ""}`;
  if (c.op === "outside") return `${t("op.op.outside")} ${c.min}–${c.max}`;
  if (c.op === "rate") return `${t("op.op.rate")} ${c.window} ${c.cmp} ${c.value}`;
  return `${t("op.op.nodata")} ${c.after}`;
}

export class Rules {
  constructor(tbody, dialog, onError) {
    this.tbody = tbody;
    this.dialog = dialog;
    this.form = dialog.querySelector("form");
    this.onError = onError;
    this.rules = [];
    this.indicators = [];
    this.editing = null;
    this.form.op.addEventListener("change", () => this.showFields());
    this.form.indicator.addEventListener("change", () => this.fillGroups(""));
    dialog.querySelector("#rule-preview").addEventListener("click", (ev) => { ev.preventDefault(); this.preview(); });
    dialog.querySelector("#rule-save").addEventListener("click", (ev) => { ev.preventDefault(); this.save(); });
    dialog.querySelector("#rule-delete").addEventListener("click", (ev) => { ev.preventDefault(); this.remove(); });
  }

  async load() {
    const [rules, inds] = await Promise.all([apiGet("/api/v1/alert-rules"), apiGet("/api/v1/indicators")]);
    this.rules = rules;
    this.indicators = inds.indicators || [];
    this.render();
    return rules;
  }

  indicatorName(id) {
    const ind = this.indicators.find((i) => i.id === id);
    return ind ? localName(ind.name) : id;
  }

  render() {
    this.tbody.replaceChildren(...this.rules.map((r) => {
      const tr = el("tr");
      tr.dataset.id = r.id;
      if (r.enabled === false) tr.classList.add("disabled");
      const sev = el("span", "sev", t(`op.sev.${r.severity || "warning"}`));
      sev.dataset.status = { critical: "crit", warning: "warn", info: "ok" }[r.severity || "warning"];
      const sevTd = el("td");
      sevTd.append(sev);
      const edit = el("button", "ioc-btn act-edit", t(r.readonly ? "op.rule.view" : "op.rule.edit"));
      edit.type = "button";
      edit.addEventListener("click", () => this.open(r));
      const actions = el("td", "actions");
      actions.append(edit);
      tr.append(el("td", "rule", r.name + (r.enabled === false ? ` · ${t("op.rule.disabled")}` : "")),
        el("td", "", `${this.indicatorName(r.indicator)}${r.group != null ? ` · ${r.group || t("op.rule.total")}` : ""}`),
        el("td", "cond", conditionText(r.condition)), el("td", "", r.for || "0s"), sevTd,
        el("td", "src", t(`op.rule.source.${r.source}`)), actions);
      return tr;
    }));
  }

  fillGroups(selected) {
    const f = this.form;
    const ind = this.indicators.find((i) => i.id === f.indicator.value);
    const opts = [new Option(t("op.rule.all_groups"), "\u0000")];
    if (ind && (ind.groups || []).length) {
      opts.push(new Option(t("op.rule.total"), ""));
      for (const g of ind.groups) if (g.group) opts.push(new Option(g.group, g.group));
    }
    if (selected && !opts.some((o) => o.value === selected)) opts.push(new Option(selected, selected));
    f.group.replaceChildren(...opts);
    f.group.value = selected == null ? "\u0000" : selected;
  }

  showFields() {
    const op = this.form.op.value;
    const kind = CMP.includes(op) ? "cmp" : op;
    for (const l of this.form.querySelectorAll("[data-for]")) l.hidden = !l.dataset.for.split(" ").includes(kind);
  }

  message(text) {
    const p = this.form.querySelector(".form-error");
    p.hidden = !text;
    p.textContent = text || "";
  }

  // Opens the editor for rule r (null: a new rule).
  open(r) {
    const f = this.form;
    this.editing = r;
    this.message("");
    this.form.querySelector(".preview-result").hidden = true;
    this.dialog.querySelector(".rule-title").textContent = t(!r ? "op.rule.new" : r.readonly ? "op.rule.view" : "op.rule.edit");
    f.indicator.replaceChildren(...this.indicators.map((i) => new Option(`${localName(i.name)} (${i.id})`, i.id)));
    const c = r ? r.condition : { op: ">", value: "" };
    f.name.value = r ? r.name : "";
    f.indicator.value = r ? r.indicator : (this.indicators[0] || {}).id || "";
    this.fillGroups(r ? r.group : null);
    f.op.value = c.op;
    f.value.value = c.value ?? "";
    f.clear.value = c.clear ?? "";
    f.min.value = c.min ?? "";
    f.max.value = c.max ?? "";
    f.window.value = c.window || "10m";
    f.cmp.value = c.cmp || ">";
    f.after.value = c.after || "10m";
    f.for.value = r ? r.for || "0s" : "5m";
    f.severity.value = r ? r.severity || "warning" : "warning";
    f.repeat.value = r ? r.repeat || "1h" : "1h";
    f.msg_vi.value = r && r.message ? r.message.vi || "" : "";
    f.msg_en.value = r && r.message ? r.message.en || "" : "";
    f.webhook.value = r && r.notify && r.notify[0] ? r.notify[0].webhook : "";
    f.enabled.checked = !r || r.enabled !== false;
    for (const e of f.elements) if (e.name) e.disabled = !!(r && r.readonly);
    this.dialog.querySelector("#rule-save").hidden = !!(r && r.readonly);
    this.dialog.querySelector("#rule-delete").hidden = !r || r.readonly;
    this.showFields();
    this.dialog.showModal();
  }

  // The definition from the form, as the API takes it.
  body() {
    const f = this.form;
    const num = (v) => (v === "" ? undefined : Number(v));
    const op = f.op.value;
    let c;
    if (CMP.includes(op)) c = { op, value: num(f.value.value), clear: num(f.clear.value) };
    else if (op === "outside") c = { op, min: num(f.min.value), max: num(f.max.value) };
    else if (op === "rate") c = { op, window: f.window.value, cmp: f.cmp.value, value: num(f.value.value), clear: num(f.clear.value) };
    else c = { op, after: f.after.value };
    for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
    const b = { name: f.name.value, indicator: f.indicator.value, condition: c, for: f.for.value,
      severity: f.severity.value, repeat: f.repeat.value, enabled: f.enabled.checked };
    if (f.group.value !== "\u0000") b.group = f.group.value;
    const vi = f.msg_vi.value.trim();
    const en = f.msg_en.value.trim();
    if (vi || en) b.message = Object.assign(vi ? { vi } : {}, en ? { en } : {});
    if (f.webhook.value.trim()) {
      const old = this.editing && this.editing.notify && this.editing.notify[0];
      b.notify = [Object.assign({}, old || {}, { webhook: f.webhook.value.trim() })];
    }
    return b;
  }

  apiError(e) {
    if (e.body && e.body.field) return t("err.field", { field: e.body.field, msg: e.body.error });
    if (e.status === 403) return t("err.403");
    return e.message;
  }

  async preview() {
    const out = this.form.querySelector(".preview-result");
    this.message("");
    try {
      const p = await apiSend("POST", "/api/v1/alert-rules/preview", this.body());
      const minutes = p.groups.reduce((s, g) => s + g.firing_minutes, 0);
      out.textContent = p.groups.length ? t("op.preview", { n: fmtNumber(p.fired, 0), minutes: fmtNumber(minutes, 0) }) : t("op.preview.none");
      out.hidden = false;
    } catch (e) {
      this.message(this.apiError(e));
    }
  }

  async save() {
    this.message("");
    try {
      if (this.editing) await apiSend("PUT", `/api/v1/alert-rules/${encodeURIComponent(this.editing.id)}`, this.body());
      else await apiSend("POST", "/api/v1/alert-rules", this.body());
      this.dialog.close();
      await this.load();
    } catch (e) {
      this.message(this.apiError(e));
    }
  }

  async remove() {
    if (!this.editing || !confirm(t("op.rule.delete_confirm", { name: this.editing.name }))) return;
    try {
      await apiSend("DELETE", `/api/v1/alert-rules/${encodeURIComponent(this.editing.id)}`);
      this.dialog.close();
      await this.load();
    } catch (e) {
      this.message(this.apiError(e));
    }
  }
}
