// The ioc.v1 WebSocket client every page uses: subscribe, reconnect with back-off, resync on seq gaps.
const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 30000;
const PING_EVERY_MS = 20000;
const PONG_WAIT_MS = 10000;

// A live connection to /ws. opts: topics (array), onSnapshot(msg), onUpdate(msg), onAlert(msg),
// onState(state, info) with state "connecting" | "open" | "closed" (info.retryMs: next try,
// info.opened: whether this attempt ever opened; false often means the upgrade was refused).
// Starts at once; close() stops it for good.
export class IocSocket {
  constructor(opts) {
    this.opts = opts;
    this.topics = opts.topics || ["indicators"];
    this.attempt = 0;
    this.ws = null;
    this.seq = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.stats = { resyncs: 0, reconnects: 0, frames: 0 };
    this.connect();
  }

  state(s, info = {}) {
    if (this.opts.onState) this.opts.onState(s, info);
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/ws`;
  }

  connect() {
    if (this.stopped) return;
    this.state("connecting");
    this.seq = 0;
    let opened = false;
    const ws = new WebSocket(this.url(), "ioc.v1");
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.send({ op: "subscribe", topics: this.topics });
      this.schedulePing();
      this.state("open");
    };
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.clearTimers();
      this.ws = null;
      if (this.stopped) return;
      const base = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** this.attempt);
      const retryMs = Math.round(base / 2 + Math.random() * (base / 2));
      this.attempt = Math.min(this.attempt + 1, 16);
      this.stats.reconnects++;
      this.state("closed", { retryMs, opened });
      this.retryTimer = setTimeout(() => this.connect(), retryMs);
    };
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  // Asks for a fresh snapshot of everything subscribed (after a seq gap, or when a page wants it).
  resync() {
    this.stats.resyncs++;
    this.send({ op: "subscribe", topics: this.topics });
  }

  onFrame(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (e) {
      return;
    }
    this.stats.frames++;
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
    const gap = this.seq !== 0 && typeof msg.seq === "number" && msg.seq !== this.seq + 1;
    if (typeof msg.seq === "number") this.seq = msg.seq;
    if (msg.type === "snapshot") {
      this.attempt = 0;
      if (this.opts.onSnapshot) this.opts.onSnapshot(msg);
      return;
    }
    if (gap) {
      this.resync();
      return;
    }
    if (msg.type === "update" && this.opts.onUpdate) this.opts.onUpdate(msg);
    else if (msg.type === "alert" && this.opts.onAlert) this.opts.onAlert(msg);
  }

  schedulePing() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      this.send({ op: "ping" });
      if (!this.pongTimer)
        this.pongTimer = setTimeout(() => this.ws && this.ws.close(), PONG_WAIT_MS);
    }, PING_EVERY_MS);
  }

  clearTimers() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.retryTimer);
    this.pingTimer = this.pongTimer = this.retryTimer = null;
  }

  // Closes the connection and stops reconnecting.
  close() {
    this.stopped = true;
    this.clearTimers();
    if (this.ws) this.ws.close();
    this.ws = null;
  }
}
