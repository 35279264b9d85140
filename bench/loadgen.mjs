// Load generator: thousands of Socket.IO clients in one Node process.
//
// Each client is a bare `ws` WebSocket speaking Engine.IO v4 / Socket.IO v5 by
// hand (handshake `0{...}`, ping `2` -> pong `3`, CONNECT `40/ns,{auth}`,
// events `42/ns,[...]`, acks `43/ns,id[...]`), which costs a few KB per client
// instead of a full socket.io-client. It is driven by bench/loadgen.py over
// stdin/stdout, one JSON object per line: {id, cmd, ...} -> {id, ok, ...}.
//
// Benchmark events carry their send time (epoch milliseconds) in the text
// `bench:<ms>;`; latency is receive time minus that, on the same machine clock.

import { readFileSync } from "node:fs";
import readline from "node:readline";
import { WebSocket } from "ws";

const MARKER = Buffer.from("bench:");
const now = () => performance.timeOrigin + performance.now();

const clients = []; // every client ever opened in this process (closed ones stay, flagged)
let closing = false;
let dropped = 0; // connected clients closed by the server or the network

// -- measurement state (reset by `expect`) ---------------------------------
let perClient = 0; // events each measured client should receive
let measured = []; // the clients counted by `collect`
let latencies = new Float64Array(0);
let received = 0;
let minSent = Infinity;
let maxRecv = 0;
let lastRecv = 0;
let droppedAtReset = 0;

function onEvent(client, buf) {
  const at = buf.indexOf(MARKER);
  if (at < 0) return; // connection notices and other events are not measured
  const t = now();
  const sent = parseFloat(buf.toString("latin1", at + MARKER.length, at + MARKER.length + 24));
  client.got += 1;
  if (received < latencies.length) latencies[received] = t - sent;
  received += 1;
  if (sent < minSent) minSent = sent;
  if (t > maxRecv) maxRecv = t;
  lastRecv = t;
}

function open(spec, index) {
  // Resolves {ok: true, client} once the namespace CONNECT is acknowledged.
  return new Promise((resolve) => {
    const address = spec.local_addresses[index % spec.local_addresses.length];
    const ns = spec.namespace;
    const client = { ws: null, got: 0, connected: false, acks: new Map(), nextAck: 1 };
    let settled = false;
    const done = (result) => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    const ws = new WebSocket(spec.url, {
      perMessageDeflate: spec.deflate,
      localAddress: address,
      handshakeTimeout: spec.timeout_ms,
      skipUTF8Validation: true,
    });
    client.ws = ws;
    const timer = setTimeout(() => {
      done({ ok: false, error: "timeout" });
      ws.terminate();
    }, spec.timeout_ms);
    ws.on("message", (buf) => {
      const type = buf[0];
      if (type === 0x32) return ws.send("3"); // ping -> pong
      if (type !== 0x34) {
        if (type === 0x30) ws.send(`40${ns},${JSON.stringify({ token: spec.tokens[index] })}`);
        return;
      }
      const kind = buf[1];
      if (kind === 0x32) return onEvent(client, buf); // 42: event
      const text = buf.toString();
      const body = text.slice(2 + ns.length + 1); // after "4x/ns,"
      if (kind === 0x33) {
        // 43: ack `43/ns,<id>[...]`
        const m = /^(\d+)(.*)$/s.exec(body);
        const waiter = m && client.acks.get(Number(m[1]));
        if (waiter) {
          client.acks.delete(Number(m[1]));
          waiter(m[2]);
        }
      } else if (kind === 0x30) {
        clearTimeout(timer);
        client.connected = true;
        clients.push(client);
        done({ ok: true, client });
      } else if (kind === 0x34) {
        clearTimeout(timer);
        done({ ok: false, error: "connect_error " + body.slice(0, 120) });
        ws.close();
      }
    });
    ws.on("error", (err) => {
      clearTimeout(timer);
      done({ ok: false, error: err.code || err.message });
    });
    ws.on("close", () => {
      clearTimeout(timer);
      if (client.connected && !closing) dropped += 1;
      client.connected = false;
      done({ ok: false, error: "closed during handshake" });
    });
  });
}

function call(client, ns, event, payload, timeoutMs) {
  return new Promise((resolve) => {
    const id = client.nextAck++;
    const timer = setTimeout(() => {
      client.acks.delete(id);
      resolve(null);
    }, timeoutMs);
    client.acks.set(id, (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    client.ws.send(`42${ns},${id}${JSON.stringify([event, payload])}`);
  });
}

async function pool(count, concurrency, work) {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function countError(errors, error) {
  errors[error] = (errors[error] || 0) + 1;
}

// -- commands --------------------------------------------------------------
const commands = {
  // Open `count` clients (tokens[offset..]) with `concurrency` handshakes in
  // flight; optionally subscribe each to `room` (ack must say success).
  async connect(msg) {
    const tokens = JSON.parse(readFileSync(msg.tokens_file, "utf8"));
    const spec = { ...msg, tokens };
    const errors = {};
    const opened = [];
    let connected = 0;
    const started = now();
    await pool(msg.count, msg.concurrency, async (i) => {
      const result = await open(spec, msg.offset + i);
      if (result.ok) {
        connected += 1;
        opened.push(result.client);
      } else countError(errors, result.error);
    });
    const connectMs = now() - started;
    let subscribed = 0;
    if (msg.room) {
      await pool(opened.length, msg.concurrency, async (i) => {
        const reply = await call(opened[i], msg.namespace, "subscribe", { room: msg.room }, msg.timeout_ms);
        if (reply && reply.includes('"success"')) subscribed += 1;
        else countError(errors, reply === null ? "subscribe timeout" : "subscribe refused " + reply.slice(0, 120));
      });
    }
    return { connected, subscribed, failed: msg.count - connected, errors, connect_ms: connectMs };
  },

  // Start counting: every open client should now receive `per_client` events.
  expect(msg) {
    perClient = msg.per_client;
    measured = clients.filter((c) => c.connected);
    for (const c of measured) c.got = 0;
    latencies = new Float64Array(perClient * measured.length);
    received = 0;
    minSent = Infinity;
    maxRecv = 0;
    lastRecv = now();
    droppedAtReset = dropped;
    return { clients: measured.length, expected: latencies.length };
  },

  // Wait until every expected event arrived, nothing arrived for idle_ms, or
  // deadline_ms passed; then report deliveries, loss and latency.
  async collect(msg) {
    const expected = perClient * measured.length;
    const deadline = now() + msg.deadline_ms;
    while (received < expected && now() < deadline && now() - lastRecv < msg.idle_ms) {
      await new Promise((r) => setTimeout(r, 10));
    }
    let lost = 0;
    let duplicates = 0;
    for (const c of measured) {
      if (c.got < perClient) lost += perClient - c.got;
      else duplicates += c.got - perClient;
    }
    const n = Math.min(received, latencies.length);
    const sorted = latencies.subarray(0, n).sort();
    const pct = (p) => (n ? sorted[Math.min(n - 1, Math.floor((p / 100) * n))] : null);
    const spanMs = maxRecv - minSent;
    return {
      clients: measured.length,
      expected,
      received,
      lost,
      duplicates,
      dropped: dropped - droppedAtReset,
      deliveries_per_s: n && spanMs > 0 ? received / (spanMs / 1000) : null,
      span_ms: n ? spanMs : null,
      first_sent_ms: n ? minSent : null,
      last_received_ms: n ? maxRecv : null,
      p50_ms: pct(50),
      p90_ms: pct(90),
      p99_ms: pct(99),
      max_ms: n ? sorted[n - 1] : null,
    };
  },

  // Close every client the way socket.io-client does (DISCONNECT, then close).
  async disconnect_all(msg) {
    closing = true;
    const open = clients.filter((c) => c.connected);
    const started = now();
    const closed = open.map(
      (c) =>
        new Promise((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once("close", resolve);
          c.ws.send(`41${msg.namespace},`);
          c.ws.close();
        }),
    );
    const timeout = new Promise((r) => setTimeout(r, msg.timeout_ms));
    await Promise.race([Promise.all(closed), timeout]);
    const elapsed = now() - started;
    let forced = 0;
    for (const c of open) {
      if (c.ws.readyState !== WebSocket.CLOSED) {
        c.ws.terminate();
        forced += 1;
      }
      c.connected = false;
    }
    clients.length = 0;
    closing = false;
    return { closed: open.length - forced, forced, elapsed_ms: elapsed };
  },

  status() {
    return { open: clients.filter((c) => c.connected).length, dropped };
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const msg = JSON.parse(line);
  try {
    const result = await commands[msg.cmd](msg);
    process.stdout.write(JSON.stringify({ id: msg.id, ok: true, ...result }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: msg.id, ok: false, error: String(err && err.stack) }) + "\n");
  }
});
rl.on("close", () => process.exit(0));
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
