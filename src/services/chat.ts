import { randomUUID } from "node:crypto";
import { SYSTEM } from "../auth/scopes.ts";
import { analyzeConversation } from "../ai/analysis.ts";
import { DONT_KNOW } from "../ai/kb-responder.ts";
import type { Passage, ResponderReply } from "../ai/responder.ts";
import type { EventView } from "../events/live.ts";
import { notFound } from "../errors.ts";
import { retrievePassages } from "./answer-retrieval.ts";
import { chatSettings } from "./chat-settings.ts";
import { handoffTurn } from "./handoff-flow.ts";
import { createServiceContext, type Runtime, type ServiceContext } from "./context.ts";
import {
  appendEvent,
  CHAT_TX,
  insertConversation,
  loadConversationWindow,
  publishConversationChange,
  publishEvents,
  recordDomainEvent,
  recordMessageEvent,
  type ConversationWindow,
  type NewConversation,
  type NewEvent,
} from "./conversation-log.ts";
import { eventView, type ConversationRow, type EventRow } from "./conversation-view.ts";
import { sql, type SqlRunner } from "../db/sql.ts";
import { captureStartedLead, captureTypedContact, type PrechatFields } from "./lead-capture.ts";

// The chat flow every visitor-facing transport shares (site-key API, POST /chat, GraphQL):
// store the visitor's message first (it is never lost), then let the responder answer the
// messages nobody has answered yet, either inline (when the caller needs the reply in its
// response) or as a durable job (the reply arrives over subscriptions and the messages route).

export const REPLY_JOB = "chat.reply";

export const RESPONDER_FAILED = "Sorry, I can't answer right now. Please try again in a moment.";

/** How a caller wants the reply: in its response, later (job), or not at all. */
export type ReplyMode = "inline" | "job" | "none";

export interface VisitorMessage {
  content: string;
  clientMetadata?: Record<string, unknown> | null;
  messageContext?: string | null;
  attachments?: NewEvent["attachments"];
}

export interface StartConversation extends NewConversation {
  workspaceId: string;
  /** Post the greeting as the first, is_welcome message. */
  welcome: boolean;
  /** The widget's pre-chat form, for the lead (lead-capture.ts). */
  prechat?: PrechatFields | null;
}

/** Plain text of the greeting HTML the settings keep. */
export function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/p>\s*<p[^>]*>/gi, "\n\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .trim();
}

/** Creates a conversation (with the greeting when asked) and, when given, the visitor's first message. */
export async function startConversation(
  ctx: ServiceContext,
  input: StartConversation,
  first: VisitorMessage | null,
  mode: ReplyMode,
): Promise<{ conversation: ConversationRow; welcome: EventView | null; message: EventView | null; reply: EventView | null }> {
  const now = ctx.clock();
  const greeting = input.welcome ? htmlToText((await chatSettings(ctx, input.scenarioId)).settings.greeting) : "";
  const result = await ctx.sql.transaction(async (q) => {
    let conversation = await insertConversation(q, input, now);
    const events = [];
    const domain = [];
    if (greeting) {
      const w = await appendEvent(q, conversation.id, { author: "ai_assistant", content: greeting, isWelcome: true }, now);
      conversation = w.conversation;
      events.push(w.event);
    }
    if (first) {
      const m = await appendEvent(q, conversation.id, visitorEvent(first), now);
      conversation = m.conversation;
      events.push(m.event);
      domain.push(await recordMessageEvent(q, input.workspaceId, conversation, m.event, now));
      if (mode === "job") await enqueueReply(ctx, q, input.workspaceId, conversation);
    }
    domain.push(
      await recordDomainEvent(
        q,
        {
          workspaceId: input.workspaceId,
          scenarioId: input.scenarioId,
          type: "conversation.created",
          payload: { conversationId: conversation.id, ord: conversation.ord, source: conversation.source },
        },
        now,
      ),
    );
    return { conversation, events, domain };
  }, CHAT_TX);
  const views = publishEvents(ctx, result.conversation, result.events, "created", result.domain);
  if (mode === "job" && first) ctx.jobs.wake();
  await captureStartedLead(ctx, input, result.conversation);
  const welcome = greeting ? views[0]! : null;
  const message = first ? views[views.length - 1]! : null;
  const reply = first && mode === "inline" ? await answerAndAnalyze(ctx, result.conversation.id, input.workspaceId) : null;
  return { conversation: result.conversation, welcome, message, reply };
}

function visitorEvent(m: VisitorMessage): NewEvent {
  return {
    author: "visitor",
    content: m.content,
    clientMetadata: m.clientMetadata ?? null,
    messageContext: m.messageContext ?? null,
    attachments: m.attachments,
  };
}

async function enqueueReply(ctx: ServiceContext, q: SqlRunner, workspaceId: string, c: ConversationRow) {
  await ctx.jobs.enqueueSql(q, {
    kind: REPLY_JOB,
    workspaceId,
    scenarioId: c.scenarioId,
    payload: { conversationId: c.id },
    maxAttempts: 3,
  });
}

/**
 * Stores a visitor message in an existing conversation. `reopen` (site-key API, GraphQL) reopens a
 * resolved or terminated conversation.
 */
export async function postVisitorMessage(
  ctx: ServiceContext,
  workspaceId: string,
  conversationId: string,
  message: VisitorMessage,
  options: { mode: ReplyMode; reopen: boolean },
): Promise<{ conversation: ConversationRow; message: EventView; reply: EventView | null }> {
  const now = ctx.clock();
  const result = await ctx.sql.transaction(async (q) => {
    const { event, conversation } = await appendEvent(q, conversationId, { ...visitorEvent(message), reopen: options.reopen }, now);
    const domain = await recordMessageEvent(q, workspaceId, conversation, event, now);
    if (options.mode === "job") await enqueueReply(ctx, q, workspaceId, conversation);
    return { event, conversation, domain };
  }, CHAT_TX);
  const [view] = publishEvents(ctx, result.conversation, [result.event], "message", [result.domain]);
  if (options.mode === "job") ctx.jobs.wake();
  const reply = options.mode === "inline" ? await answerAndAnalyze(ctx, conversationId, workspaceId) : null;
  return { conversation: result.conversation, message: view!, reply };
}

/** Thrown inside the reply transaction when someone answered meanwhile: rolls back, ord returned. */
class AlreadyAnswered extends Error {}

/** Of the window's messages, the ones the responder gets as history. */
const RESPONDER_HISTORY = 20;

/**
 * The assistant's answer to the visitor messages nobody has answered yet, then the analysis. The
 * conversation's subscribers get the reply at once; the inbox hears once, after the analysis, with
 * the conversation as both left it (one fan-out to every inbox subscriber instead of two). Both
 * work from one read of the conversation and its latest messages.
 */
export async function answerAndAnalyze(ctx: ServiceContext, conversationId: string, workspaceId?: string): Promise<EventView | null> {
  const window = await loadConversationWindow(ctx, conversationId);
  if (!window) throw notFound("Conversation");
  await captureTypedContact(ctx, window, workspaceId);
  // The human handoff wraps the reply: it may ask the visitor, hand the conversation to people,
  // or follow an answer the assistant couldn't give with the offer (nothing more when it is off).
  const turn = await handoffTurn(ctx, window, workspaceId, (w) => answer(ctx, conversationId, workspaceId, { inbox: false, window: w }));
  let analysed: ConversationRow | null = null;
  try {
    analysed = await analyzeConversation(ctx, conversationId, { publish: false, window: turn.window, searched: turn.answered?.searched });
  } catch (err) {
    ctx.log.error({ err, conversationId }, "conversation analysis failed");
  }
  const latest = analysed ?? turn.conversation;
  if (latest) publishConversationChange(ctx, latest, turn.answered ? "message" : "analysis");
  return turn.event;
}

/**
 * Answers the trailing visitor messages (several sent quickly get one answer). Silent while humans
 * hold the conversation. A responder failure becomes a graceful message and an error log line.
 */
export async function answer(
  ctx: ServiceContext,
  conversationId: string,
  knownWorkspaceId?: string,
  options: { inbox?: boolean; window?: ConversationWindow } = {},
): Promise<{ event: EventView; row: EventRow; conversation: ConversationRow; searched: { question: string; passages: Passage[] } } | null> {
  const window = options.window ?? (await loadConversationWindow(ctx, conversationId));
  if (!window) throw notFound("Conversation");
  const conv = window.conversation;
  const workspaceId = knownWorkspaceId ?? (await ctx.loaders.scenario.load(conv.scenarioId))!.workspaceId;
  if (conv.status === "human_active") return null;
  const history = window.messages.slice(-RESPONDER_HISTORY);
  const lastAnswer = history.findLastIndex((e) => e.author !== "visitor");
  const unanswered = history.slice(lastAnswer + 1);
  if (!unanswered.length) return null;
  const lastVisitorOrd = unanswered[unanswered.length - 1]!.ord;
  const question = unanswered.map((e) => e.content).join("\n");
  const messageContext = unanswered.map((e) => e.messageContext).filter(Boolean).join("\n") || null;

  const { settings, streaming } = await chatSettings(ctx, conv.scenarioId);
  const streamId = randomUUID();
  let index = 0;
  let reply: ResponderReply;
  let failed = false;
  let passages: Passage[] = [];
  try {
    passages = await retrievePassages(ctx, conv.scenarioId, question);
    reply = await ctx.responder.reply({
      scenarioId: conv.scenarioId,
      conversationId,
      settings,
      history: history.slice(0, lastAnswer + 1).map((e) => ({ author: e.author, content: e.content })),
      question,
      messageContext,
      metadata: (conv.clientMetadata as Record<string, unknown> | null) ?? null,
      language: conv.mostFrequentLanguage,
      passages,
      onChunk: streaming
        ? (delta) =>
            ctx.events.publishConversation(conversationId, {
              kind: "chunk",
              conversation_id: conversationId,
              stream_id: streamId,
              index: index++,
              delta,
            })
        : undefined,
    });
  } catch (err) {
    ctx.log.error({ err, conversationId, responder: ctx.responder.name }, "responder failed");
    failed = true;
    reply = { content: RESPONDER_FAILED, sources: [], answered: false };
  }

  const now = ctx.clock();
  try {
    const result = await ctx.sql.transaction(async (q) => {
      const { event, conversation } = await appendEvent(
        q,
        conversationId,
        {
          author: "ai_assistant",
          content: reply.content,
          sourcesGenerated: reply.sources,
          messageInsights: {
            responder: ctx.responder.name,
            answered: reply.answered,
            in_reply_to: unanswered.map((e) => e.ord),
            ...(failed ? { error: "responder_failed" } : {}),
            ...(streaming && index > 0 ? { stream_id: streamId } : {}),
          },
        },
        now,
      );
      // The conversation row is now locked: did a human take over, or someone answer, meanwhile?
      if (conversation.status === "human_active") throw new AlreadyAnswered();
      // Nothing was added since the read above: nobody can have answered meanwhile.
      if (event.ord !== conv.eventCount + 1) {
        const [meanwhile] = await q.all<{ n: number | bigint }>(
          sql`SELECT COUNT(*) AS "n" FROM "ConversationEvent" WHERE "conversationId" = ${conversationId} AND "type" = 'message'
            AND "author" <> 'visitor' AND "ord" > ${lastVisitorOrd} AND "ord" < ${event.ord}`,
        );
        if (Number(meanwhile!.n)) throw new AlreadyAnswered();
      }
      const domain = await recordMessageEvent(q, workspaceId, conversation, event, now);
      return { event, conversation, domain };
    }, CHAT_TX);
    if (options.inbox === false) {
      ctx.events.publish([result.domain]);
      const event = eventView(result.event);
      ctx.events.publishConversation(conversationId, { kind: "event", event });
      return { event, row: result.event, conversation: result.conversation, searched: { question, passages } };
    }
    const [event] = publishEvents(ctx, result.conversation, [result.event], "message", [result.domain]);
    return { event: event!, row: result.event, conversation: result.conversation, searched: { question, passages } };
  } catch (err) {
    if (err instanceof AlreadyAnswered) return null;
    throw err;
  }
}

export { DONT_KNOW };

/** The durable reply job (site-key messages, GraphQL): survives restarts, retried on failure. */
export function registerChatJobs(runtime: Runtime): void {
  runtime.jobs.registerHandler(REPLY_JOB, async (job) => {
    const { conversationId } = job.payload as { conversationId: string };
    await answerAndAnalyze(createServiceContext(runtime, SYSTEM), conversationId, job.workspaceId ?? undefined);
  });
}
