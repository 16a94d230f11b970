import type { Db } from "../db/client.ts";
import type { Prisma } from "../generated/sqlite/client.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { EventView, InboxReason, SourceView } from "../events/live.ts";
import type { Runtime } from "./context.ts";
import { conversationView, eventView, type ConversationRow, type EventRow } from "./conversation-view.ts";

// The one place conversations and their events are written. Numbers come from counters on the
// parent row, incremented in the writing transaction: the increment takes the row's write lock
// (PostgreSQL) or the database's (SQLite), so concurrent writers queue, every number is used once,
// and a rolled-back write gives its number back: ords stay gap-free and unique.

export type Tx = Omit<Db, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

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

export async function insertConversation(tx: Tx, input: NewConversation, now: Date): Promise<ConversationRow> {
  const counter = await tx.scenario.update({
    where: { id: input.scenarioId },
    data: { conversationCount: { increment: 1 } },
    select: { conversationCount: true },
  });
  return tx.conversation.create({
    data: {
      scenarioId: input.scenarioId,
      ord: counter.conversationCount,
      source: input.source,
      title: input.title ?? "",
      visitorName: input.visitorName ?? null,
      visitorEmail: input.visitorEmail ?? null,
      visitorPhone: input.visitorPhone ?? null,
      url: input.url ?? null,
      clientMetadata: (input.clientMetadata ?? undefined) as Prisma.InputJsonValue | undefined,
      visitorTokenHash: input.visitorTokenHash ?? null,
      createdAt: now,
    },
  });
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
  tx: Tx,
  conversationId: string,
  e: NewEvent,
  now: Date,
): Promise<{ event: EventRow; conversation: ConversationRow }> {
  const type = e.type ?? "message";
  const isMessage = type === "message";
  const conversation = await tx.conversation.update({
    where: { id: conversationId },
    data: {
      eventCount: { increment: 1 },
      ...(isMessage
        ? {
            lastMessageAt: now,
            lastMessageContent: e.content,
            ...(e.author === "visitor" ? { lastVisitorMessageAt: now, hasUnreadMessages: true } : {}),
          }
        : {}),
      ...(e.reopen ? { resolutionStatus: "open", terminated: false } : {}),
    },
  });
  const attachments = e.attachments ?? [];
  const event = await tx.conversationEvent.create({
    data: {
      conversationId,
      ord: conversation.eventCount,
      type,
      author: e.author,
      content: e.content,
      memberId: e.memberId ?? null,
      handoffState: e.handoffState ?? null,
      messageInsights: (e.messageInsights ?? undefined) as Prisma.InputJsonValue | undefined,
      clientMetadata: (e.clientMetadata ?? undefined) as Prisma.InputJsonValue | undefined,
      messageContext: e.messageContext ?? null,
      sourcesGenerated: (e.sourcesGenerated ?? []) as unknown as Prisma.InputJsonValue,
      isWelcome: e.isWelcome ?? false,
      language: e.language ?? null,
      createdAt: now,
      ...(attachments.length ? { attachments: { create: attachments } } : {}),
    },
    // Reading the relation back costs a statement; only messages with files need it.
    ...(attachments.length ? { include: { attachments: true } } : {}),
  });
  return { event: { attachments: [], ...event }, conversation };
}

/** The domain event a message leaves in the outbox (webhooks consume it in a later issue). */
export async function recordMessageEvent(
  runtime: Pick<Runtime, "events">,
  tx: Tx,
  workspaceId: string,
  conversation: ConversationRow,
  event: EventRow,
): Promise<DomainEventRecord> {
  return runtime.events.record(tx, {
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
  });
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
