// A socket.io-client 4.x peer the Python tests drive over stdin/stdout.
//
// Input, one JSON object a line:  {"id": 1, "op": "connect", "url": "...", "opts": {...}}
//   ops: connect {url, opts, sock?}  emit {event, args, ack?, timeout?, sock?}
//        disconnect {sock?}  cut {sock?} (drop the transport without a close: a network cut)
//        exit
// Output, one JSON object a line: replies {"id", "ok", ...} and notices
//   {"type": "event"|"connect"|"disconnect"|"connect_error"|"reconnect_attempt", "sock", ...}.
import { io } from "socket.io-client";
import readline from "node:readline";
import { RoomClient } from "../../apps/api/static/realtime-client.js";

const sockets = new Map();
const roomClients = new Map();
const write = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function attach(name, socket) {
  socket.on("connect", () => write({ type: "connect", sock: name, id: socket.id, transport: socket.io.engine.transport.name }));
  socket.on("disconnect", (reason) => write({ type: "disconnect", sock: name, reason }));
  socket.on("connect_error", (err) => write({ type: "connect_error", sock: name, message: err.message, data: err.data ?? null }));
  socket.onAny((event, ...args) => write({ type: "event", sock: name, event, args }));
  socket.io.on("reconnect_attempt", (n) => write({ type: "reconnect_attempt", sock: name, attempt: n }));
  socket.io.on("open", () =>
    socket.io.engine.on("upgrade", (t) => write({ type: "upgrade", sock: name, transport: t.name })),
  );
}

function connect(msg) {
  const name = msg.sock ?? "default";
  const { rooms: roomOptions, ...opts } = msg.opts ?? {};
  const socket = io(msg.url, { reconnection: false, ...opts });
  sockets.set(name, socket);
  attach(name, socket);
  if (roomOptions) {
    // The shipped helper: events it dispatches are reported as "room_event".
    const rooms = new RoomClient(socket, {
      replay: roomOptions.replay ?? "policy",
      onReset: (room, info) => write({ type: "reset", sock: name, room, info }),
      onRecovered: (room, info) => write({ type: "recovered", sock: name, room, info }),
      onError: (room, ack) => write({ type: "room_error", sock: name, room, ack }),
    });
    rooms.on("*", (event, type) => write({ type: "room_event", sock: name, event: type, args: [event] }));
    roomClients.set(name, rooms);
  }
  return new Promise((resolve) => {
    const done = (reply) => {
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      resolve(reply);
    };
    const onConnect = () => done({ ok: true, socket_id: socket.id, transport: socket.io.engine.transport.name });
    const onError = (err) => done({ ok: false, error: { message: err.message, data: err.data ?? null } });
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

async function emit(msg) {
  const socket = sockets.get(msg.sock ?? "default");
  if (!socket) return { ok: false, error: { message: "no such socket" } };
  const args = msg.args ?? [];
  if (!msg.ack) {
    socket.emit(msg.event, ...args);
    return { ok: true };
  }
  try {
    const ack = await socket.timeout(msg.timeout ?? 5000).emitWithAck(msg.event, ...args);
    return { ok: true, ack };
  } catch (err) {
    return { ok: false, error: { message: String(err.message ?? err) } };
  }
}

async function handle(msg) {
  switch (msg.op) {
    case "connect":
      return connect(msg);
    case "emit":
      return emit(msg);
    case "room_subscribe": {
      const rooms = roomClients.get(msg.sock ?? "default");
      if (!rooms) return { ok: false, error: { message: "connect with rooms first" } };
      return { ok: true, ack: [await rooms.subscribe(msg.room)] };
    }
    case "disconnect": {
      sockets.get(msg.sock ?? "default")?.disconnect();
      return { ok: true };
    }
    case "cut": {
      // Close the underlying transport abruptly; the client sees "transport close".
      sockets.get(msg.sock ?? "default")?.io.engine.close();
      return { ok: true };
    }
    case "exit":
      for (const socket of sockets.values()) socket.disconnect();
      setTimeout(() => process.exit(0), 50);
      return { ok: true };
    default:
      return { ok: false, error: { message: `unknown op ${msg.op}` } };
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    write({ type: "harness_error", message: "bad json" });
    return;
  }
  const reply = await handle(msg);
  write({ id: msg.id, ...reply });
});
rl.on("close", () => process.exit(0));
write({ type: "ready" });
