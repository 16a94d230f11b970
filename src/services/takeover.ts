import { z } from "zod";
import { enumValue, rowsOf, runnerIn, sql, timestamp, type Sql, type SqlRunner } from "../db/sql.ts";
import type { DeveloperScope } from "../auth/scopes.ts";
import type { EventView, InboxReason } from "../events/live.ts";
import { conflict, forbidden, notFound } from "../errors.ts";
import { requirePrincipal, requireTokenScope } from "./access.ts";
import { recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { appendEvent, CHAT_TX, publishEvents, recordDomainEvent, recordMessageEvent } from "./conversation-log.ts";
import type { ConversationRow, EventRow } from "./conversation-view.ts";
import { translateReply } from "./reply-translation.ts";
import { parseInput } from "./validation.ts";
import { MESSAGE_MAX_CHARS } from "./visitor-chat.ts";

// Taking over a conversation: an operator or an external agent (OpenClaw, a custom bot) claims it,
// the assistant goes silent (status human_active), the holder replies as a human_operator, and
// hands it back (status active, the assistant answers again). One holder at a time: the claim is
// one conditional UPDATE, so of two agents claiming at once exactly one wins, on SQLite and on
// PostgreSQL alike (there the loser's UPDATE waits for the winner's row lock, then finds the row
// held and changes nothing).
//
// The holder is the member the credential is bound to (any key of that member acts as the holder),
// or, for a credential bound to no member (a scenario token, an unbound developer key), that very
// credential. REST (developer keys) needs the documented scope per action; GraphQL operators with a
// scenario token need write_all.

/** Who acts: the member (when the credential is bound to one) and the credential. */
export interface Actor {
  memberId: string | null;
  credentialId: string;
  workspaceId: string;
}

interface Claimed {
  conversation: ConversationRow;
  workspaceId: string;
  actor: Actor;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The conversation a takeover action targets, after the caller's credential and scope are checked. */
async function agentConversation(ctx: ServiceContext, id: string, scope: DeveloperScope): Promise<Claimed> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "widget" || p.kind === "legacy") throw forbidden("This credential cannot be used for operator actions");
  if (p.kind === "system") throw forbidden("Taking over a conversation needs a credential that identifies the agent");
  let ownScenario: string | null = null;
  if (p.kind === "developer") {
    if (!p.scopes.has(scope)) throw forbidden(`Insufficient scope. Required: ${scope}`);
  } else ownScenario = requireTokenScope(p, "write_all").scenarioId;
  if (!UUID.test(id)) throw notFound("Conversation");
  const conversation = await ctx.db.conversation.findUnique({ where: { id } });
  if (!conversation || (ownScenario !== null && conversation.scenarioId !== ownScenario)) throw notFound("Conversation");
  const scenario = await ctx.loaders.scenario.load(conversation.scenarioId);
  if (!scenario || scenario.workspaceId !== p.workspaceId) throw notFound("Conversation");
  return { conversation, workspaceId: p.workspaceId, actor: { memberId: p.memberId, credentialId: p.credentialId, workspaceId: p.workspaceId } };
}

export const isHeld = (c: Pick<ConversationRow, "takeoverMemberId" | "takeoverCredentialId">) =>
  c.takeoverMemberId !== null || c.takeoverCredentialId !== null;

export function holds(c: Pick<ConversationRow, "takeoverMemberId" | "takeoverCredentialId">, actor: Pick<Actor, "memberId" | "credentialId">): boolean {
  return actor.memberId !== null
    ? c.takeoverMemberId === actor.memberId
    : c.takeoverMemberId === null && c.takeoverCredentialId === actor.credentialId;
}

/** The same test as holds(), as a WHERE condition (evaluated on the locked, current row). */
const heldBy = (actor: Actor): Sql =>
  actor.memberId !== null
    ? sql`"takeoverMemberId" = ${actor.memberId}`
    : sql`"takeoverMemberId" IS NULL AND "takeoverCredentialId" = ${actor.credentialId}`;

async function nameOf(ctx: ServiceContext, memberId: string | null, fallback: string): Promise<string> {
  return (memberId ? (await ctx.loaders.member.load(memberId))?.name : null) ?? fallback;
}

const holderName = (ctx: ServiceContext, c: ConversationRow) => nameOf(ctx, c.takeoverMemberId, "another agent");

async function currentRow(q: SqlRunner, id: string): Promise<ConversationRow> {
  const [row] = await rowsOf<ConversationRow>(q, "Conversation", sql`SELECT * FROM "Conversation" WHERE "id" = ${id}`);
  if (!row) throw notFound("Conversation");
  return row;
}

interface Outcome {
  conversation: ConversationRow;
  event: EventRow | null;
  domain: Awaited<ReturnType<typeof recordDomainEvent>>[];
}

/**
 * A refusal decided inside the transaction, on the locked row; the error is built after it ends
 * (naming the holder takes a lookup that has no business inside the transaction).
 */
interface Refused {
  refused: ConversationRow;
}
const refused = (r: Outcome | Refused): r is Refused => "refused" in r;

/** After commit: the conversation's subscribers and the inbox hear of the change. */
function publish(ctx: ServiceContext, outcome: Outcome, reason: InboxReason): EventView | null {
  if (!outcome.event) return null;
  return publishEvents(ctx, outcome.conversation, [outcome.event], reason, outcome.domain)[0] ?? null;
}

/**
 * What a takeover or handback leaves besides the row change, in its transaction: a log event
 * (with the handoff state), the domain event and the audit entry, all under the acting member.
 */
async function recordStateChange(
  tx: Parameters<Parameters<ServiceContext["db"]["$transaction"]>[0]>[0],
  q: SqlRunner,
  at: { workspaceId: string; conversationId: string; actor: Actor; now: Date },
  change: { handoffState: string; content: string; action: string; details: Record<string, unknown> },
): Promise<Outcome> {
  const { workspaceId, actor, now } = at;
  const { event, conversation } = await appendEvent(
    q,
    at.conversationId,
    { type: "log", author: "human_operator", memberId: actor.memberId, handoffState: change.handoffState, content: change.content },
    now,
  );
  const domain = await recordDomainEvent(
    q,
    {
      workspaceId,
      scenarioId: conversation.scenarioId,
      type: change.action,
      payload: { conversationId: conversation.id, memberId: actor.memberId, credentialId: actor.credentialId, status: conversation.status },
    },
    now,
  );
  await recordAudit(tx, {
    workspaceId,
    scenarioId: conversation.scenarioId,
    conversationId: conversation.id,
    memberId: actor.memberId,
    credentialId: actor.credentialId,
    action: change.action,
    details: change.details,
  });
  return { conversation, event, domain: [domain] };
}

/**
 * Claims the conversation: status human_active, assigned to the holder, the assistant silent.
 * Claiming a conversation one already holds changes nothing; one held by another agent is CONFLICT.
 */
export async function takeOverConversation(ctx: ServiceContext, conversationId: string): Promise<ConversationRow> {
  const { conversation: found, workspaceId, actor } = await agentConversation(ctx, conversationId, "conversations:takeover");
  const name = await nameOf(ctx, actor.memberId, "An operator");
  const now = ctx.clock();
  const outcome = await ctx.db.$transaction(async (tx): Promise<Outcome | Refused> => {
    const q = runnerIn(tx, ctx.provider);
    const [claimed] = await rowsOf<ConversationRow>(
      q,
      "Conversation",
      sql`UPDATE "Conversation" SET "status" = ${enumValue("ConversationStatus", "human_active")}, "assigneeType" = 'human_operator',
          "assigneeMemberId" = ${actor.memberId}, "takeoverMemberId" = ${actor.memberId}, "takeoverCredentialId" = ${actor.credentialId},
          "takenOverAt" = ${timestamp(now)}, "handoffPhase" = 'human', "updatedAt" = ${timestamp(now)}
        WHERE "id" = ${found.id} AND "takeoverMemberId" IS NULL AND "takeoverCredentialId" IS NULL
        RETURNING *`,
    );
    if (!claimed) {
      const current = await currentRow(q, found.id);
      return holds(current, actor) ? { conversation: current, event: null, domain: [] } : { refused: current };
    }
    return recordStateChange(tx, q, { workspaceId, conversationId: found.id, actor, now }, {
      handoffState: "taken_over",
      content: `${name} took over the conversation`,
      action: "conversation.taken_over",
      details: { previousStatus: found.status, previousAssigneeType: found.assigneeType, previousAssigneeMemberId: found.assigneeMemberId },
    });
  }, CHAT_TX);
  if (refused(outcome)) throw conflict(`Conversation is already taken over by ${await holderName(ctx, outcome.refused)}`);
  publish(ctx, outcome, "status");
  return outcome.conversation;
}

/**
 * Releases the takeover: status active, assigned back to the assistant, which answers the next
 * visitor message. Only the holder may; a conversation nobody holds is CONFLICT.
 */
export async function handBackConversation(ctx: ServiceContext, conversationId: string): Promise<ConversationRow> {
  const { conversation: found, workspaceId, actor } = await agentConversation(ctx, conversationId, "conversations:handback");
  const name = await nameOf(ctx, actor.memberId, "An operator");
  const now = ctx.clock();
  const outcome = await ctx.db.$transaction(async (tx): Promise<Outcome | Refused> => {
    const q = runnerIn(tx, ctx.provider);
    const [released] = await rowsOf<ConversationRow>(
      q,
      "Conversation",
      sql`UPDATE "Conversation" SET "status" = ${enumValue("ConversationStatus", "active")}, "assigneeType" = 'ai_assistant',
          "assigneeMemberId" = NULL, "takeoverMemberId" = NULL, "takeoverCredentialId" = NULL, "takenOverAt" = NULL,
          "handoffPhase" = 'none', "updatedAt" = ${timestamp(now)}
        WHERE "id" = ${found.id} AND ${heldBy(actor)}
        RETURNING *`,
    );
    if (!released) return { refused: await currentRow(q, found.id) };
    const heldSince = found.takenOverAt;
    return recordStateChange(tx, q, { workspaceId, conversationId: found.id, actor, now }, {
      handoffState: "handed_back",
      content: `${name} handed the conversation back to the assistant`,
      action: "conversation.handed_back",
      details: { takenOverAt: heldSince?.toISOString() ?? null },
    });
  }, CHAT_TX);
  if (refused(outcome)) {
    if (!isHeld(outcome.refused)) throw conflict("Conversation is not taken over");
    throw forbidden(`Only the agent holding the takeover (${await holderName(ctx, outcome.refused)}) can hand the conversation back`);
  }
  publish(ctx, outcome, "status");
  return outcome.conversation;
}

export const ReplyInput = z.object({
  message: z
    .string({ error: (i) => (i.input === undefined ? "message is required" : "message must be a string") })
    .refine((m) => m.trim().length > 0, "message is required")
    .refine((m) => [...m].length <= MESSAGE_MAX_CHARS, `message is too long (maximum ${MESSAGE_MAX_CHARS} characters)`),
});

/** The reply's body: `message` (or `content`, as some agents name it). */
export function replyText(body: unknown): string {
  const b = body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return parseInput(ReplyInput, { message: b.message ?? b.content }).message;
}

async function notHolding(ctx: ServiceContext, c: ConversationRow): Promise<never> {
  if (!isHeld(c)) throw conflict("Conversation is not taken over: take it over before replying");
  throw conflict(`Conversation is taken over by ${await holderName(ctx, c)}`);
}

/**
 * A human_operator message from the holder, translated into the conversation's language when a
 * translator is configured (the visitor sees the translation; the original is kept in
 * message_insights). Replying without holding the takeover is CONFLICT.
 */
export async function replyToConversation(ctx: ServiceContext, conversationId: string, body: unknown): Promise<{ event: EventView; row: EventRow }> {
  const { conversation: found, workspaceId, actor } = await agentConversation(ctx, conversationId, "conversations:reply");
  const text = replyText(body);
  if (!holds(found, actor)) await notHolding(ctx, found);
  // Outside the transaction: the translator is a network call.
  const translation = await translateReply(ctx, text, found.mostFrequentLanguage);
  const now = ctx.clock();
  const outcome = await ctx.db.$transaction(async (tx): Promise<Outcome | Refused> => {
    const q = runnerIn(tx, ctx.provider);
    // Locks the row for the rest of the transaction: a handback waits until the reply is in.
    const held = await q.run(sql`UPDATE "Conversation" SET "updatedAt" = ${timestamp(now)} WHERE "id" = ${found.id} AND ${heldBy(actor)}`);
    if (!held) return { refused: await currentRow(q, found.id) };
    const { event, conversation } = await appendEvent(
      q,
      found.id,
      { author: "human_operator", memberId: actor.memberId, content: translation.content, language: translation.language, messageInsights: translation.insights },
      now,
    );
    const domain = await recordMessageEvent(q, workspaceId, conversation, event, now);
    await recordAudit(tx, {
      workspaceId,
      scenarioId: conversation.scenarioId,
      conversationId: conversation.id,
      memberId: actor.memberId,
      credentialId: actor.credentialId,
      action: "conversation.replied",
      details: { eventId: event.id, ord: event.ord, translated: translation.insights.translated, language: translation.language },
    });
    return { conversation, event, domain: [domain] };
  }, CHAT_TX);
  if (refused(outcome)) return notHolding(ctx, outcome.refused);
  const view = publish(ctx, outcome, "message")!;
  return { event: view, row: outcome.event! };
}
