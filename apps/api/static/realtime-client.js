// Resumable rooms for socket.io-client: no missed events across reconnects.
//
// Served by the event server at /ws/static/realtime-client.js (an ES module
// for browsers; Node cannot import from http://, so Node projects save a copy
// as realtime-client.mjs: WEBSOCKET_INTEGRATION_GUIDE.md, "Receiving events in
// Node"). Python services: clients/python/realtime_client.py. It wraps a
// socket.io-client Socket you create yourself:
//
//   import { io } from "socket.io-client";              // or the served bundle
//   import { RoomClient } from "/ws/static/realtime-client.js";
//   const socket = io("https://host/ws", { path: "/ws/socket.io", auth: { token } });
//   const rooms = new RoomClient(socket, { onReset: (room) => reloadFromRest(room) });
//   rooms.on("workflow.progress", (event) => render(event.data));
//   await rooms.subscribe(`workflow:${id}`);
//
// It remembers the last offset of every room, resubscribes with `since` after
// each reconnect (the server replays what was missed), drops duplicates, and
// asks again when a live event shows a gap. When the server says history no
// longer reaches back (`recovered: false`), or a room's stream was reset, it
// calls `onReset(room, info)`: reload that room's state over REST.

const ACK_TIMEOUT_MS = 10000;

export class RoomClient {
  /**
   * @param {import("socket.io-client").Socket} socket
   * @param {{replay?: "policy"|"all", storage?: Storage|null, onReset?: Function,
   *          onRecovered?: Function, onError?: Function}} [options]
   *   replay: "policy" (default) replays per event type (only the latest
   *   `workflow.progress` of each workflow, ...); "all" replays every kept event.
   *   storage: e.g. window.sessionStorage, to resume across page reloads too.
   */
  constructor(socket, options = {}) {
    this.socket = socket;
    this.replay = options.replay ?? "policy";
    this.storage = options.storage ?? null;
    this.onReset = options.onReset ?? (() => {});
    this.onRecovered = options.onRecovered ?? (() => {});
    this.onError = options.onError ?? ((room, ack) => console.warn("subscribe failed", room, ack));
    this.rooms = new Map(); // room -> {offset, epoch, pending, buffer}
    this.handlers = new Map(); // event type (or "*") -> Set of functions
    socket.onAny((name, event) => this._receive(name, event));
    socket.on("connect", () => {
      for (const room of this.rooms.keys()) this._resume(room);
    });
  }

  /** Listen for an event type ("*" for all); handlers get events once, in order. */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return this;
  }

  off(type, handler) {
    this.handlers.get(type)?.delete(handler);
    return this;
  }

  /** The last position seen in `room`: {offset, epoch}, or undefined. */
  position(room) {
    const state = this.rooms.get(room);
    return state && state.epoch !== null ? { offset: state.offset, epoch: state.epoch } : undefined;
  }

  /** Join `room` (resuming from a stored position if `storage` has one); resolves with the ack. */
  subscribe(room) {
    if (!this.rooms.has(room)) {
      const saved = this._load(room);
      this.rooms.set(room, { offset: saved?.offset ?? 0, epoch: saved?.epoch ?? null, pending: false, buffer: [] });
    }
    if (!this.socket.connected) return Promise.resolve({ status: "queued", room }); // done on connect
    return this._resume(room);
  }

  async unsubscribe(room) {
    this.rooms.delete(room);
    this.storage?.removeItem(`realtime:${room}`);
    if (this.socket.connected) return this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("unsubscribe", { room });
    return { status: "success", room };
  }

  async _resume(room) {
    const state = this.rooms.get(room);
    if (!state) return undefined;
    state.pending = true;
    const request = { room, replay: this.replay };
    if (state.epoch !== null) request.since = { offset: state.offset, epoch: state.epoch };
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("subscribe", request);
    } catch (error) {
      state.pending = false; // no answer: the next "connect" resumes again
      return { status: "error", code: "TIMEOUT", message: String(error) };
    }
    if (ack.status !== "success") {
      state.pending = false;
      if (ack.code === "FORBIDDEN") this.rooms.delete(room);
      this.onError(room, ack);
      return ack;
    }
    const position = ack.position;
    if (request.since && ack.recovered === false) {
      this.onReset(room, { reason: ack.reason, position });
    } else if (request.since) {
      this.onRecovered(room, { replayed: ack.replayed, position });
    }
    if (position) {
      const reset = ack.recovered === false || state.epoch !== position.epoch;
      state.offset = reset ? position.offset : Math.max(state.offset, position.offset);
      state.epoch = position.epoch;
      this._save(room, state);
    }
    state.pending = false;
    const parked = state.buffer.sort((a, b) => a[1].offset - b[1].offset);
    state.buffer = [];
    for (const [name, event] of parked) {
      if (state.pending) state.buffer.push([name, event]); // a gap started another resume
      else this._live(room, state, name, event);
    }
    return ack;
  }

  _receive(name, event) {
    const state = event && typeof event === "object" ? this.rooms.get(event.room) : undefined;
    if (!state || typeof event.offset !== "number") {
      this._dispatch(name, event); // not a tracked room, or an event that is not kept
      return;
    }
    if (state.pending) {
      if (event.replayed) this._accept(event.room, state, name, event);
      else state.buffer.push([name, event]); // released after the ack, in order
      return;
    }
    this._live(event.room, state, name, event);
  }

  _live(room, state, name, event) {
    if (state.epoch !== null && event.epoch !== state.epoch) {
      if (!(state.epoch === "" && event.offset === 1)) this.onReset(room, { reason: "epoch_changed" });
      state.epoch = event.epoch;
      state.offset = event.offset - 1;
    }
    if (event.offset <= state.offset) return; // already seen
    if (state.epoch !== null && event.offset > state.offset + 1) {
      state.buffer.push([name, event]); // a gap: ask for what is missing first
      this._resume(room);
      return;
    }
    this._accept(room, state, name, event);
  }

  _accept(room, state, name, event) {
    if (event.offset <= state.offset && state.epoch === event.epoch) return;
    state.offset = event.offset;
    state.epoch = event.epoch;
    this._save(room, state);
    this._dispatch(name, event);
  }

  _dispatch(name, event) {
    for (const handler of this.handlers.get(name) ?? []) handler(event);
    for (const handler of this.handlers.get("*") ?? []) handler(event, name);
  }

  _load(room) {
    try {
      const raw = this.storage?.getItem(`realtime:${room}`);
      return raw ? JSON.parse(raw) : undefined;
    } catch {
      return undefined;
    }
  }

  _save(room, state) {
    this.storage?.setItem(`realtime:${room}`, JSON.stringify({ offset: state.offset, epoch: state.epoch }));
  }
}
