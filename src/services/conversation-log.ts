import { randomUUID } from "node:crypto";
import { bool, enumValue, json, rowsOf, sql, sqlJoin, timestamp, type SqlRunner } from "../db/sql.ts";
import { notFound } from "../errors.ts";
import type { ConversationEvent, MessageAttachment } from "../generated/sqlite/client.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { EventView, InboxReason, SourceView } from "../events/live.ts";
import type { Runtime } from "./context.ts";
import { conversationView, eventView, type ConversationRow, type EventRow } from "./conversation-view.ts";

// The one place conversations and their events are written. Numbers come from counters on the
// parent row, incremented in the writing transaction: the increment takes the row's write lock
// (PostgreSQL) or the database's (SQLite), so concurrent writers queue, every number is used once,
// and a rolled-back write gives its number back: ords stay gap-free and unique.

/** Chat writes queue behind each other on SQLite; allow them to wait their turn under load. */
export const CHAT_TX = { maxWait: 15_000, timeout: 20_000 } as const;

export interface NewConversation {
  scenarioId: string;
  source: string;
  title?: string;
  visitorName?: string | null;
  visitorEmail?: string | null;
  visitorPhone?: string | null;
  url?: string | null;
  clientMetadata?: Record<string, unknown> | null;
  visitorTokenHash?: string | null;
}

// The chat path writes through the SQL lane (src/db/sql.ts): these run on every message, and a
// lane statement costs a fraction of a Prisma ORM query. Columns Prisma fills itself (@default(uuid()),
// @default(now()), @updatedAt) are filled here.

export async function insertConversation(q: SqlRunner, input: NewConversation, now: Date): Promise<ConversationRow> {
  const [counter] = await q.all<{ conversationCount: number | bigint }>(
    sql`UPDATE "Scenario" SET "conversationCount" = "conversationCount" + 1 WHERE "id" = ${input.scenarioId} RETURNING "conversationCount"`,
  );
  if (!counter) throw notFound("Scenario");
  const [row] = await rowsOf<ConversationRow>(
    q,
    "Conversation",
    sql`INSERT INTO "Conversation" ("id", "scenarioId", "ord", "source", "title", "visitorName", "visitorEmail", "visitorPhone",
        "url", "clientMetadata", "visitorTokenHash", "createdAt", "updatedAt")
      VALUES (${randomUUID()}, ${input.scenarioId}, ${Number(counter.conversationCount)}, ${input.source}, ${input.title ?? ""},
        ${input.visitorName ?? null}, ${input.visitorEmail ?? null}, ${input.visitorPhone ?? null}, ${input.url ?? null},
        ${json(input.clientMetadata ?? null)}, ${input.visitorTokenHash ?? null}, ${timestamp(now)}, ${timestamp(now)})
      RETURNING *`,
  );
  return row!;
}

export interface NewEvent {
  type?: "message" | "tracked_link" | "log";
  author: "ai_assistant" | "visitor" | "human_operator";
  content: string;
  memberId?: string | null;
  handoffState?: string | null;
  messageInsights?: Record<string, unknown> | null;
  clientMetadata?: Record<string, unknown> | null;
  messageContext?: string | null;
  sourcesGenerated?: SourceView[];
  isWelcome?: boolean;
  language?: string | null;
  attachments?: { fileId: string; filename: string; contentType: string; size: number }[];
  /** Reopen a resolved or terminated conversation with this message (visitor replies). */
  reopen?: boolean;
}

/**
 * Appends an event and updates the conversation's summary fields (last message, unread flag) in
 * the same statement that hands out the ord.
 */
export async function appendEvent(
  q: SqlRunner,
  conversationId: string,
  e: NewEvent,
  now: Date,
): Promise<{ event: EventRow; conversation: ConversationRow }> {
  const type = e.type ?? "message";
  const isMessage = type === "message";
  const visitor = isMessage && e.author === "visitor";
  const set = [sql`"eventCount" = "eventCount" + 1`, sql`"updatedAt" = ${timestamp(now)}`];
  if (isMessage) set.push(sql`"lastMessageAt" = ${timestamp(now)}`, sql`"lastMessageContent" = ${e.content}`);
  if (visitor) set.push(sql`"lastVisitorMessageAt" = ${timestamp(now)}`, sql`"hasUnreadMessages" = ${bool(true)}`);
  if (e.reopen) set.push(sql`"resolutionStatus" = 'open'`, sql`"terminated" = ${bool(false)}`);
  const [conversation] = await rowsOf<ConversationRow>(
    q,
    "Conversation",
    sql`UPDATE "Conversation" SET ${sqlJoin(set)} WHERE "id" = ${conversationId} RETURNING *`,
  );
  if (!conversation) throw notFound("Conversation");
  const [row] = await rowsOf<ConversationEvent>(
    q,
    "ConversationEvent",
    sql`INSERT INTO "ConversationEvent" ("id", "conversationId", "ord", "type", "author", "content", "memberId", "handoffState",
        "messageInsights", "clientMetadata", "messageContext", "sourcesGenerated", "isWelcome", "language", "createdAt")
      VALUES (${randomUUID()}, ${conversationId}, ${conversation.eventCount}, ${type}, ${enumValue("EventAuthor", e.author)},
        ${e.content}, ${e.memberId ?? null}, ${e.handoffState ?? null}, ${json(e.messageInsights ?? null)},
        ${json(e.clientMetadata ?? null)}, ${e.messageContext ?? null}, ${json(e.sourcesGenerated ?? [])},
        ${bool(e.isWelcome ?? false)}, ${e.language ?? null}, ${timestamp(now)})
      RETURNING *`,
  );
  const attachments: MessageAttachment[] = [];
  for (const a of e.attachments ?? []) {
    const [stored] = await rowsOf<MessageAttachment>(
      q,
      "MessageAttachment",
      sql`INSERT INTO "MessageAttachment" ("eventId", "fileId", "filename", "contentType", "size", "createdAt")
        VALUES (${row!.id}, ${a.fileId}, ${a.filename}, ${a.contentType}, ${a.size}, ${timestamp(now)}) RETURNING *`,
    );
    attachments.push(stored!);
  }
  return { event: { ...row!, attachments }, conversation };
}

/** The outbox row of a domain event, written in the caller's lane transaction. */
export async function recordDomainEvent(
  q: SqlRunner,
  event: { workspaceId: string; scenarioId?: string | null; type: string; payload: Record<string, unknown> },
  now: Date,
): Promise<DomainEventRecord> {
  const [row] = await rowsOf<DomainEventRecord>(
    q,
    "DomainEvent",
    sql`INSERT INTO "DomainEvent" ("id", "workspaceId", "scenarioId", "type", "payload", "createdAt")
      VALUES (${randomUUID()}, ${event.workspaceId}, ${event.scenarioId ?? null}, ${event.type}, ${json(event.payload)}, ${timestamp(now)})
      RETURNING *`,
  );
  return row!;
}

/** The domain event a message leaves in the outbox (webhooks consume it in a later issue). */
export function recordMessageEvent(
  q: SqlRunner,
  workspaceId: string,
  conversation: ConversationRow,
  event: EventRow,
  now: Date,
): Promise<DomainEventRecord> {
  return recordDomainEvent(
    q,
    {
      workspaceId,
      scenarioId: conversation.scenarioId,
      type: event.author === "visitor" ? "conversation.message_received" : "conversation.message_sent",
      payload: {
        conversationId: conversation.id,
        eventId: event.id,
        ord: event.ord,
        author: event.author,
        status: conversation.status,
      },
    },
    now,
  );
}

/** The latest messages the reply and the analysis look at. */
export const HISTORY = 40;

/** A conversation with its latest messages, oldest first: what answer() and the analysis read. */
export interface ConversationWindow {
  conversation: ConversationRow;
  messages: EventRow[];
}

export async function loadConversationWindow(runtime: Pick<Runtime, "sql">, conversationId: string): Promise<ConversationWindow | null> {
  const [conversation] = await rowsOf<ConversationRow>(runtime.sql, "Conversation", sql`SELECT * FROM "Conversation" WHERE "id" = ${conversationId}`);
  if (!conversation) return null;
  const latest = await rowsOf<EventRow>(
    runtime.sql,
    "ConversationEvent",
    sql`SELECT * FROM "ConversationEvent" WHERE "conversationId" = ${conversationId} AND "type" = 'message' ORDER BY "ord" DESC LIMIT ${HISTORY}`,
  );
  // The chat path never shows attachments to the responder or the analysis.
  return { conversation, messages: latest.reverse().map((e) => ({ ...e, attachments: [] })) };
}

/** After commit: tells live subscribers (conversation, inbox, workspace events). */
export function publishEvents(
  runtime: Pick<Runtime, "events">,
  conversation: ConversationRow,
  events: EventRow[],
  reason: InboxReason,
  domainEvents: DomainEventRecord[] = [],
): EventView[] {
  const views = events.map(eventView);
  for (const view of views) runtime.events.publishConversation(conversation.id, { kind: "event", event: view });
  runtime.events.publishInbox(conversation.scenarioId, { reason, conversation: conversationView(conversation) });
  runtime.events.publish(domainEvents);
  return views;
}

/** After commit: a conversation changed without a new event (status, assignee, analysis…). */
export function publishConversationChange(runtime: Pick<Runtime, "events">, conversation: ConversationRow, reason: InboxReason): void {
  runtime.events.publishInbox(conversation.scenarioId, { reason, conversation: conversationView(conversation) });
}
