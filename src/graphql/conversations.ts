import { resolveCursorConnection, resolveOffsetConnection } from "@pothos/plugin-relay";
import { TeamMemberRef } from "./workspaces.ts";
import { builder, type GraphQLContext } from "./builder.ts";
import { snakeKeys } from "./case.ts";
import type { AttachmentView, ConversationView, EventView, SourceView, UnifiedAnalysis } from "../events/live.ts";
import { ASSIGNEE_TYPES, RESOLUTION_STATUSES } from "../services/conversations.ts";
import { conversationsPage, getConversation } from "../services/operator-inbox.ts";
import { eventsPage, ordFromCursor } from "../services/live-replay.ts";
import { conversationView, type ConversationRow } from "../services/conversation-view.ts";
import {
  assignConversation,
  markConversationRead,
  reopenConversation,
  resolveConversation,
  terminateConversation,
} from "../services/operator-actions.ts";

// Conversations and their events as operators see them. Both types are views (the plain JSON every
// transport renders, src/events/live.ts), so a live update renders without touching the database.
// Enum values are the stored values, as in the REST JSON.

export const ConversationStatusEnum = builder.enumType("ConversationStatus", {
  description: "active: the assistant answers; human_active: people have taken over",
  values: ["active", "human_active"] as const,
});
export const EventAuthorEnum = builder.enumType("EventAuthor", { values: ["ai_assistant", "visitor", "human_operator"] as const });
const EventTypeEnum = builder.enumType("ConversationEventType", { values: ["message", "tracked_link", "log"] as const });
export const AssigneeTypeEnum = builder.enumType("AssigneeType", { values: ASSIGNEE_TYPES });
export const ResolutionStatusEnum = builder.enumType("ResolutionStatus", { values: RESOLUTION_STATUSES });
const SentimentEnum = builder.enumType("Sentiment", { values: ["positive", "neutral", "negative"] as const });

/** A member's public face: visitors get names only, operators the TeamMember. */
const isVisitor = (ctx: GraphQLContext) => ctx.principal?.kind === "widget";
const memberOf = (ctx: GraphQLContext, id: string | null) => (id && !isVisitor(ctx) ? ctx.loaders.member.load(id) : null);

const SourceRef = builder.objectRef<SourceView>("ConversationSource").implement({
  description: "A knowledge-base article a reply was built from",
  fields: (t) => ({
    articleId: t.exposeInt("article_id"),
    title: t.exposeString("title"),
    url: t.exposeString("url", { nullable: true }),
  }),
});

const AttachmentRef = builder.objectRef<AttachmentView>("MessageAttachment").implement({
  fields: (t) => ({
    id: t.exposeInt("id"),
    filename: t.exposeString("filename"),
    contentType: t.exposeString("content_type"),
    size: t.exposeInt("size", { description: "Bytes" }),
  }),
});

export const ConversationEventRef = builder.objectRef<EventView>("ConversationEvent").implement({
  description: "A message, tracked link or log line; ord is sequential per conversation (1, 2, …)",
  fields: (t) => ({
    id: t.exposeID("id"),
    conversationId: t.exposeID("conversation_id"),
    ord: t.exposeInt("ord"),
    type: t.field({ type: EventTypeEnum, resolve: (e) => e.type }),
    author: t.field({ type: EventAuthorEnum, resolve: (e) => e.author }),
    member: t.field({
      type: TeamMemberRef,
      nullable: true,
      description: "The operator who wrote a human_operator message (null for visitors: they see authorName)",
      resolve: (e, _a, ctx) => memberOf(ctx, e.member_id),
    }),
    authorName: t.string({
      nullable: true,
      description: "The operator's name on human_operator messages",
      resolve: async (e, _a, ctx) => (e.member_id ? ((await ctx.loaders.member.load(e.member_id))?.name ?? null) : null),
    }),
    content: t.exposeString("content"),
    handoffState: t.exposeString("handoff_state", { nullable: true }),
    messageInsights: t.field({
      type: "JSON",
      nullable: true,
      description: "Responder details; a streamed reply carries the stream_id of its replyChunks",
      resolve: (e) => e.message_insights,
    }),
    feedback: t.field({ type: "JSON", nullable: true, description: "The visitor's thumbs: {rating, comment, given_at}", resolve: (e) => e.feedback }),
    clientMetadata: t.field({ type: "JSON", nullable: true, resolve: (e) => e.client_metadata }),
    sourcesGenerated: t.field({ type: [SourceRef], resolve: (e) => e.sources_generated }),
    isWelcome: t.exposeBoolean("is_welcome"),
    language: t.exposeString("language", { nullable: true }),
    attachments: t.field({ type: [AttachmentRef], resolve: (e) => e.attachments }),
    createdAt: t.field({ type: "DateTime", resolve: (e) => new Date(e.created_at) }),
  }),
});

const AssigneeRef = builder.objectRef<ConversationView["assignee"]>("ConversationAssignee").implement({
  fields: (t) => ({
    type: t.field({ type: AssigneeTypeEnum, resolve: (a) => a.type }),
    member: t.field({ type: TeamMemberRef, nullable: true, resolve: (a, _args, ctx) => memberOf(ctx, a.member_id) }),
  }),
});

const VisitorRef = builder.objectRef<ConversationView>("ConversationVisitor").implement({
  fields: (t) => ({
    name: t.exposeString("visitor_name", { nullable: true }),
    email: t.exposeString("visitor_email", { nullable: true }),
    phoneNumber: t.exposeString("visitor_phone_number", { nullable: true }),
    label: t.exposeString("visitor_label", { nullable: true }),
  }),
});

const UnifiedAnalysisRef = builder.objectRef<UnifiedAnalysis>("UnifiedAnalysis").implement({
  fields: (t) => ({
    sentiment: t.field({ type: SentimentEnum, resolve: (a) => a.sentiment }),
    resolutionStatus: t.field({ type: ResolutionStatusEnum, resolve: (a) => a.resolution_status }),
    topic: t.exposeString("topic", { nullable: true }),
    isFlagged: t.exposeBoolean("is_flagged"),
    flagReason: t.exposeString("flag_reason", { nullable: true }),
  }),
});

const iso = (s: string | null) => (s === null ? null : new Date(s));

export const ConversationRef = builder.objectRef<ConversationView>("Conversation").implement({
  description: "A chat between a visitor and the assistant (and, after a handoff, people)",
  fields: (t) => ({
    id: t.exposeID("id"),
    scenarioId: t.exposeID("scenario_id"),
    ord: t.exposeInt("ord", { description: "Sequential per scenario" }),
    title: t.exposeString("title"),
    source: t.exposeString("source", { description: "widget, api, graphql, …" }),
    status: t.field({ type: ConversationStatusEnum, resolve: (c) => c.status }),
    terminated: t.exposeBoolean("terminated"),
    resolutionStatus: t.field({ type: ResolutionStatusEnum, resolve: (c) => c.resolution_status }),
    hasUnreadMessages: t.exposeBoolean("has_unread_messages"),
    supportsInboxControl: t.exposeBoolean("supports_inbox_control"),
    lastMessageContent: t.exposeString("last_message_content", { nullable: true }),
    lastMessageAt: t.field({ type: "DateTime", description: "created_at while there is no message", resolve: (c) => new Date(c.last_message_at) }),
    lastVisitorMessageAt: t.field({ type: "DateTime", nullable: true, resolve: (c) => iso(c.last_visitor_message_at) }),
    mostFrequentLanguage: t.exposeString("most_frequent_language", { nullable: true }),
    assignee: t.field({ type: AssigneeRef, resolve: (c) => c.assignee }),
    visitor: t.field({ type: VisitorRef, resolve: (c) => c }),
    url: t.exposeString("url", { nullable: true }),
    clientMetadata: t.field({ type: "JSON", nullable: true, resolve: (c) => c.client_metadata }),
    unifiedAnalysis: t.field({ type: UnifiedAnalysisRef, nullable: true, resolve: (c) => c.unified_analysis }),
    rating: t.field({ type: "JSON", nullable: true, description: "The visitor's rating: {score, comment, answers, rated_at}", resolve: (c) => c.rating }),
    eventCount: t.exposeInt("event_count", { description: "The last event's ord" }),
    createdAt: t.field({ type: "DateTime", resolve: (c) => new Date(c.created_at) }),
    events: t.connection({
      type: ConversationEventRef,
      description: "Events in ord order; cursors are ords. afterOrd is `after` as a number (after wins when both are given).",
      args: { afterOrd: t.arg.int() },
      resolve: (c, args, ctx) =>
        resolveCursorConnection<Promise<EventView[]>>({ args, toCursor: (e: EventView) => String(e.ord), defaultSize: 50, maxSize: 100 }, ({ after, before, limit, inverted }) =>
          eventsPage(ctx, c.id, {
            afterOrd: after !== undefined ? ordFromCursor(after) : args.afterOrd,
            beforeOrd: before !== undefined ? ordFromCursor(before) : undefined,
            limit,
            inverted,
          }),
        ),
    }),
  }),
});

const ConversationFilterInput = builder.inputType("ConversationFilter", {
  description: "The Quickchat list filters (GET /v1/api_core/conversations/), by the same rules",
  fields: (t) => ({
    query: t.string({ description: "Matches the ord, the UUID or message text" }),
    assigneeType: t.field({ type: AssigneeTypeEnum }),
    source: t.string(),
    resolutionStatus: t.field({ type: ResolutionStatusEnum }),
    mostFrequentLanguage: t.string(),
    createdTimestampStartDate: t.field({ type: "DateTime" }),
    createdTimestampEndDate: t.field({ type: "DateTime" }),
    lastMessageAtStartDate: t.field({ type: "DateTime" }),
    lastMessageAtEndDate: t.field({ type: "DateTime" }),
  }),
});

type FilterArg = typeof ConversationFilterInput.$inferInput | null | undefined;
const filtersOf = (filter: FilterArg) =>
  snakeKeys(Object.fromEntries(Object.entries(filter ?? {}).filter(([, v]) => v !== undefined && v !== null)));

async function conversationConnection(ctx: GraphQLContext, scenarioId: string | undefined, filter: FilterArg, args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null }) {
  let total = 0;
  const conn = await resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, async (page) => {
    const r = await conversationsPage(ctx, filtersOf(filter), page, scenarioId);
    total = r.count;
    return r.items;
  });
  return { ...conn, totalCount: total };
}

builder.queryFields((t) => ({
  conversation: t.field({
    type: ConversationRef,
    description: "A conversation the caller may read (read_all token of its scenario, or conversations:read); otherwise NOT_FOUND",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => getConversation(ctx, String(id)),
  }),
  conversations: t.connection(
    {
      type: ConversationRef,
      description: "A scenario's conversations, newest first. A scenario token may omit scenarioId; a developer key (conversations:read) names it.",
      authScopes: { authenticated: true },
      args: { scenarioId: t.arg.id(), filter: t.arg({ type: ConversationFilterInput }) },
      resolve: (_r, args, ctx) => conversationConnection(ctx, args.scenarioId == null ? undefined : String(args.scenarioId), args.filter, args),
    },
    { fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: number }).totalCount }) }) },
  ),
}));

builder.prismaObjectFields("Scenario", (t) => ({
  conversations: t.connection(
    {
      type: ConversationRef,
      description: "The scenario's conversations, newest first (read_all / conversations:read)",
      args: { filter: t.arg({ type: ConversationFilterInput }) },
      resolve: (s, args, ctx) => conversationConnection(ctx, s.id, args.filter, args),
    },
    { fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: number }).totalCount }) }) },
  ),
}));

const action = (name: string, description: string, run: (ctx: GraphQLContext, id: string) => Promise<ConversationRow>) =>
  builder.mutationField(name, (t) =>
    t.field({
      type: ConversationRef,
      description,
      authScopes: { authenticated: true },
      args: { conversationId: t.arg.id({ required: true }) },
      resolve: async (_r, args, ctx) => conversationView(await run(ctx, String(args.conversationId))),
    }),
  );

const WRITE = "Needs write_all (its scenario's token) or conversations:write.";
action("resolveConversation", `Sets resolution_status to resolved. ${WRITE}`, resolveConversation);
action("reopenConversation", `Sets resolution_status back to open and lifts a termination. ${WRITE}`, reopenConversation);
action("markConversationRead", `Clears has_unread_messages. ${WRITE}`, markConversationRead);
action("terminateConversation", `Ends the conversation (a later visitor message reopens it). ${WRITE}`, terminateConversation);

builder.mutationField("assignConversation", (t) =>
  t.field({
    type: ConversationRef,
    description:
      "Assigns the conversation to a member of its workspace (type human_operator; another workspace's member is NOT_FOUND). " +
      "Without memberId: unassigned (default) or, with type ai_assistant, back to the assistant. " +
      `Assignment does not change status: taking over is a separate action. ${WRITE}`,
    authScopes: { authenticated: true },
    args: {
      conversationId: t.arg.id({ required: true }),
      memberId: t.arg.id(),
      type: t.arg({ type: AssigneeTypeEnum }),
    },
    resolve: async (_r, args, ctx) =>
      conversationView(
        await assignConversation(ctx, String(args.conversationId), { memberId: args.memberId == null ? null : String(args.memberId), type: args.type }),
      ),
  }),
);
