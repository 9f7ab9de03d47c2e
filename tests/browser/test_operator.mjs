// The operator console in headless Chromium against a real iocd: a firing alert appears live with
// its severity and message, ack from the page (comment kept by the API), history, the rule editor
// (field errors, preview, save), collectors' health, English.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Iocd, OUT_DIR, SOURCE_DIR, check, freePort, freshDb, launchBrowser, waitFor, writerAuth } from "./harness.mjs";

const INDICATORS = [
  { id: "t.overdue", name: { vi: "Phản ánh quá hạn", en: "Overdue feedback" }, unit: "hồ sơ",
    metric: "t.overdue", agg: "avg", window: "10m", group_by: ["district"] },
];

const results = [];
function ok(name) {
  results.push(name);
  console.log(`ok   ${name}`);
}

async function api(d, method, path, body) {
  const r = await fetch(d.url + path, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function main() {
  mkdirSync(OUT_DIR, { recursive: true });
  const demo = JSON.parse(readFileSync(join(SOURCE_DIR, "config", "demo.json"), "utf8"));
  const { auth, token } = writerAuth();
  const dsn = freshDb("browser_operator");
  const port = await freePort();
  // Anonymous operators: the page acts without signing in (who = "anonymous").
  const d = new Iocd({
    database: dsn ? { dsn } : undefined,
    auth: { ...auth, anonymous_role: "operator" },
    ingest: { batch_max_delay: "50ms" },
    collectors: demo.collectors,
    indicators: INDICATORS,
  }, port);
  const browser = await launchBrowser();
  const errors = [];
  try {
    await d.start();
    const rule = await waitFor(async () => {
      const r = await api(d, "POST", "/api/v1/alert-rules", {
        name: "Quá hạn Tân An", indicator: "t.overdue", group: "Tân An", severity: "critical",
        condition: { op: ">", value: 10, clear: 5 },
        message: { vi: "{indicator} tại {group}: {value} {unit}", en: "{indicator} in {group}: {value}" },
      });
      return r.status === 201 ? r.body : null;
    }, 20000, "the rule to be created");

    const page = await browser.context.newPage();
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    // The editor's field-error check makes one 422 on purpose; anything else is an error.
    page.on("console", (m) => m.type() === "error" && !/favicon/.test(m.location().url) &&
      !/status of 422/.test(m.text()) && errors.push(`console: ${m.text()}`));
    await page.goto(`${d.url}/operator/`);
    await waitFor(() => page.evaluate(() => window.iocOperator && window.iocOperator.snapshots > 0), 10000, "the first snapshot");
    check(await page.locator("#active-empty").isVisible(), "no active alerts yet, but the empty note is hidden");

    // A sample over the threshold: the alert appears live, critical, with the message in Vietnamese.
    await d.write(token, ["t.overdue,district=Tân\\ An value=20"]);
    const row = page.locator("#active-table tbody tr[data-state=firing]");
    await waitFor(() => row.count(), 10000, "the firing alert in the table");
    const firing = (await api(d, "GET", "/api/v1/alerts?state=firing")).body;
    check(firing.length === 1 && firing[0].rule === rule.id, `API firing: ${JSON.stringify(firing)}`);
    check(await row.getAttribute("data-id") === String(firing[0].id), "the row is not the API's alert");
    check(await row.locator(".sev").textContent() === "Nghiêm trọng", "severity chip");
    check(await row.locator(".msg").textContent() === "Phản ánh quá hạn tại Tân An: 20 hồ sơ",
      `message "${await row.locator(".msg").textContent()}"`);
    check(await page.locator("#active-count").textContent() === "1", "the count on the tab");
    ok("firing alert shown live with severity and message");

    // Ack from the page: the dialog's comment reaches the API and the row.
    await row.locator(".act-ack").click();
    await page.locator("#act-dialog textarea[name=comment]").fill("Đã chuyển phường xử lý");
    await page.locator("#act-ok").click();
    await waitFor(() => row.locator(".ack").textContent().then((s) => s.includes("Đã chuyển phường xử lý")), 5000, "the ack on the row");
    const acked = (await api(d, "GET", `/api/v1/alerts/${firing[0].id}`)).body;
    check(acked.acked && acked.acked.comment === "Đã chuyển phường xử lý" && acked.acked.by === "anonymous",
      `API ack: ${JSON.stringify(acked.acked)}`);
    check(await row.locator(".act-ack").count() === 0, "the ack button stays after the ack");
    ok("ack from the page with a comment");

    // Recovery: the row leaves; the history tab lists it resolved.
    await d.write(token, ["t.overdue,district=Tân\\ An value=1"]);
    await waitFor(async () => (await row.count()) === 0, 10000, "the resolved alert to leave the active table");
    await page.locator("[data-tab=history]").click();
    await waitFor(() => page.locator(`#history-table tr[data-id="${firing[0].id}"][data-state=resolved]`).count(), 5000, "the alert in the history");
    ok("recovery resolves; history lists it");

    // The rule editor: a field error is shown, the preview answers, a saved rule is listed.
    await page.locator("[data-tab=rules]").click();
    await waitFor(() => page.locator(`#rules-table tr[data-id="${rule.id}"]`).count(), 5000, "the rule in the list");
    await page.locator("#rule-new").click();
    await page.locator("#rule-dialog input[name=value]").fill("15");
    await page.locator("#rule-save").click();
    await waitFor(() => page.locator("#rule-dialog .form-error").textContent().then((s) => s.startsWith("name:")), 5000, "the error naming the field");
    await page.locator("#rule-dialog input[name=name]").fill("Quá hạn toàn tỉnh");
    await page.locator("#rule-preview").click();
    await waitFor(() => page.locator("#rule-dialog .preview-result").isVisible(), 5000, "the preview");
    await page.locator("#rule-save").click();
    await waitFor(async () => !(await page.locator("#rule-dialog").isVisible()), 5000, "the dialog to close");
    const rules = (await api(d, "GET", "/api/v1/alert-rules")).body;
    const made = rules.find((r) => r.name === "Quá hạn toàn tỉnh");
    check(made && made.condition.value === 15 && made.condition.op === ">" && made.group === undefined,
      `saved rule ${JSON.stringify(made)}`);
    await waitFor(() => page.locator(`#rules-table tr[data-id="${made.id}"]`).count(), 5000, "the new rule listed");
    ok("rule editor: field error, preview, save");

    // Collectors' health: the demo's simulator is up, with a recent success.
    await page.locator("[data-tab=health]").click();
    await waitFor(() => page.locator("#health-table tr[data-collector] td.up[data-status=ok]").count(), 15000, "a healthy collector");
    ok("collectors' health");

    // English.
    await page.locator("[data-lang=en]").click();
    await waitFor(() => page.locator("[data-tab=health]").textContent().then((s) => s === "Collectors' health"), 3000, "English tabs");
    const shot = join(OUT_DIR, "operator.png");
    await page.locator("[data-tab=active]").click();
    await d.write(token, ["t.overdue,district=Tân\\ An value=30"]);
    await waitFor(() => row.count(), 10000, "a second episode firing");
    check(await row.locator(".msg").textContent() === "Overdue feedback in Tân An: 30", "English message");
    check(await page.locator("#conn").textContent() === "Live", "connection state in English");
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
    ok("English");
    check(errors.length === 0, `errors in the page:\n${errors.join("\n")}`);
  } finally {
    await browser.close();
    await d.stop().catch(() => {});
    d.cleanup();
  }
  console.log(`${results.length} passed, 0 failed`);
}

main().catch((e) => {
  console.error(`FAIL ${e.stack || e}`);
  process.exit(1);
});
