// Thousands of lean Socket.IO clients in one Node process, for the mass-disconnect test.
//
// Each client is a bare WebSocket speaking Engine.IO v4 / Socket.IO v5 by hand
// (the `ws` package, as socket.io-client uses under Node): it joins /ws with
// its own token, answers pings, counts the events it receives, and can leave.
// Loopback only; the number of clients is whatever the test asks for.
//
// Input, one JSON object a line:
//   {"id", "op": "open", "url", "tokens": [...], "concurrency", "rooms"}
//        each client joins /ws, then subscribes to `rooms` project rooms of its own
//                                                                 -> {"ok", "connected", "failed"}
//   {"id", "op": "close_all"}  every client leaves at once           -> {"ok", "closed"}
//   {"id", "op": "stats"}                                             -> {"ok", "open", "events"}
//   {"id", "op": "exit"}
import WebSocket from "ws";
import { randomUUID } from "node:crypto";
import readline from "node:readline";

const clients = [];
let events = 0;
const write = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function openOne(url, token, rooms) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let pending = rooms;
    const done = (ok) => resolve(ok);
    ws.on("message", (data) => {
      const frame = data.toString();
      if (frame === "2") ws.send("3");
      else if (frame.startsWith("0{")) ws.send(`40/ws,${JSON.stringify({ token })}`);
      else if (frame.startsWith("40/ws,")) {
        clients.push(ws);
        if (pending === 0) done(true);
        for (let i = 1; i <= rooms; i++) ws.send(`42/ws,${i}["subscribe",{"room":"project:${randomUUID()}"}]`);
      } else if (frame.startsWith("43/ws,")) {
        if (!frame.includes('"success"')) done(false);
        else if (--pending === 0) done(true);
      } else if (frame.startsWith("44/ws,")) done(false);
      else if (frame.startsWith("42/ws,")) events += 1;
    });
    ws.on("error", () => done(false));
    ws.on("close", () => done(false));
  });
}

async function open(msg) {
  const url = msg.url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket";
  let next = 0;
  let connected = 0;
  let failed = 0;
  const worker = async () => {
    while (next < msg.tokens.length) {
      const token = msg.tokens[next++];
      if (await openOne(url, token, msg.rooms ?? 0)) connected += 1;
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: msg.concurrency ?? 50 }, worker));
  return { ok: true, connected, failed };
}

function closeAll() {
  const closing = clients.splice(0);
  for (const ws of closing) {
    ws.send("41/ws,"); // leave the namespace, as socket.disconnect() does
    ws.close();
  }
  return { ok: true, closed: closing.length };
}

async function handle(msg) {
  switch (msg.op) {
    case "open":
      return open(msg);
    case "close_all":
      return closeAll();
    case "stats":
      return { ok: true, open: clients.filter((ws) => ws.readyState === WebSocket.OPEN).length, events };
    case "exit":
      closeAll();
      setTimeout(() => process.exit(0), 50);
      return { ok: true };
    default:
      return { ok: false, error: `unknown op ${msg.op}` };
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const msg = JSON.parse(line);
  write({ id: msg.id, ...(await handle(msg)) });
});
rl.on("close", () => process.exit(0));
write({ type: "ready" });
