// Sign-in in headless Chromium against a real iocd without anonymous access: sent to the sign-in
// page, wrong password, back to the page with tiles, who is signed in, sign-out, no open redirect,
// a viewer refused the analyst export, an ended session's banner link, 429 with its wait.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { IOCD_BIN, Iocd, OUT_DIR, SOURCE_DIR, check, freePort, freshDb, launchBrowser, waitFor, writerAuth } from "./harness.mjs";

const ADMIN = { name: "root", password: `root-${randomBytes(8).toString("hex")}` };
const VIEWER = { name: "vera", password: "Vera-mat-khau-2024", role: "viewer" };

const results = [];
function ok(name) {
  results.push(name);
  console.log(`ok   ${name}`);
}

// `iocd --bootstrap-admin NAME` on d's config, the password from IOCD_BOOTSTRAP_PASSWORD.
function bootstrapAdmin(d, name, password) {
  const path = join(d.root, "bootstrap.json");
  writeFileSync(path, JSON.stringify(d.config, null, 2));
  const env = { ...process.env, IOCD_BOOTSTRAP_PASSWORD: password };
  delete env.IOCD_DATABASE_DSN;
  execFileSync(IOCD_BIN, ["--config", path, "--bootstrap-admin", name], { env, stdio: ["ignore", "pipe", "pipe"], timeout: 120000 });
}

// POST /api/v1/session from node (again while the user store is still loading: 503); the session
// cookie ("name=value") after checking its flags.
async function apiLogin(d, user, password) {
  const r = await waitFor(async () => {
    const a = await fetch(`${d.url}/api/v1/session`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user, password }),
    });
    return a.status === 503 ? null : a;
  }, 15000, "the user store to load (log-in answering other than 503)");
  const body = await r.text();
  check(r.status === 200, `log-in as ${user} answered ${r.status}: ${body}`);
  const set = r.headers.get("set-cookie") || "";
  check(/HttpOnly/i.test(set) && /SameSite=Strict/i.test(set), `session cookie flags: ${set}`);
  return set.split(";")[0];
}

async function createUser(d, cookie, user) {
  const r = await fetch(`${d.url}/api/v1/users`, {
    method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, Origin: d.url },
    body: JSON.stringify(user),
  });
  check(r.status === 201 || r.status === 200, `POST /api/v1/users answered ${r.status}: ${await r.text()}`);
}

const path = (page) => new URL(page.url()).pathname;
const shown = (page, sel) => page.evaluate((s) => {
  const e = document.querySelector(s);
  return e && !e.hidden ? e.textContent : "";
}, sel);

async function signIn(page, user, password) {
  await page.fill("#user", user);
  await page.fill("#password", password);
  await page.click("#login-submit");
}

async function main() {
  mkdirSync(OUT_DIR, { recursive: true });
  const demo = JSON.parse(readFileSync(join(SOURCE_DIR, "config", "demo.json"), "utf8"));
  const { auth } = writerAuth();
  const dsn = freshDb("browser_login");
  const d = new Iocd({
    database: dsn ? { dsn } : undefined,
    auth,
    collectors: demo.collectors,
    indicators: demo.indicators,
  }, await freePort());
  const browser = await launchBrowser();
  const errors = [];
  try {
    bootstrapAdmin(d, ADMIN.name, ADMIN.password);
    await d.start();
    const admin = await apiLogin(d, ADMIN.name, ADMIN.password);
    await createUser(d, admin, VIEWER);
    const anon = await fetch(`${d.url}/api/v1/indicators`);
    check(anon.status === 401, `without credentials /api/v1/indicators answered ${anon.status}`);
    const indicators = (await (await fetch(`${d.url}/api/v1/indicators`, { headers: { Cookie: admin } })).json()).indicators;
    ok("admin bootstrapped, viewer created through the API, anonymous access off");

    const page = await browser.context.newPage();
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(`${d.url}/`);
    await waitFor(() => path(page) === "/login.html", 5000, "/ to send us to the sign-in page");
    check(new URL(page.url()).searchParams.get("next") === "/", `next is ${page.url()}`);
    await page.waitForSelector("#login-form h1");
    check(await page.textContent("#login-form h1") === "Đăng nhập", "the sign-in page is not in Vietnamese");
    check(await page.textContent("#login-next") === "Bảng điều hành lãnh đạo", `return target reads "${await page.textContent("#login-next")}"`);
    const shot = join(OUT_DIR, "login.png");
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
    ok("a page without credentials sends us to the sign-in page with next=/");

    await signIn(page, VIEWER.name, "wrong-password");
    await waitFor(async () => (await shown(page, "#login-error")) === "Sai tên đăng nhập hoặc mật khẩu.", 10000, "the wrong-password message");
    check(path(page) === "/login.html", "a wrong password left the sign-in page");
    check(await page.inputValue("#password") === "", "the wrong password was left in the field");
    await page.click('[data-lang="en"]');
    check(await shown(page, "#login-error") === "Wrong user name or password.", "the message did not switch to English");
    check(await page.textContent("#login-form h1") === "Sign in", "the title did not switch to English");
    await page.click('[data-lang="vi"]');
    ok("a wrong password says so (vi, en) and stays on the page");

    await signIn(page, VIEWER.name, VIEWER.password);
    await waitFor(() => path(page) === "/", 10000, "the dashboard after signing in");
    await waitFor(() => page.evaluate((n) => document.querySelectorAll(".tile").length === n, indicators.length), 10000, `${indicators.length} tiles`);
    await waitFor(() => page.evaluate(() => document.querySelector("#conn").dataset.state === "open"), 10000, "the live connection");
    const who = await page.textContent(".ioc-session-who");
    check(who === "vera · người xem", `header says "${who}"`);
    check(await page.isVisible(".ioc-signout"), "no sign-out button in the header");
    check(await page.evaluate(() => document.cookie) === "", "the session cookie is readable from script");
    const shotDash = join(OUT_DIR, "login-dashboard.png");
    await page.screenshot({ path: shotDash, clip: { x: 0, y: 0, width: 1920, height: 200 } });
    console.log(`screenshot: ${shotDash}`);
    ok("the right password returns to the dashboard: tiles, live, 'vera · người xem' and sign-out in the header");

    const analyst = await browser.context.newPage();
    analyst.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    await analyst.goto(`${d.url}/analyst/`);
    await waitFor(async () => (await shown(analyst, "#banner")).startsWith("Tài khoản này không có quyền xuất báo cáo"), 10000, "the analyst page to refuse the viewer");
    check(await analyst.textContent(".ioc-session-who") === "vera · người xem", "no user in the analyst header");
    const status = await analyst.evaluate(() => fetch("/api/v1/export?indicators=x&from=2024-01-01&to=2024-01-02&step=1d&format=csv").then((r) => r.status));
    check(status === 403, `a viewer's export answered ${status}`);
    await analyst.goto(`${d.url}/operator/`);
    await waitFor(async () => (await analyst.evaluate(() => (document.querySelector(".ioc-session-who") || {}).textContent)) === "vera · người xem", 5000, "the operator header's user");
    await analyst.close();
    ok("a viewer is refused the analyst export with a clear message (403); header on analyst and operator pages");

    // next= goes nowhere but this site.
    await page.goto(`${d.url}/login.html?next=${encodeURIComponent("//evil.example/x")}`);
    await page.waitForSelector("#login-note:not([hidden]) a");
    const cont = await page.getAttribute("#login-note a", "href");
    check(cont === "/", `continue link for next=//evil.example/x is "${cont}"`);
    const nexts = await page.evaluate(async () => {
      const { safeNext } = await import("/common/login.js");
      return ["https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)",
              "evil.example", "/login.html?next=/x", "/analyst/?step=1d#t", "/operator/"].map(safeNext);
    });
    check(JSON.stringify(nexts) === JSON.stringify(["/", "/", "/", "/", "/", "/", "/", "/analyst/?step=1d#t", "/operator/"]),
          `safeNext gave ${JSON.stringify(nexts)}`);
    ok("next= accepts only same-origin relative paths (no open redirect); signed in: a link to continue");

    await page.goto(`${d.url}/`);
    await page.waitForSelector(".ioc-signout");
    await page.click(".ioc-signout");
    await waitFor(() => path(page) === "/login.html", 5000, "sign-out to open the sign-in page");
    await waitFor(async () => (await shown(page, "#login-note")) === "Bạn đã đăng xuất.", 5000, "the signed-out note");
    const after = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.status));
    check(after === 401, `after sign-out GET /api/v1/session answered ${after}`);
    await page.goto(`${d.url}/analyst/`);
    await waitFor(() => path(page) === "/login.html", 5000, "the analyst page to send us to sign in");
    check(new URL(page.url()).searchParams.get("next") === "/analyst/", `next is ${page.url()}`);
    ok("sign-out ends the session and opens the sign-in page; the analyst page then sends us there too");

    // A session that ends while the dashboard is open: the 401 banner links to the sign-in page.
    await signIn(page, VIEWER.name, VIEWER.password);
    await waitFor(() => path(page) === "/analyst/", 10000, "the analyst page after signing in");
    await page.goto(`${d.url}/`);
    await page.waitForSelector(".ioc-signout");
    await page.evaluate(async () => {
      await fetch("/api/v1/session", { method: "DELETE" });
      const { apiGet } = await import("/common/api.js");
      await apiGet("/api/v1/indicators").catch(() => null);
    });
    await waitFor(async () => (await shown(page, "#banner")).startsWith("Cần đăng nhập"), 5000, "the 401 banner");
    const link = await page.getAttribute("#banner a.ioc-signin-link", "href");
    check(link && new URL(link, d.url).pathname === "/login.html" && new URL(link, d.url).searchParams.get("next") === "/", `banner link is "${link}"`);
    check(await page.textContent(".ioc-session-who") === "Chưa đăng nhập", "the header still names a user");
    await page.click("#banner a.ioc-signin-link");
    await waitFor(() => path(page) === "/login.html", 5000, "the banner link to open the sign-in page");
    ok("an ended session: the dashboard's 401 banner links to the sign-in page, the header says not signed in");

    // Guessing is slowed down: 429 with the wait shown and counted down, the button held.
    let msg = "";
    for (let i = 0; i < 10; i++) {
      await signIn(page, VIEWER.name, `guess-${i}`);
      await waitFor(async () => (msg = await shown(page, "#login-error")) && !(await page.isDisabled("#login-submit")) ||
        msg.startsWith("Đăng nhập sai quá nhiều lần"), 10000, "an answer to the guess");
      if (msg.startsWith("Đăng nhập sai")) break;
      check(msg === "Sai tên đăng nhập hoặc mật khẩu.", `guess ${i}: "${msg}"`);
      await page.evaluate(() => { document.querySelector("#login-error").hidden = true; });
    }
    const m = /^Đăng nhập sai quá nhiều lần\. Vui lòng đợi (\d+) giây rồi thử lại\.$/.exec(msg);
    check(m && Number(m[1]) >= 1, `429 message reads "${msg}"`);
    check(await page.isDisabled("#login-submit"), "the button is not held during the wait");
    const shot429 = join(OUT_DIR, "login-429.png");
    await page.screenshot({ path: shot429 });
    console.log(`screenshot: ${shot429}`);
    await waitFor(async () => (await shown(page, "#login-error")) === "Đã hết thời gian chờ, bạn có thể thử lại." &&
      !(await page.isDisabled("#login-submit")), (Number(m[1]) + 5) * 1000, "the end of the wait");
    ok(`too many guesses: 429 shown with the wait (${m[1]} s), counted down, then the button is back`);

    check(errors.length === 0, `page errors:\n${errors.join("\n")}`);
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
