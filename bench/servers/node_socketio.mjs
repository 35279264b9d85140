// Reference: the Node socket.io 4.8 server doing the same job as ours.
//
// Engine.IO at /ws/socket.io/, namespace /ws, `subscribe` joins the room and
// acknowledges, no authentication. POST /bench/broadcast follows the contract
// of bench/servers/trigger.py: n events to `room` at `rate` per second (0: back
// to back, yielding to the event loop between events), each carrying
// `bench:<epoch ms>;` plus `pad` characters. With --redis-url the official
// Redis adapter carries events between instances.

import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values: args } = parseArgs({
  options: { port: { type: "string" }, "redis-url": { type: "string", default: "" }, channel: { type: "string", default: "socket.io" },
             sharded: { type: "boolean", default: false } },
});
const WORKFLOW_ID = "6f1c2b8e-0d4a-4e43-9a57-3b8f5d2c9e10";
const now = () => performance.timeOrigin + performance.now();

function event(room, i, padding) {
  return {
    id: randomUUID(),
    type: "workflow.progress",
    room,
    timestamp: new Date().toISOString(),
    data: {
      workflow_id: WORKFLOW_ID, project_id: null, status: "running", progress: i % 101,
      current_step: "bench", total_steps: null, step_number: null,
      message: `bench:${now().toFixed(3)};` + padding,
    },
  };
}

function parseTrigger(query) {
  const room = query.get("room") || "";
  const n = Number(query.get("n") ?? 1), rate = Number(query.get("rate") ?? 0), pad = Number(query.get("pad") ?? 0);
  if (!room) throw new Error("room is required");
  if (!Number.isInteger(n) || n < 1 || n > 1e6) throw new Error("n must be 1 to 1000000");
  if (!(rate >= 0 && rate <= 1e6) || !Number.isInteger(pad) || pad < 0 || pad > 1e6) throw new Error("rate must be 0 to 1e6 and pad 0 to 1000000");
  return { room, n, rate, pad };
}

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sendEvents(nsp, { room, n, rate, pad }) {
  const padding = "x".repeat(pad);
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    if (rate > 0) {
      const delay = started + (i * 1000) / rate - performance.now();
      await (delay > 0 ? sleep(delay) : yieldToLoop());
    }
    nsp.to(room).emit("workflow.progress", event(room, i, padding));
    if (rate <= 0) await yieldToLoop();
  }
  return { sent: n, failed: 0, elapsed_ms: performance.now() - started };
}

function reply(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

// Event-loop stalls: how late a 5 ms timer fires (the contract of bench/servers/trigger.py).
const lag = { timer: null, due: 0, max: 0, samples: 0, stalls: 0 };
function lagTick() {
  const late = Math.max(0, performance.now() - lag.due);
  lag.samples += 1;
  lag.max = Math.max(lag.max, late);
  if (late > 100) lag.stalls += 1;
  lagArm();
}
function lagArm() {
  lag.due = performance.now() + 5;
  lag.timer = setTimeout(lagTick, 5);
}

const http = createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/health") return reply(res, 200, { status: "ok" });
  if (url.pathname === "/bench/lag/start" && req.method === "POST") {
    clearTimeout(lag.timer);
    Object.assign(lag, { max: 0, samples: 0, stalls: 0 });
    lagArm();
    return reply(res, 200, { started: true });
  }
  if (url.pathname === "/bench/lag/stop" && req.method === "POST") {
    clearTimeout(lag.timer);
    return reply(res, 200, { max_ms: lag.max, samples: lag.samples, over_100ms: lag.stalls });
  }
  if (url.pathname === "/bench/broadcast" && req.method === "POST") {
    let trigger;
    try {
      trigger = parseTrigger(url.searchParams);
    } catch (err) {
      return reply(res, 400, { error: err.message });
    }
    return reply(res, 200, await sendEvents(nsp, trigger));
  }
  reply(res, 404, { error: "not found" });
});

const io = new Server(http, {
  path: "/ws/socket.io",
  pingInterval: 25000,
  pingTimeout: 60000,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
});

if (args["redis-url"]) {
  const { createClient } = await import("redis");
  const { createAdapter, createShardedAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: args["redis-url"] });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(
    args.sharded
      ? createShardedAdapter(pub, sub, { channelPrefix: args.channel, subscriptionMode: "dynamic" })
      : createAdapter(pub, sub, { key: args.channel }),
  );
}

const nsp = io.of("/ws");
nsp.on("connection", (socket) => {
  socket.on("subscribe", (data, ack) => {
    const room = data && typeof data.room === "string" ? data.room : null;
    const answer = room
      ? (socket.join(room), { status: "success", room })
      : { status: "error", code: "INVALID_PAYLOAD", message: "room must be a string" };
    if (typeof ack === "function") ack(answer);
  });
});

http.listen(Number(args.port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
