import { randomUUID } from "node:crypto";
import { LlmAnalyzer } from "../ai/analyzer.ts";
import type { LlmClient } from "../ai/llm-client.ts";
import { json, rowsOf, sql, sqlList, timestamp, type SqlRunner } from "../db/sql.ts";
import type { EventView, UnifiedAnalysis } from "../events/live.ts";
import { auditActor } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { appendEvent, CHAT_TX, publishEvents, recordDomainEvent, recordMessageEvent } from "./conversation-log.ts";
import type { ConversationRow, EventRow } from "./conversation-view.ts";
import { queueEmails } from "./email.ts";
import { handoffBrief } from "./handoff-brief.ts";
import { isWithinWorkingHours, type HandoffConfigurationJson } from "./handoff-configuration.ts";
import type { HandoffTrigger, TranscriptLine } from "./handoff-triggers.ts";
import { handoffEmails, handoffRecipients } from "./notifications.ts";

// The writes of the handoff flow, each one lane transaction with its domain events: offering the
// handoff (question_message), the visitor declining, and the visitor accepting (the conversation
// goes to human operators with the confirmation message, a summary, the routing profile and the
// notification emails). A step that finds the conversation changed meanwhile writes nothing.

export interface HandoffStep {
  conversation: ConversationRow;
  /** Messages the step wrote, oldest first (already published). */
  events: EventRow[];
  views: EventView[];
}

/** Thrown inside a step's transaction to roll it back: someone else moved the conversation on. */
class Superseded extends Error {}

/** The model the analysis uses, when one is configured: the flow asks it about guidelines and summaries. */
export function llmOf(ctx: Pick<ServiceContext, "analyzer">): LlmClient | null {
  return ctx.analyzer instanceof LlmAnalyzer ? ctx.analyzer.client : null;
}

export async function workspaceOfConversation(ctx: ServiceContext, c: ConversationRow, known?: string): Promise<string> {
  return known ?? (await ctx.loaders.scenario.load(c.scenarioId))!.workspaceId;
}

async function answeredMeanwhile(q: SqlRunner, conversationId: string, afterOrd: number, beforeOrd: number): Promise<boolean> {
  const [row] = await q.all<{ n: number | bigint }>(
    sql`SELECT COUNT(*) AS "n" FROM "ConversationEvent" WHERE "conversationId" = ${conversationId} AND "type" = 'message'
      AND "author" <> 'visitor' AND "ord" > ${afterOrd} AND "ord" < ${beforeOrd}`,
  );
  return Number(row!.n) > 0;
}

/**
 * Posts question_message (handoff_state "offered") and marks the offer on the conversation.
 * `afterOrd`: the last message the offer follows; null when another answer came in meanwhile.
 */
export async function offerHandoff(
  ctx: ServiceContext,
  input: { conversation: ConversationRow; config: HandoffConfigurationJson; trigger: HandoffTrigger; workspaceId: string; afterOrd: number },
): Promise<HandoffStep | null> {
  const { conversation: conv, config, trigger, workspaceId } = input;
  const now = ctx.clock();
  try {
    const r = await ctx.sql.transaction(async (q) => {
      const { event } = await appendEvent(
        q,
        conv.id,
        { author: "ai_assistant", content: config.settings.question_message, handoffState: "offered", messageInsights: { handoff_trigger: trigger } },
        now,
      );
      if (event.ord !== conv.eventCount + 1 && (await answeredMeanwhile(q, conv.id, input.afterOrd, event.ord))) throw new Superseded();
      const [conversation] = await rowsOf<ConversationRow>(
        q,
        "Conversation",
        sql`UPDATE "Conversation" SET "handoffPhase" = 'offered', "handoffTrigger" = ${trigger}, "handoffOfferedAt" = ${timestamp(now)}
          WHERE "id" = ${conv.id} AND "status" <> 'human_active' RETURNING *`,
      );
      if (!conversation) throw new Superseded();
      const domain = [
        await recordMessageEvent(q, workspaceId, conversation, event, now),
        await recordDomainEvent(
          q,
          { workspaceId, scenarioId: conv.scenarioId, type: "conversation.handoff_offered", payload: { conversationId: conv.id, trigger, eventId: event.id } },
          now,
        ),
      ];
      return { event, conversation, domain };
    }, CHAT_TX);
    const views = publishEvents(ctx, r.conversation, [r.event], "message", r.domain);
    return { conversation: r.conversation, events: [r.event], views };
  } catch (err) {
    if (err instanceof Superseded) return null;
    throw err;
  }
}

/** The visitor said no (explicit: its message is marked "declined") or moved on; null when no offer was open. */
export async function declineHandoff(
  ctx: ServiceContext,
  input: { conversation: ConversationRow; workspaceId: string; visitorEventIds: string[]; explicit: boolean },
): Promise<ConversationRow | null> {
  const { conversation: conv, workspaceId } = input;
  const now = ctx.clock();
  const r = await ctx.sql.transaction(async (q) => {
    const [conversation] = await rowsOf<ConversationRow>(
      q,
      "Conversation",
      sql`UPDATE "Conversation" SET "handoffPhase" = 'declined', "updatedAt" = ${timestamp(now)}
        WHERE "id" = ${conv.id} AND "handoffPhase" = 'offered' RETURNING *`,
    );
    if (!conversation) return null;
    if (input.explicit && input.visitorEventIds.length) {
      await q.run(sql`UPDATE "ConversationEvent" SET "handoffState" = 'declined' WHERE "id" IN (${sqlList(input.visitorEventIds)})`);
    }
    const domain = await recordDomainEvent(
      q,
      { workspaceId, scenarioId: conv.scenarioId, type: "conversation.handoff_declined", payload: { conversationId: conv.id, explicit: input.explicit } },
      now,
    );
    return { conversation, domain };
  }, CHAT_TX);
  if (!r) return null;
  ctx.events.publish([r.domain]);
  return r.conversation;
}

const topicOf = (c: ConversationRow) => {
  const a = c.unifiedAnalysis as UnifiedAnalysis | null;
  return a && typeof a === "object" && typeof a.topic === "string" ? a.topic : null;
};

/**
 * The visitor accepted: the conversation goes to human operators (status human_active, assignee
 * human_operator, handoff phase "human") with confirmation_message, or the outside-working-hours
 * message; operators get the summary and, when configured, an email per recipient of the matched
 * routing profile (settings.emails when none matched). Null when the offer was already settled.
 */
export async function acceptHandoff(
  ctx: ServiceContext,
  input: { conversation: ConversationRow; config: HandoffConfigurationJson; workspaceId: string; visitorEventIds: string[]; transcript: TranscriptLine[] },
): Promise<HandoffStep | null> {
  const { conversation: conv, config, workspaceId } = input;
  const now = ctx.clock();
  const within = isWithinWorkingHours(config, now);
  // The slow parts (the model, the member lookup) before the transaction: it holds the write lock.
  const brief = await handoffBrief(
    llmOf(ctx),
    {
      transcript: input.transcript,
      topic: topicOf(conv),
      profiles: config.routing_profiles.filter((p) => p.is_active),
      wantSummary: config.settings.ai_summary_active,
    },
    ctx.log,
  );
  const recipients = await handoffRecipients(ctx, config, brief.profile);
  const scenarioName = recipients.length ? ((await ctx.loaders.scenario.load(conv.scenarioId))?.name ?? "your assistant") : "";
  const content = within ? config.settings.confirmation_message : config.settings.confirmation_outside_working_hours_message;
  const profileId = brief.profile?.id ?? null;

  const r = await ctx.sql.transaction(async (q) => {
    const [claimed] = await rowsOf<ConversationRow>(
      q,
      "Conversation",
      sql`UPDATE "Conversation" SET "status" = 'human_active', "assigneeType" = 'human_operator', "handoffPhase" = 'human',
          "handedOffAt" = ${timestamp(now)}, "handoffRoutingProfileId" = ${profileId}, "handoffSummary" = ${brief.summary}
        WHERE "id" = ${conv.id} AND "handoffPhase" = 'offered' AND "status" <> 'human_active' RETURNING *`,
    );
    if (!claimed) return null;
    if (input.visitorEventIds.length) {
      await q.run(sql`UPDATE "ConversationEvent" SET "handoffState" = 'accepted' WHERE "id" IN (${sqlList(input.visitorEventIds)})`);
    }
    const { event, conversation } = await appendEvent(
      q,
      conv.id,
      {
        author: "ai_assistant",
        content,
        handoffState: "human_active",
        messageInsights: { handoff: "accepted", handoff_trigger: claimed.handoffTrigger, within_working_hours: within, routing_profile_id: profileId },
      },
      now,
    );
    const notice = {
      workspaceId,
      scenarioName,
      conversation,
      trigger: claimed.handoffTrigger,
      profile: brief.profile,
      summary: brief.summary,
      withinWorkingHours: within,
      transcript: input.transcript,
    };
    const emails = recipients.length ? await queueEmails(q, ctx.jobs, handoffEmails(recipients, notice, config), now) : [];
    const details = { trigger: claimed.handoffTrigger, routingProfileId: profileId, withinWorkingHours: within, notified: emails.length };
    const actor = auditActor(ctx.principal);
    await q.run(
      sql`INSERT INTO "AuditEntry" ("id", "workspaceId", "scenarioId", "conversationId", "memberId", "credentialId", "action", "details", "createdAt")
        VALUES (${randomUUID()}, ${workspaceId}, ${conv.scenarioId}, ${conv.id}, ${actor.memberId}, ${actor.credentialId}, 'conversation.handed_off',
          ${json(details)}, ${timestamp(now)})`,
    );
    const domain = [
      await recordMessageEvent(q, workspaceId, conversation, event, now),
      await recordDomainEvent(q, { workspaceId, scenarioId: conv.scenarioId, type: "conversation.handed_off", payload: { conversationId: conv.id, ...details } }, now),
    ];
    return { event, conversation, domain, emails: emails.length };
  }, CHAT_TX);
  if (!r) return null;
  const views = publishEvents(ctx, r.conversation, [r.event], "status", r.domain);
  if (r.emails) ctx.jobs.wake();
  return { conversation: r.conversation, events: [r.event], views };
}
