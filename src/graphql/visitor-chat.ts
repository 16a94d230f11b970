import { builder, type GraphQLContext } from "./builder.ts";
import { ConversationEventRef, ConversationStatusEnum, ResolutionStatusEnum } from "./conversations.ts";
import { RatingQuestionCode } from "./widget.ts";
import type { ConversationView } from "../events/live.ts";
import { visitorConversation } from "../services/conversation-access.ts";
import { conversationView } from "../services/conversation-view.ts";
import { eventsPage } from "../services/live-replay.ts";
import { siteKeyPolicy } from "../services/rate-limit.ts";
import { DEFAULT_ATTACHMENT_LIMITS } from "../services/attachments.ts";
import { startVisitorConversation, storeVisitorReply } from "../services/visitor-chat.ts";
import { giveMessageFeedback, rateConversation } from "../services/visitor-actions.ts";

// The widget's side in GraphQL, with a widget key (Authorization: Bearer cw_live_…): the site-key
// chat API's operations with its rules, errors and per-route budgets (shared with it: one visitor,
// one budget), plus feedback and rating. A visitor sees its own conversation through
// VisitorConversation: no analysis, assignee, metadata or operator data.

/**
 * The site-key routes' budgets, per key and visitor address, spent from the same buckets as
 * POST /api/v1/chat/conversations (create, 5/min) and …/messages (reply, 20/min).
 */
async function spend(ctx: GraphQLContext, route: "create" | "reply", perMinute: number) {
  const p = ctx.principal;
  const who = p && p.kind !== "system" ? p.credentialId : "system";
  await ctx.rateLimits.consume(siteKeyPolicy(route, perMinute), `${who}:${ctx.clientIp}`, () => "Rate limit exceeded. Please try again later.");
}

export const VisitorConversationRef = builder.objectRef<ConversationView>("VisitorConversation").implement({
  description: "The visitor's own conversation, as the widget shows it",
  fields: (t) => ({
    id: t.exposeID("id", { description: "The conversation token: pass it (with the visitor token) to messageAdded, replyChunks and typing" }),
    status: t.field({ type: ConversationStatusEnum, resolve: (c) => c.status }),
    terminated: t.exposeBoolean("terminated"),
    resolutionStatus: t.field({ type: ResolutionStatusEnum, resolve: (c) => c.resolution_status }),
    visitorName: t.exposeString("visitor_name", { nullable: true }),
    rating: t.field({ type: "JSON", nullable: true, resolve: (c) => c.rating }),
    lastMessageAt: t.field({ type: "DateTime", resolve: (c) => new Date(c.last_message_at) }),
    createdAt: t.field({ type: "DateTime", resolve: (c) => new Date(c.created_at) }),
    messages: t.field({
      type: [ConversationEventRef],
      description: "Messages in ord order after afterOrd (default: from the first), at most limit (1–100, default 100)",
      args: { afterOrd: t.arg.int(), limit: t.arg.int() },
      resolve: (c, args, ctx) => eventsPage(ctx, c.id, { afterOrd: args.afterOrd, limit: Math.min(Math.max(args.limit ?? 100, 1), 100), messagesOnly: true }),
    }),
  }),
});

interface Started {
  conversationToken: string;
  autoReply: string;
  conversation: ConversationView;
}

const StartedRef = builder.objectRef<Started>("StartConversationPayload").implement({
  fields: (t) => ({
    conversationToken: t.exposeString("conversationToken", { description: "The conversation's id (the site-key API's conversation_token)" }),
    autoReply: t.exposeString("autoReply", { description: "The assistant's answer to the first message" }),
    conversation: t.field({ type: VisitorConversationRef, resolve: (s) => s.conversation }),
  }),
});

const StartConversationInput = builder.inputType("StartConversationInput", {
  description: "As POST /api/v1/chat/conversations: a valid email, a message of at most 10,000 characters, a visitor token not used before",
  fields: (t) => ({
    name: t.string({ required: true }),
    email: t.string({ required: true }),
    message: t.string({ required: true }),
    visitorToken: t.string({ required: true, description: "The visitor's secret: 8–200 of A–Z a–z 0–9 - _ . ~" }),
    url: t.string({ description: "The page the visitor started on (http/https)" }),
  }),
});

const FeedbackRatingEnum = builder.enumType("FeedbackRating", {
  values: { THUMBS_UP: { value: "thumbs_up" }, THUMBS_DOWN: { value: "thumbs_down" } } as const,
});

const RatingAnswerInput = builder.inputType("RatingAnswerInput", {
  description:
    "An answer to one of the configured questions. value: \"up\"/\"down\" (…_THUMBS), 1–5 (SATISFACTION_STARS, EFFORT_SCALE), " +
    "true/false (RESOLVED_YES_NO), 0–10 (NPS_0_10), text (FREE_TEXT_COMMENT)",
  fields: (t) => ({
    code: t.field({ type: RatingQuestionCode, required: true }),
    value: t.field({ type: "JSON", required: true }),
  }),
});

const visitor = { visitor: true } as const;

builder.queryField("visitorConversation", (t) =>
  t.field({
    type: VisitorConversationRef,
    description: "The visitor's own conversation (widget key + visitor token); otherwise NOT_FOUND",
    authScopes: visitor,
    args: { visitorToken: t.arg.string({ required: true }) },
    resolve: async (_r, args, ctx) => conversationView((await visitorConversation(ctx, args.visitorToken)).conversation),
  }),
);

builder.mutationFields((t) => ({
  startConversation: t.field({
    type: StartedRef,
    description: "Starts the visitor's conversation and answers its first message (widget key; 5 per minute per visitor address)",
    authScopes: visitor,
    args: { input: t.arg({ type: StartConversationInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      await spend(ctx, "create", 5);
      const started = await startVisitorConversation(ctx, {
        name: input.name,
        email: input.email,
        message: input.message,
        visitor_token: input.visitorToken,
        url: input.url,
      });
      // Read again: the row the start answers predates the assistant's reply.
      const { conversation } = await visitorConversation(ctx, input.visitorToken);
      return { conversationToken: started.conversation.id, autoReply: started.reply?.content ?? "", conversation: conversationView(conversation) };
    },
  }),
  sendMessage: t.field({
    type: ConversationEventRef,
    description:
      "The visitor's next message (at most 10,000 characters); reopens a closed conversation. The assistant's answer follows " +
      "through messageAdded (widget key; 20 per minute per visitor address)",
    authScopes: visitor,
    args: { visitorToken: t.arg.string({ required: true }), message: t.arg.string({ required: true }) },
    resolve: async (_r, args, ctx) => {
      await spend(ctx, "reply", 20);
      // Files travel only through the site-key API's multipart form.
      const stored = await storeVisitorReply(ctx, args.visitorToken, async () => ({ message: args.message, files: [] }), DEFAULT_ATTACHMENT_LIMITS);
      return stored.message;
    },
  }),
  giveMessageFeedback: t.field({
    type: ConversationEventRef,
    description: "Thumbs up or down on an assistant or operator message of the visitor's conversation, named by eventId or ord; replaces earlier feedback",
    authScopes: visitor,
    args: {
      visitorToken: t.arg.string({ required: true }),
      eventId: t.arg.id(),
      ord: t.arg.int(),
      rating: t.arg({ type: FeedbackRatingEnum, required: true }),
      comment: t.arg.string({ description: "At most 2,000 characters" }),
    },
    resolve: (_r, a, ctx) =>
      giveMessageFeedback(ctx, a.visitorToken, { eventId: a.eventId == null ? a.eventId : String(a.eventId), ord: a.ord, rating: a.rating, comment: a.comment }),
  }),
  rateConversation: t.field({
    type: VisitorConversationRef,
    description:
      "The visitor's rating of its conversation (score 1–5, optional comment, answers to the configured questions); replaces an earlier one. " +
      "BAD_REQUEST while the assistant's conv_rating_active is off.",
    authScopes: visitor,
    args: {
      visitorToken: t.arg.string({ required: true }),
      score: t.arg.int({ required: true }),
      comment: t.arg.string({ description: "At most 2,000 characters" }),
      answers: t.arg({ type: [RatingAnswerInput] }),
    },
    resolve: async (_r, a, ctx) =>
      conversationView(await rateConversation(ctx, a.visitorToken, { score: a.score, comment: a.comment, answers: a.answers })),
  }),
}));
