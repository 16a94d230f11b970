import DataLoader from "dataloader";
import { builder, type GraphQLContext } from "./builder.ts";
import { ConversationEventRef, ConversationRef } from "./conversations.ts";
import { TeamMemberRef } from "./workspaces.ts";
import { conversationView, type ConversationRow } from "../services/conversation-view.ts";
import { handBackConversation, holds, isHeld, replyToConversation, takeOverConversation } from "../services/takeover.ts";

// Taking over a conversation from GraphQL: the operators' side of the Quincer takeover endpoints,
// through the same service (src/services/takeover.ts), so both fail and record alike.

// Batches within a tick but does not cache: a subscription's context lives as long as the
// subscription, and a cached row would show a takeover that has since ended.
const rowLoaders = new WeakMap<object, DataLoader<string, ConversationRow | null>>();
function conversationRow(ctx: GraphQLContext, id: string) {
  let loader = rowLoaders.get(ctx.loaders);
  if (!loader) {
    loader = new DataLoader(
      async (ids: readonly string[]) => {
        const rows = await ctx.db.conversation.findMany({ where: { id: { in: [...ids] } } });
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((i) => byId.get(i) ?? null);
      },
      { cache: false },
    );
    rowLoaders.set(ctx.loaders, loader);
  }
  return loader.load(id);
}

const TakeoverRef = builder.objectRef<ConversationRow>("ConversationTakeover").implement({
  description: "Who holds a taken-over conversation (the assistant is silent until it is handed back)",
  fields: (t) => ({
    member: t.field({
      type: TeamMemberRef,
      nullable: true,
      description: "The member holding it (null when the credential used is bound to no member)",
      resolve: (c, _a, ctx) => (c.takeoverMemberId ? ctx.loaders.member.load(c.takeoverMemberId) : null),
    }),
    credentialId: t.exposeID("takeoverCredentialId", { nullable: true, description: "The token or key that took it over" }),
    takenOverAt: t.field({ type: "DateTime", nullable: true, resolve: (c) => c.takenOverAt }),
    heldByYou: t.boolean({
      description: "The caller (its member, or its credential when unbound) holds it",
      resolve: (c, _a, ctx) => {
        const p = ctx.principal;
        return p !== null && p.kind !== "system" && holds(c, { memberId: p.memberId, credentialId: p.credentialId });
      },
    }),
  }),
});

builder.objectField(ConversationRef, "takeover", (t) =>
  t.field({
    type: TakeoverRef,
    nullable: true,
    description: "Set while an operator or external agent holds the conversation (status human_active)",
    resolve: async (c, _a, ctx) => {
      // An active conversation (as of this view) is held by nobody: no need to look.
      if (ctx.principal?.kind === "widget" || c.status === "active") return null;
      const row = await conversationRow(ctx, c.id);
      return row && isHeld(row) ? row : null;
    },
  }),
);

const SCOPES =
  "Operators: a write_all token of the conversation's scenario, or a developer key with the scope named; the holder is the key's member " +
  "(any key of that member) or, for a credential bound to no member, that credential.";

builder.mutationFields((t) => ({
  takeoverConversation: t.field({
    type: ConversationRef,
    description:
      "Claims the conversation: status human_active, assigned to the caller's member, the assistant stops answering. Claiming one the " +
      `caller already holds changes nothing; one held by someone else is CONFLICT. ${SCOPES} (conversations:takeover)`,
    authScopes: { authenticated: true },
    args: { conversationId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => conversationView(await takeOverConversation(ctx, String(args.conversationId))),
  }),
  replyToConversation: t.field({
    type: ConversationEventRef,
    description:
      "Posts a human_operator message as the holder of the takeover (CONFLICT without it). Translated into the conversation's language " +
      `when a translator is configured; messageInsights says whether it was. ${SCOPES} (conversations:reply)`,
    authScopes: { authenticated: true },
    args: { conversationId: t.arg.id({ required: true }), message: t.arg.string({ required: true, description: "At most 10,000 characters" }) },
    resolve: async (_r, args, ctx) => (await replyToConversation(ctx, String(args.conversationId), { message: args.message })).event,
  }),
  handBackConversation: t.field({
    type: ConversationRef,
    description:
      "Releases the takeover: status active, assigned to the assistant, which answers the next visitor message. Only the holder may " +
      `(PERMISSION_DENIED otherwise); a conversation nobody holds is CONFLICT. ${SCOPES} (conversations:handback)`,
    authScopes: { authenticated: true },
    args: { conversationId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => conversationView(await handBackConversation(ctx, String(args.conversationId))),
  }),
}));
