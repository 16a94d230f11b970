import { TeamMemberRef } from "./workspaces.ts";
import { builder } from "./builder.ts";
import { ConversationEventRef, ConversationRef } from "./conversations.ts";
import type { InboxReason, LiveConversationMessage, LiveInboxUpdate } from "../events/live.ts";
import { conversationEvents, conversationMessages } from "../services/live-replay.ts";
import { inboxUpdates } from "../services/operator-inbox.ts";
import { setTyping, typingIndicators, type TypingIndicator } from "../services/typing.ts";

// Live chat over graphql-ws and SSE (both through Yoga). A conversation's activity comes as three
// subscriptions a client opens side by side (one WebSocket carries them all): messageAdded (ordered,
// resumable), replyChunks (a streamed reply as it is written; its final message then arrives through
// messageAdded with message_insights.stream_id) and typing (ephemeral). Each accepts an operator
// credential, or a widget key with the conversation's visitor token (only its own conversation).

type ReplyChunk = Extract<LiveConversationMessage, { kind: "chunk" }>;

const VISITOR_TOKEN = "Widget keys: the visitor token of the conversation (any other conversation is NOT_FOUND). Operators leave it out.";
const both = { authenticated: true, visitor: true } as const;

const ReplyChunkRef = builder.objectRef<ReplyChunk>("ReplyChunk").implement({
  description: "A piece of an assistant reply being streamed; deltas of one streamId concatenated in index order are the reply",
  fields: (t) => ({
    conversationId: t.exposeID("conversation_id"),
    streamId: t.exposeString("stream_id"),
    index: t.exposeInt("index"),
    delta: t.exposeString("delta"),
  }),
});

const TypingAuthorEnum = builder.enumType("TypingAuthor", { values: ["visitor", "human_operator"] as const });

const TypingIndicatorRef = builder.objectRef<TypingIndicator>("TypingIndicator").implement({
  fields: (t) => ({
    conversationId: t.exposeID("conversation_id"),
    author: t.field({ type: TypingAuthorEnum, resolve: (i) => i.author }),
    member: t.field({
      type: TeamMemberRef,
      nullable: true,
      description: "The operator typing, when its credential is bound to a member (null for visitors, who get name)",
      resolve: (i, _a, ctx) => (i.member_id && ctx.principal?.kind !== "widget" ? ctx.loaders.member.load(i.member_id) : null),
    }),
    name: t.exposeString("name", { nullable: true, description: "The visitor's or the operator's name" }),
    isTyping: t.exposeBoolean("is_typing"),
    at: t.field({ type: "DateTime", resolve: (i) => new Date(i.at) }),
  }),
});

const INBOX_REASONS = ["created", "message", "status", "assignee", "resolution", "read", "terminated", "rating", "analysis", "metadata"] as const;
// A reason added to InboxReason must be added here, or serializing it would fail every subscriber.
const everyReason: [Exclude<InboxReason, (typeof INBOX_REASONS)[number]>] extends [never] ? true : never = true;
void everyReason;
const InboxReasonEnum = builder.enumType("InboxUpdateReason", { values: INBOX_REASONS });

const InboxUpdateRef = builder.objectRef<LiveInboxUpdate>("InboxUpdate").implement({
  description: "A conversation of the scenario was created or changed; conversation is its state after the change",
  fields: (t) => ({
    reason: t.field({ type: InboxReasonEnum, resolve: (u) => u.reason }),
    conversation: t.field({ type: ConversationRef, resolve: (u) => u.conversation }),
  }),
});

builder.subscriptionFields((t) => ({
  messageAdded: t.field({
    type: ConversationEventRef,
    description:
      "The conversation's events in ord order, each once. With afterOrd (the last ord the client saw) the events after it come " +
      "first from storage, then live ones, with no gap and no duplicate; without it, live events only. Visitors receive messages only.",
    authScopes: both,
    args: {
      conversationId: t.arg.id({ required: true }),
      afterOrd: t.arg.int(),
      visitorToken: t.arg.string({ description: VISITOR_TOKEN }),
    },
    subscribe: (_r, args, ctx) => conversationEvents(ctx, String(args.conversationId), { afterOrd: args.afterOrd, visitorToken: args.visitorToken }),
    resolve: (event) => event,
  }),
  replyChunks: t.field({
    type: ReplyChunkRef,
    description: "Pieces of assistant replies as they are streamed (when the widget's streaming is on). Not replayed.",
    authScopes: both,
    args: { conversationId: t.arg.id({ required: true }), visitorToken: t.arg.string({ description: VISITOR_TOKEN }) },
    subscribe: (_r, args, ctx) => conversationMessages(ctx, String(args.conversationId), args.visitorToken, "chunk"),
    resolve: (chunk) => chunk,
  }),
  typing: t.field({
    type: TypingIndicatorRef,
    description: "Typing indicators: a visitor sees operators typing; operators see the visitor and each other. Not replayed.",
    authScopes: both,
    args: { conversationId: t.arg.id({ required: true }), visitorToken: t.arg.string({ description: VISITOR_TOKEN }) },
    subscribe: (_r, args, ctx) => typingIndicators(ctx, String(args.conversationId), args.visitorToken),
    resolve: (indicator) => indicator,
  }),
  inboxUpdated: t.field({
    type: InboxUpdateRef,
    description: "A scenario's conversations created or changed, live (read_all token of the scenario, or conversations:read). Not replayed.",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    subscribe: (_r, args, ctx) => inboxUpdates(ctx, String(args.scenarioId)),
    resolve: (update) => update,
  }),
}));

builder.mutationField("setTyping", (t) =>
  t.field({
    type: TypingIndicatorRef,
    description:
      "Tells the conversation's typing subscribers that the caller is (or stopped) typing; nothing is stored. A visitor (widget key + " +
      "visitorToken) or an operator with write access (named after the member its credential is bound to). At most 60 per minute per person.",
    authScopes: both,
    args: {
      conversationId: t.arg.id({ required: true }),
      isTyping: t.arg.boolean({ required: true }),
      visitorToken: t.arg.string({ description: VISITOR_TOKEN }),
    },
    resolve: (_r, args, ctx) => setTyping(ctx, String(args.conversationId), args.isTyping, args.visitorToken),
  }),
);
