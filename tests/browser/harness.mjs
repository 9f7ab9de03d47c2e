// Browser test harness: a real iocd process (config from an object), HTTP helpers, headless Chromium.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash, randomBytes } from "node:crypto";

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.IOCD_SOURCE_DIR || join(here, "..", "..");
export const IOCD_BIN = process.env.IOCD_BIN || join(SOURCE_DIR, "build", "iocd");
export const OUT_DIR = process.env.IOCD_BROWSER_OUT || join(SOURCE_DIR, "build", "browser");
const CHROMIUM = process.env.IOCD_CHROMIUM || "/usr/bin/chromium";

// Throws with msg unless cond.
export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls pred() until it returns a truthy value; throws after timeoutMs naming what was awaited.
export async function waitFor(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await pred();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

// A free TCP port on 127.0.0.1.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A fresh database on the CTest PostgreSQL (IOCD_TEST_DSN); its DSN, or null without one
// (iocd then runs its embedded cluster).
export function freshDb(name) {
  const base = process.env.IOCD_TEST_DSN;
  if (!base) return null;
  execFileSync("psql", [base, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]);
  execFileSync("psql", [base, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE "${name}"`]);
  return base.replace("dbname=postgres", `dbname=${name}`);
}

// An auth section with a writer token: {auth, token}.
export function writerAuth() {
  const token = "browser-writer-" + randomBytes(8).toString("hex");
  const sha256 = createHash("sha256").update(token).digest("hex");
  return { auth: { tokens: [{ name: "browser-test", role: "writer", sha256 }] }, token };
}

// One iocd process on a fixed port with its config written into its own temporary directory.
export class Iocd {
  constructor(config, port) {
    this.root = mkdtempSync(join(tmpdir(), "iocd-browser-"));
    chmodSync(this.root, 0o755); // an embedded cluster runs as postgres and must reach state_dir
    this.port = port;
    this.config = { state_dir: join(this.root, "state"), ...config, http: { listen: `127.0.0.1:${port}`, dashboards: join(SOURCE_DIR, "dashboards") } };
    this.logPath = join(this.root, "iocd.log");
    this.proc = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  // Starts iocd (with config changes merged in) and waits until its database is up.
  async start(changes = {}) {
    Object.assign(this.config, changes);
    for (const k of Object.keys(this.config)) if (this.config[k] === undefined) delete this.config[k];
    const path = join(this.root, "iocd.json");
    writeFileSync(path, JSON.stringify(this.config, null, 2));
    const log = openSync(this.logPath, "a");
    const env = { ...process.env };
    delete env.IOCD_DATABASE_DSN;
    this.proc = spawn(IOCD_BIN, ["--config", path], { stdio: ["ignore", log, log], env });
    this.exited = new Promise((r) => this.proc.once("exit", (code) => r(code)));
    await waitFor(async () => {
      check(this.proc.exitCode === null, `iocd exited with ${this.proc.exitCode}:\n${this.logs().slice(-3000)}`);
      const r = await fetch(`${this.url}/healthz`);
      return (await r.json()).db === "up";
    }, 60000, "iocd to answer /healthz with db up");
    return this;
  }

  // SIGTERM and wait; returns the exit code.
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.proc ? this.proc.exitCode : 0;
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.exited, sleep(30000).then(() => "timeout")]);
    if (code === "timeout") {
      this.proc.kill("SIGKILL");
      throw new Error("iocd did not stop within 30 s after SIGTERM");
    }
    return code;
  }

  logs() {
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }

  cleanup() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGKILL");
    rmSync(this.root, { recursive: true, force: true });
  }

  async getJson(path) {
    const r = await fetch(this.url + path);
    check(r.ok, `GET ${path} answered ${r.status}`);
    return r.json();
  }

  // POSTs line protocol with the bearer token; throws unless 204.
  async write(token, lines) {
    const r = await fetch(`${this.url}/api/v1/write`, {
      method: "POST", headers: { Authorization: `Bearer ${token}` }, body: lines.join("\n"),
    });
    check(r.status === 204, `write answered ${r.status}: ${await r.text()}`);
  }
}

// Headless Debian chromium through playwright-core with a fresh profile: {context, close()}.
export async function launchBrowser() {
  const modules = join(here, "node_modules", "playwright-core");
  check(existsSync(modules), `playwright-core is not installed: run "npm ci" in ${here} (scripts/test does)`);
  check(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/install-deps --test does)`);
  check(existsSync(join(SOURCE_DIR, "dashboards", "vendor", "echarts.esm.min.mjs")),
        `dashboards/vendor/ is empty: run "npm ci && npm run vendor" in dashboards/ (scripts/install-deps does)`);
  const { chromium } = await import(join(modules, "index.mjs"));
  const profile = mkdtempSync(join(tmpdir(), "iocd-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1920, height: 1080 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
