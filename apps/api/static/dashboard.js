// Live events dashboard: vanilla JavaScript over the socket.io-client bundle this
// server ships (/ws/static/socket.io.min.js). Everything shown is set with
// textContent, never innerHTML: payloads are data, not markup.
"use strict";

const MAX_EVENTS = 500;
const LEGACY_ALIASES = new Set(["connection_established"]);
const $ = (id) => document.getElementById(id);

let socket = null;
let reconnects = 0;
const rooms = new Map(); // room -> its <li>
const workflows = new Map(); // workflow_id -> its <div>

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function log(text, isError = false) {
  const time = new Date().toLocaleTimeString();
  $("log").prepend(el("li", { className: isError ? "error" : "", textContent: `${time} ${text}` }));
}

function setState(state) {
  $("state").dataset.state = state;
  $("state").textContent = state;
  $("connect").disabled = state === "connected" || state === "connecting";
  $("disconnect").disabled = socket === null;
}

// -- token ----------------------------------------------------------------
// The development token exists in development mode only, for requests made on
// the server's own machine (loopback address and Host, no proxy): the button is
// shown only when the server says this page qualifies.
async function offerDevToken() {
  try {
    const response = await fetch("/ws/dev-token/available");
    const answer = response.ok ? await response.json() : { available: false };
    $("use-dev-token").hidden = !answer.available;
    $("token").placeholder = answer.available
      ? "Paste an access token, or use the development token"
      : "Paste an access token";
    document.body.dataset.devToken = answer.available ? "available" : "unavailable";
    if (answer.available) await offerTestEvents();
  } catch {
    $("use-dev-token").hidden = true;
    document.body.dataset.devToken = "unavailable";
  }
}

async function useDevToken() {
  try {
    $("token").value = await devToken();
    log("development token loaded");
  } catch (err) {
    $("use-dev-token").hidden = true;
    log(`no development token: ${err.message}`, true);
  }
}

async function devToken() {
  const response = await fetch("/ws/dev-token");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.detail && body.detail.message ? body.detail.message : `HTTP ${response.status}`);
  }
  return body.token;
}

// -- test events (development, this machine only, like the token) ---------
// A sample of each type (its model's example, from /ws/dev/samples), sent to a
// subscribed room through POST /api/events with the development token: the
// field that routes the event to that kind of room is set to the room's id.
let samples = [];

async function offerTestEvents() {
  const response = await fetch("/ws/dev/samples");
  if (!response.ok) return;
  samples = (await response.json()).samples;
  $("test-event-form").hidden = false;
  refreshTestRooms();
}

function refreshTestRooms() {
  const select = $("test-room");
  const chosen = select.value;
  const subscribed = [...rooms.entries()].filter(([, item]) => item.dataset.status === "subscribed");
  select.replaceChildren(...subscribed.map(([room]) => el("option", { value: room, textContent: room })));
  if (subscribed.some(([room]) => room === chosen)) select.value = chosen;
  refreshTestTypes();
}

function refreshTestTypes() {
  const select = $("test-type");
  const chosen = select.value;
  const kind = $("test-room").value.split(":")[0];
  const fitting = samples.filter((sample) => kind in sample.routes);
  select.replaceChildren(...fitting.map((s) => el("option", { value: s.type, textContent: s.type })));
  if (fitting.some((sample) => sample.type === chosen)) select.value = chosen;
  $("send-test").disabled = fitting.length === 0;
}

async function sendTestEvent() {
  const room = $("test-room").value;
  const sample = samples.find((s) => s.type === $("test-type").value);
  if (!room || !sample) return;
  const [kind, id] = [room.slice(0, room.indexOf(":")), room.slice(room.indexOf(":") + 1)];
  const data = { ...sample.data, [sample.routes[kind]]: id };
  try {
    const response = await fetch("/api/events", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${await devToken()}` },
      body: JSON.stringify({ type: sample.type, data }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status !== 202) {
      const detail = body.detail && body.detail.code ? `${body.detail.code}: ${body.detail.message}` : "";
      throw new Error(`HTTP ${response.status} ${detail}`);
    }
    log(`sent ${sample.type} to ${room} (event ${body.events[0].id})`);
  } catch (err) {
    log(`test event not sent: ${err.message}`, true);
  }
}

// -- connection -----------------------------------------------------------
function connect() {
  if (socket) disconnect();
  // auth is a function so that every reconnection reads the token field again.
  const current = io(`${location.origin}/ws`, {
    path: "/ws/socket.io",
    auth: (cb) => cb({ token: $("token").value.trim() }),
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  socket = current;
  // Events of a socket the user has already replaced are ignored.
  const on = (handler) => (...args) => current === socket && handler(...args);
  setState("connecting");
  current.on("connect", on(onConnect));
  current.on("disconnect", on((reason) => {
    log(`disconnected: ${reason}`, true);
    for (const item of rooms.values()) item.dataset.status = "pending";
    refreshTestRooms();
    setState(current.active ? "reconnecting" : "disconnected");
  }));
  current.on("connect_error", on((err) => {
    const code = err.data && err.data.code ? `${err.data.code}: ${err.data.message}` : err.message;
    log(`connect error: ${code}`, true);
    setState(current.active ? "reconnecting" : "refused");
  }));
  current.io.on("reconnect_attempt", on((attempt) => log(`reconnecting (attempt ${attempt})`)));
  current.io.on("reconnect", on(() => {
    reconnects += 1;
    $("reconnects").textContent = String(reconnects);
  }));
  current.onAny(on(onEvent));
}

function onConnect() {
  setState("connected");
  $("sid").textContent = socket.id;
  const engine = socket.io.engine;
  $("transport").textContent = engine.transport.name;
  engine.once("upgrade", (transport) => ($("transport").textContent = transport.name));
  log(`connected as ${socket.id}`);
  // A new connection starts with its automatic rooms only: join the others again.
  for (const room of rooms.keys()) subscribe(room);
}

function disconnect() {
  if (!socket) return;
  const closing = socket;
  socket = null;
  closing.disconnect();
  setState("disconnected");
  $("sid").textContent = "–";
  log("disconnected by you");
}

// -- rooms ----------------------------------------------------------------
function roomItem(room) {
  let item = rooms.get(room);
  if (!item) {
    const leave = el("button", { type: "button", textContent: "Unsubscribe" });
    leave.addEventListener("click", () => unsubscribe(room));
    item = el("li", { dataset: { room, status: "pending" } }, el("span", { className: "name", textContent: room }), leave);
    rooms.set(room, item);
    $("subscriptions").append(item);
  }
  return item;
}

function subscribe(room) {
  const item = roomItem(room);
  item.dataset.status = "pending";
  if (!socket || !socket.connected) return; // joined on the next connect
  socket.timeout(5000).emit("subscribe", { room }, (err, ack) => {
    if (err) {
      item.dataset.status = "error";
      log(`subscribe ${room}: no answer`, true);
    } else if (ack.status === "success") {
      item.dataset.status = "subscribed";
      if (ack.room !== room) renameRoom(room, ack.room);
      log(`subscribed to ${ack.room}`);
    } else {
      item.remove();
      rooms.delete(room);
      log(`subscribe ${room}: ${ack.code}: ${ack.message}`, true);
    }
    refreshTestRooms();
  });
}

function renameRoom(from, to) {
  const item = rooms.get(from);
  rooms.delete(from);
  if (rooms.has(to)) return item.remove();
  item.dataset.room = to;
  item.querySelector(".name").textContent = to;
  rooms.set(to, item);
}

function unsubscribe(room) {
  const item = rooms.get(room);
  rooms.delete(room);
  if (item) item.remove();
  refreshTestRooms();
  if (socket && socket.connected) {
    socket.emit("unsubscribe", { room }, (ack) => {
      if (ack.status !== "success") log(`unsubscribe ${room}: ${ack.code}: ${ack.message}`, true);
    });
  }
}

// -- events ---------------------------------------------------------------
function onEvent(name, event) {
  if (LEGACY_ALIASES.has(name) || !event || typeof event !== "object") return;
  const time = event.timestamp ? new Date(event.timestamp) : new Date();
  const row = el(
    "tr",
    { dataset: { type: name, room: event.room ?? "" } },
    el("td", { textContent: time.toLocaleTimeString(), title: event.timestamp ?? "" }),
    el("td", { className: "type", textContent: name }),
    el("td", { textContent: event.room ?? "(this connection)" }),
    el("td", {}, el("pre", { textContent: JSON.stringify(event.data ?? event, null, 1) })),
  );
  const body = $("events").tBodies[0];
  body.prepend(row);
  while (body.rows.length > MAX_EVENTS) body.deleteRow(-1);
  if (name.startsWith("workflow.") && event.data && event.data.workflow_id) showWorkflow(name, event.data);
}

function workflowItem(id) {
  let item = workflows.get(id);
  if (!item) {
    item = el(
      "div",
      { className: "workflow", dataset: { workflowId: id, status: "running" } },
      el("div", { className: "meta" }, el("span", { className: "id", textContent: id }), el("span", { className: "percent" })),
      el("progress", { max: 100, value: 0 }),
      el("div", { className: "step" }),
    );
    workflows.set(id, item);
    $("workflows").prepend(item);
    $("no-workflows").hidden = true;
  }
  return item;
}

function showWorkflow(type, data) {
  const item = workflowItem(data.workflow_id);
  const bar = item.querySelector("progress");
  let step = item.querySelector(".step").textContent;
  if (type === "workflow.started") step = `started: ${data.workflow_type}`;
  if (type === "workflow.progress") {
    bar.value = data.progress;
    step = data.current_step + (data.total_steps ? ` (${data.step_number ?? "?"}/${data.total_steps})` : "");
  }
  if (type === "workflow.completed") {
    bar.value = 100;
    item.dataset.status = "completed";
    step = "completed";
  }
  if (type === "workflow.failed") {
    item.dataset.status = "failed";
    step = `failed: ${data.error}`;
  }
  item.dataset.progress = String(bar.value);
  item.querySelector(".percent").textContent = `${bar.value}%`;
  item.querySelector(".step").textContent = step;
}

// -- wiring ---------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("max-events").textContent = String(MAX_EVENTS);
  $("use-dev-token").addEventListener("click", useDevToken);
  offerDevToken();
  $("connect").addEventListener("click", connect);
  $("disconnect").addEventListener("click", disconnect);
  $("clear").addEventListener("click", () => ($("events").tBodies[0].textContent = ""));
  $("test-room").addEventListener("change", refreshTestTypes);
  $("test-event-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    sendTestEvent();
  });
  $("subscribe-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    const room = $("room").value.trim();
    if (room) subscribe(room);
    $("room").value = "";
  });
  setState("disconnected");
});
