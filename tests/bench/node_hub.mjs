// The Node.js baseline for WebSocket fan-out: a minimal broadcast hub on npm `ws` (pinned in
// package.json), as a team would hand-roll it. Clients on /ws (subprotocol ioc.v1) get a
// snapshot frame for their first message; every text frame the feeder sends on /feed is sent
// to every client.  node node_hub.mjs PORT
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
const snapshot = '{"type":"snapshot","seq":1,"topics":["indicators"],"items":[]}';
const clients = new Set();
const wss = new WebSocketServer({
  host: "127.0.0.1",
  port,
  backlog: 4096,
  handleProtocols: (protocols) => (protocols.has("ioc.v1") ? "ioc.v1" : false),
});

wss.on("connection", (ws, req) => {
  if (req.url === "/feed") {
    ws.on("message", (data, isBinary) => {
      for (const c of clients) c.send(data, { binary: isBinary });
    });
    return;
  }
  clients.add(ws);
  ws.once("message", () => ws.send(snapshot));
  ws.on("close", () => clients.delete(ws));
});
wss.on("listening", () => console.log(`listening port=${port}`));
process.on("SIGTERM", () => process.exit(0));
