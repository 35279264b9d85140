// How a TypeScript client uses clients/typescript/events.d.ts with socket.io-client.
// tsc checks it (tests/unit/test_contract.py); the @ts-expect-error lines prove the
// types refuse mistakes rather than accepting anything.
import { io, type Socket } from "socket.io-client";
import type {
  AnyEvent,
  ClientToServerEvents,
  ErrorCode,
  ServerToClientEvents,
  WorkflowProgress,
} from "../../../clients/typescript/events";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:8000/ws", {
  path: "/ws/socket.io",
  auth: { token: "<access token>" },
});

socket.on("workflow.progress", (event) => {
  const percent: number = event.data.progress;
  const step: string = event.data.current_step;
  const room: string | null = event.room;
  console.log(percent, step, room, event.timestamp);
});

socket.on("connection.established", (event) => {
  const rooms: string[] = event.data.rooms;
  console.log(event.data.connection_id, rooms);
});

socket.emit("subscribe", { room: "project:550e8400-e29b-41d4-a716-446655440000" }, (ack) => {
  if (ack.status === "success") {
    const canonical: string = ack.room;
    console.log(canonical);
  } else {
    const code: ErrorCode = ack.code;
    console.warn(code, ack.message, ack.retryable);
  }
});

export async function currentRooms(): Promise<string[]> {
  const ack = await socket.timeout(5000).emitWithAck("debug:rooms", {});
  return ack.status === "success" ? ack.rooms : [];
}

export function describe(event: AnyEvent): string {
  switch (event.type) {
    case "workflow.progress":
      return `${event.data.workflow_id}: ${event.data.progress}%`;
    case "pr.created":
      return `PR ${event.data.title} by ${event.data.author}`;
    default:
      return event.type;
  }
}

// @ts-expect-error: there is no such command
socket.emit("subscrbe", { room: "global" }, () => {});
// @ts-expect-error: subscribe needs a room
socket.emit("subscribe", {}, () => {});
// @ts-expect-error: progress is a number
export const wrong: WorkflowProgress["progress"] = "50%";
socket.on("pr.closed", (event) => {
  // @ts-expect-error: a closed PR has no `progress`
  console.log(event.data.progress);
});
