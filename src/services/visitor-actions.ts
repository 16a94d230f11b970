import { z } from "zod";
import type { Prisma } from "../generated/sqlite/client.ts";
import { badRequest, notFound, validationError } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { visitorConversation } from "./conversation-access.ts";
import { CHAT_TX, publishConversationChange } from "./conversation-log.ts";
import { eventView, type ConversationRow } from "./conversation-view.ts";
import type { EventView } from "../events/live.ts";
import { loadRatingConfiguration, RATING_QUESTION_CODES, type RatingQuestionCode } from "./rating-configuration.ts";
import { parseInput } from "./validation.ts";

// The visitor's actions beyond the site-key API's (src/services/visitor-chat.ts): what it tells
// about the help it got. Thumbs on one of the assistant's or an operator's messages (any time), and
// a rating of the whole conversation (only when the assistant's rating configuration has it on,
// answering only the questions it asks). Giving either again replaces it.

const MAX_COMMENT = 2000;
const comment = z.string().max(MAX_COMMENT, `must be at most ${MAX_COMMENT} characters`);

export const FEEDBACK_RATINGS = ["thumbs_up", "thumbs_down"] as const;

export const MessageFeedbackInput = z
  .object({
    eventId: z.string().min(1).nullish(),
    ord: z.number().int().min(1).nullish(),
    rating: z.enum(FEEDBACK_RATINGS),
    comment: comment.nullish(),
  })
  .refine((f) => (f.eventId == null) !== (f.ord == null), { message: "name the message by eventId or by ord (one of them)", path: ["eventId"] });

/** Thumbs up or down (and an optional comment) on an assistant or operator message of the visitor's own conversation. */
export async function giveMessageFeedback(ctx: ServiceContext, visitorToken: string, input: unknown): Promise<EventView> {
  const { conversation, workspaceId } = await visitorConversation(ctx, visitorToken);
  const f = parseInput(MessageFeedbackInput, input);
  const where = f.eventId != null ? { id: f.eventId, conversationId: conversation.id } : { conversationId: conversation.id, ord: f.ord! };
  const target = await ctx.db.conversationEvent.findFirst({ where });
  if (!target || target.type !== "message") throw notFound("Message");
  if (target.author === "visitor") throw validationError("Feedback can only be given on the assistant's or an operator's messages", f.eventId != null ? "eventId" : "ord");
  const feedback = { rating: f.rating, comment: f.comment ?? null, given_at: ctx.clock().toISOString() };
  const { event, row, domain } = await ctx.db.$transaction(async (tx) => {
    const event = await tx.conversationEvent.update({ where: { id: target.id }, data: { feedback }, include: { attachments: true } });
    const row = await tx.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
    const domain = await ctx.events.record(tx, {
      workspaceId,
      scenarioId: row.scenarioId,
      type: "conversation.message_feedback",
      payload: { conversationId: row.id, eventId: event.id, ord: event.ord, rating: f.rating },
    });
    return { event, row, domain };
  }, CHAT_TX);
  publishConversationChange(ctx, row, "rating");
  ctx.events.publish([domain]);
  return eventView(event);
}

const ANSWER_VALUES: Record<RatingQuestionCode, z.ZodType> = {
  HELPFUL_THUMBS: z.enum(["up", "down"]),
  EXPERIENCE_THUMBS: z.enum(["up", "down"]),
  SATISFACTION_STARS: z.number().int().min(1).max(5),
  RESOLVED_YES_NO: z.boolean(),
  EFFORT_SCALE: z.number().int().min(1).max(5),
  NPS_0_10: z.number().int().min(0).max(10),
  FREE_TEXT_COMMENT: comment,
};

export const ConversationRatingInput = z.object({
  score: z.number().int().min(1, "must be from 1 to 5").max(5, "must be from 1 to 5"),
  comment: comment.nullish(),
  answers: z
    .array(z.object({ code: z.enum(RATING_QUESTION_CODES), value: z.unknown() }))
    .nullish()
    .superRefine((answers, c) => {
      answers?.forEach((a, i) => {
        if (answers.findIndex((b) => b.code === a.code) !== i) c.addIssue({ code: "custom", path: [i, "code"], message: `${a.code} is answered twice` });
        const r = ANSWER_VALUES[a.code].safeParse(a.value);
        if (!r.success) c.addIssue({ code: "custom", path: [i, "value"], message: `${a.code}: ${r.error.issues[0]!.message}` });
      });
    }),
});

/**
 * The visitor's rating of its conversation: a score from 1 to 5, an optional comment, and answers
 * to the configured questions. Refused (BAD_REQUEST) while the assistant's conv_rating_active is off.
 */
export async function rateConversation(ctx: ServiceContext, visitorToken: string, input: unknown): Promise<ConversationRow> {
  const { conversation, workspaceId } = await visitorConversation(ctx, visitorToken);
  const r = parseInput(ConversationRatingInput, input);
  const config = await loadRatingConfiguration(ctx.db, conversation.scenarioId);
  if (!config.active) throw badRequest("Conversation rating is turned off for this assistant (conv_rating_active is false)");
  const asked = config.questionCodes as RatingQuestionCode[];
  (r.answers ?? []).forEach((a, i) => {
    if (!asked.includes(a.code)) {
      throw validationError(`answers.${i}.code: ${a.code} is not one of this assistant's rating questions (${asked.join(", ")})`, `answers.${i}.code`);
    }
  });
  const rating = {
    score: r.score,
    comment: r.comment ?? null,
    answers: Object.fromEntries((r.answers ?? []).map((a) => [a.code, a.value])),
    rated_at: ctx.clock().toISOString(),
  };
  const { row, domain } = await ctx.db.$transaction(async (tx) => {
    const row = await tx.conversation.update({ where: { id: conversation.id }, data: { rating: rating as Prisma.InputJsonValue } });
    const domain = await ctx.events.record(tx, {
      workspaceId,
      scenarioId: row.scenarioId,
      type: "conversation.rated",
      payload: { conversationId: row.id, score: r.score },
    });
    return { row, domain };
  }, CHAT_TX);
  publishConversationChange(ctx, row, "rating");
  ctx.events.publish([domain]);
  return row;
}

