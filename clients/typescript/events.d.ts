// Generated from the models of apps/api/websocket/protocol/ by `python -m contract`
// (run in apps/api). Do not edit: a test fails when this file differs from the models.

/** An agent came online (its first connection opened, on any instance). */
export interface AgentConnected {
  /** format: uuid */
  agent_id: string;
  agent_name: string | null;
}

/** An agent went offline (its last connection closed, on every instance). */
export interface AgentDisconnected {
  /** format: uuid */
  agent_id: string;
  reason: string | null;
}

/** An agent's status or availability changed. */
export interface AgentStatusChanged {
  /** format: uuid */
  agent_id: string;
  status: "online" | "idle" | "busy" | "offline" | "error";
  previous_status: "online" | "idle" | "busy" | "offline" | "error" | null;
  agent_name: string | null;
  /** format: uuid */
  project_id: string | null;
  message: string | null;
}

/** An AI analysis finished. */
export interface AiAnalysisComplete {
  /** format: uuid */
  project_id: string;
  /** Also deliver to this user's room */
  user_id: string | null;
  /** format: uuid */
  analysis_id: string;
  analysis_type: string;
  summary: string;
  results: { [key: string]: unknown };
  score: number | null;
  duration_seconds: number | null;
}

/** An AI suggestion was generated. */
export interface AiSuggestion {
  /** format: uuid */
  project_id: string;
  /** Also deliver to this user's room */
  user_id: string | null;
  /** format: uuid */
  suggestion_id: string;
  suggestion_type: string;
  title: string;
  content: string;
  /** 0 to 1 */
  confidence: number | null;
  file_path: string | null;
  line_number: number | null;
  metadata: { [key: string]: unknown };
}

/** Sent to one connection right before the server closes it; `code` says why. */
export interface ConnectionErrorData {
  /** `AUTH_EXPIRED`, `RATE_LIMITED`, `ACCESS_REVOKED` or `SLOW_CONSUMER` */
  code: string;
  message: string;
}

/** Sent to one connection only, right after it is accepted. */
export interface ConnectionEstablished {
  connection_id: string;
  user_id: string;
  rooms: string[];
  /** format: date-time */
  server_time: string;
  ping_interval: number;
  ping_timeout: number;
}

export type EmptyCommand = Record<string, never>;

/** The command failed; nothing changed. `retryable` says whether trying again unchanged can help. */
export interface ErrorAck {
  status: "error";
  code: ErrorCode;
  /** For people; match on `code` */
  message: string;
  retryable: boolean;
}

export type ErrorCode = "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "INVALID_NAMESPACE" | "SERVER_FULL" | "TOO_MANY_CONNECTIONS" | "SERVER_SHUTTING_DOWN" | "ACCESS_REVOKED" | "ORIGIN_NOT_ALLOWED" | "MESSAGE_TOO_LARGE" | "BAD_PACKET" | "BAD_REQUEST" | "REQUEST_TIMEOUT" | "SLOW_CONSUMER" | "TOO_MANY_HANDSHAKES" | "TOO_MANY_FAILED_CONNECTS" | "INVALID_PAYLOAD" | "INVALID_ROOM" | "FORBIDDEN" | "ROOM_NOT_LEAVABLE" | "UNKNOWN_COMMAND" | "SUBSCRIPTION_LIMIT" | "RATE_LIMITED" | "INTERNAL_ERROR";

/** An issue was closed. */
export interface IssueClosed {
  /** format: uuid */
  project_id: string;
  /** The html_url on GitHub */
  github_url: string | null;
  /** GitHub's number (#42) */
  number: number | null;
  /** GitHub's numeric id */
  github_id: number | null;
  /** format: uuid; Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url) */
  issue_id: string;
  title: string | null;
  closed_by: string | null;
  reason: string | null;
}

/** An issue was opened (or reopened). */
export interface IssueCreated {
  /** format: uuid */
  project_id: string;
  /** The html_url on GitHub */
  github_url: string | null;
  /** GitHub's number (#42) */
  number: number | null;
  /** GitHub's numeric id */
  github_id: number | null;
  /** format: uuid; Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url) */
  issue_id: string;
  title: string;
  description: string | null;
  author: string;
  labels: string[];
  status: string;
}

/** An issue changed; `action` names what happened. */
export interface IssueUpdated {
  /** format: uuid */
  project_id: string;
  /** The html_url on GitHub */
  github_url: string | null;
  /** GitHub's number (#42) */
  number: number | null;
  /** GitHub's numeric id */
  github_id: number | null;
  /** format: uuid; Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url) */
  issue_id: string;
  action: string;
  title: string | null;
  status: string | null;
  updated_by: string | null;
  changes: { [key: string]: unknown };
}

/** A pull request was closed; `merged` tells whether it was merged. */
export interface PrClosed {
  /** format: uuid */
  project_id: string;
  /** The html_url on GitHub */
  github_url: string | null;
  /** GitHub's number (#42) */
  number: number | null;
  /** GitHub's numeric id */
  github_id: number | null;
  /** format: uuid; Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url) */
  pr_id: string;
  merged: boolean;
  title: string | null;
  closed_by: string | null;
}

/** A pull request was opened (or reopened). */
export interface PrCreated {
  /** format: uuid */
  project_id: string;
  /** The html_url on GitHub */
  github_url: string | null;
  /** GitHub's number (#42) */
  number: number | null;
  /** GitHub's numeric id */
  github_id: number | null;
  /** format: uuid; Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url) */
  pr_id: string;
  title: string;
  description: string | null;
  author: string;
  branch: string;
  base_branch: string | null;
  status: string;
}

/** A pull request changed; `action` names what happened (GitHub's action name). */
export interface PrUpdated {
  /** format: uuid */
  project_id: string;
  /** The html_url on GitHub */
  github_url: string | null;
  /** GitHub's number (#42) */
  number: number | null;
  /** GitHub's numeric id */
  github_id: number | null;
  /** format: uuid; Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url) */
  pr_id: string;
  action: string;
  title: string | null;
  status: string | null;
  updated_by: string | null;
  changes: { [key: string]: unknown };
}

/** Who is connected to the room, on every instance. At most 1,000 users are listed, most connections first; the totals count all. `global` (everyone is in it) answers the totals only, except to admins. */
export interface PresenceAck {
  status: "success";
  room: string;
  /** The users, most connections first (at most 1,000); absent for `global` unless the asker's role is admin */
  users?: PresenceUser[] | null;
  total_users: number;
  total_connections: number;
}

export interface PresenceUser {
  user_id: string;
  connections: number;
}

/** A project was deleted. */
export interface ProjectDeleted {
  /** format: uuid */
  project_id: string;
  project_name: string | null;
  deleted_by: string;
}

/** A project's metadata changed; `changes` holds the fields that changed. */
export interface ProjectUpdated {
  /** format: uuid */
  project_id: string;
  project_name: string;
  repository_url: string | null;
  status: string;
  updated_by: string;
  /** Changed fields and their new values */
  changes: { [key: string]: unknown };
}

/** The connection now runs on the new token; it is closed at that token's expiry instead. */
export interface RefreshAck {
  status: "success";
  /** The new token's expiry, ISO-8601 UTC */
  expires_at: string;
}

export interface RefreshCommand {
  token: string;
}

/** The command succeeded; `room` is the room's canonical name. */
export interface RoomAck {
  status: "success";
  room: string;
}

export interface RoomCommand {
  room: string;
}

/** The rooms this connection is in, sorted (its own Socket.IO room excluded). */
export interface RoomsAck {
  status: "success";
  rooms: string[];
}

/** This instance is shutting down; the connection closes next. Reconnect after the delay. */
export interface ServerShutdown {
  reason: string;
  /** Suggested wait before reconnecting; differs per connection to spread the load */
  reconnect_delay_ms: number;
}

export interface SincePosition {
  /** The offset of the last event the client has */
  offset: number;
  /** The epoch that offset belongs to ('' before any event) */
  epoch: string;
}

/** A position in a room's stream: resume from here with `subscribe {room, since}`. */
export interface StreamPosition {
  /** The last offset of the room's stream (0 before any event) */
  offset: number;
  /** The stream's identity ('' before any event) */
  epoch: string;
}

/** Subscribed. With `since`, says whether everything missed was replayed (just before this ack). */
export interface SubscribeAck {
  status: "success";
  room: string;
  /** The room's position; live events after it follow this ack. Null when history is unreachable */
  position: StreamPosition | null;
  /** Only with `since`: true when every missed event was replayed (or none was missed); false when history no longer reaches back or the replay was not allowed (reload state over REST) */
  recovered?: boolean | null;
  /** Only with `since`: how many events were re-sent */
  replayed?: number | null;
  /** Only when not recovered: why. `replay_limited`: the replay would pass this connection's replay budget (REPLAY_BYTES_PER_MINUTE) or its queue ceiling (MAX_QUEUED_BYTES) */
  reason?: "epoch_changed" | "history_expired" | "ahead_of_stream" | "history_unavailable" | "replay_limited" | null;
}

export interface SubscribeCommand {
  room: string;
  /** Resume: replay what came after this position, then continue live */
  since?: SincePosition | null;
  /** 'policy' replays per event type (latest only, for some); 'all' replays every kept event */
  replay?: "policy" | "all";
}

/** The connection was taken out of a room; no more events of that room will arrive. */
export interface SubscriptionRevoked {
  room: string;
  reason: string;
}

/** A workflow finished successfully. */
export interface WorkflowCompleted {
  /** format: uuid */
  workflow_id: string;
  /** format: uuid */
  project_id: string | null;
  result: { [key: string]: unknown };
  duration_seconds: number | null;
}

/** A workflow failed. */
export interface WorkflowFailed {
  /** format: uuid */
  workflow_id: string;
  /** format: uuid */
  project_id: string | null;
  error: string;
  error_code: string | null;
  failed_step: string | null;
  retryable: boolean;
}

/** A running workflow reports progress (0 to 100). */
export interface WorkflowProgress {
  /** format: uuid */
  workflow_id: string;
  /** format: uuid */
  project_id: string | null;
  status: string;
  /** Percent complete, 0 to 100 */
  progress: number;
  current_step: string;
  total_steps: number | null;
  step_number: number | null;
  message: string | null;
}

/** A workflow started. */
export interface WorkflowStarted {
  /** format: uuid */
  workflow_id: string;
  /** format: uuid */
  project_id: string | null;
  workflow_type: string;
  started_by: string | null;
  total_steps: number | null;
  parameters: { [key: string]: unknown };
}

/** Event type names: each is also the Socket.IO event name. */
export type EventType =
  | "project.updated"
  | "project.deleted"
  | "agent.status_changed"
  | "agent.connected"
  | "agent.disconnected"
  | "workflow.started"
  | "workflow.progress"
  | "workflow.completed"
  | "workflow.failed"
  | "pr.created"
  | "pr.updated"
  | "pr.closed"
  | "issue.created"
  | "issue.updated"
  | "issue.closed"
  | "ai.suggestion"
  | "ai.analysis_complete"
  | "connection.established"
  | "connection.error"
  | "subscription.revoked"
  | "server.shutdown";

/** Event type -> its payload (`event.data`). */
export interface EventPayloads {
  "project.updated": ProjectUpdated;
  "project.deleted": ProjectDeleted;
  "agent.status_changed": AgentStatusChanged;
  "agent.connected": AgentConnected;
  "agent.disconnected": AgentDisconnected;
  "workflow.started": WorkflowStarted;
  "workflow.progress": WorkflowProgress;
  "workflow.completed": WorkflowCompleted;
  "workflow.failed": WorkflowFailed;
  "pr.created": PrCreated;
  "pr.updated": PrUpdated;
  "pr.closed": PrClosed;
  "issue.created": IssueCreated;
  "issue.updated": IssueUpdated;
  "issue.closed": IssueClosed;
  "ai.suggestion": AiSuggestion;
  "ai.analysis_complete": AiAnalysisComplete;
  "connection.established": ConnectionEstablished;
  "connection.error": ConnectionErrorData;
  "subscription.revoked": SubscriptionRevoked;
  "server.shutdown": ServerShutdown;
}

/** What every event looks like on the wire; listen by `type`, read `data`. */
export interface EventEnvelope<T extends EventType = EventType> {
  /** Position in the room's stream, strictly increasing per room; null when not kept */
  offset: number | null;
  /** Identity of the room's stream; a new epoch means its history was reset */
  epoch: string | null;
  /** format: uuid; the same in every room the event is delivered to */
  id: string;
  type: T;
  /** The room it was delivered through; null when sent to one connection */
  room: string | null;
  /** format: date-time; ISO-8601 UTC with milliseconds */
  timestamp: string;
  data: EventPayloads[T];
  /** Present, and true, on events re-sent by a resume */
  replayed?: boolean;
}

/** Any event, narrowed by `type`. */
export type AnyEvent = { [K in EventType]: EventEnvelope<K> }[EventType];

/** Listen events for socket.io-client's `Socket<ServerToClientEvents, ClientToServerEvents>`. */
export type ServerToClientEvents = {
  [K in EventType]: (event: EventEnvelope<K>) => void;
} & {
  /** Deprecated alias of "connection.established". */
  connection_established: (event: EventEnvelope<"connection.established">) => void;
};

/** Client command -> its payload. */
export interface CommandPayloads {
  "subscribe": SubscribeCommand;
  "unsubscribe": RoomCommand;
  "presence": RoomCommand;
  "debug:rooms": EmptyCommand;
  "auth.refresh": RefreshCommand;
}

/** Client command -> its acknowledgement (success, or ErrorAck). */
export interface CommandAcks {
  "subscribe": SubscribeAck | ErrorAck;
  "unsubscribe": RoomAck | ErrorAck;
  "presence": PresenceAck | ErrorAck;
  "debug:rooms": RoomsAck | ErrorAck;
  "auth.refresh": RefreshAck | ErrorAck;
}

/** Emit events: every command takes its payload and an acknowledgement callback. */
export type ClientToServerEvents = {
  [K in keyof CommandPayloads]: (
    payload: CommandPayloads[K],
    ack: (answer: CommandAcks[K]) => void,
  ) => void;
};
