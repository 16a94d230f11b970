import DataLoader from "dataloader";
import { builder, type GraphQLContext } from "./builder.ts";
import { ConversationRef } from "./conversations.ts";

// Where a conversation stands in the human handoff, for operators: the phase, what triggered the
// offer, the summary they get and the routing profile that matched. The conversation view every
// transport shares leaves these out (the REST dialects have no such fields), so they are read here,
// batched per request.

interface HandoffRow {
  id: string;
  handoffPhase: string;
  handoffTrigger: string | null;
  handoffOfferedAt: Date | null;
  handedOffAt: Date | null;
  handoffSummary: string | null;
  handoffRoutingProfile: { id: number; name: string } | null;
}

const loaders = new WeakMap<object, DataLoader<string, HandoffRow | null>>();

function handoffOf(ctx: GraphQLContext, conversationId: string): Promise<HandoffRow | null> {
  let loader = loaders.get(ctx.loaders);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const rows = await ctx.db.conversation.findMany({
        where: { id: { in: [...ids] } },
        select: {
          id: true,
          handoffPhase: true,
          handoffTrigger: true,
          handoffOfferedAt: true,
          handedOffAt: true,
          handoffSummary: true,
          handoffRoutingProfile: { select: { id: true, name: true } },
        },
      });
      const map = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => map.get(id) ?? null);
    });
    loaders.set(ctx.loaders, loader);
  }
  return loader.load(conversationId);
}

const noHandoff = (id: string): HandoffRow => ({
  id,
  handoffPhase: "none",
  handoffTrigger: null,
  handoffOfferedAt: null,
  handedOffAt: null,
  handoffSummary: null,
  handoffRoutingProfile: null,
});

const HandoffPhaseEnum = builder.enumType("HandoffPhase", {
  description: "none; offered: the assistant asked the visitor; declined: the visitor said no; human: handed to operators",
  values: ["none", "offered", "accepted", "declined", "human"] as const,
});

const ConversationHandoffRef = builder.objectRef<HandoffRow>("ConversationHandoff").implement({
  fields: (t) => ({
    phase: t.field({ type: HandoffPhaseEnum, resolve: (h) => h.handoffPhase as "none" }),
    trigger: t.exposeString("handoffTrigger", {
      nullable: true,
      description: "keyword, lack_of_knowledge, user_frustration, media_message, customer_support_suggestion, irrelevant_advice or custom:<guideline id>",
    }),
    offeredAt: t.expose("handoffOfferedAt", { type: "DateTime", nullable: true }),
    handedOffAt: t.expose("handedOffAt", { type: "DateTime", nullable: true, description: "When the conversation went to human operators" }),
    summary: t.exposeString("handoffSummary", { nullable: true, description: "For the operators (when ai_summary_active): the LLM's, or the visitor's key sentences" }),
    routingProfileId: t.int({ nullable: true, resolve: (h) => h.handoffRoutingProfile?.id ?? null }),
    routingProfileName: t.string({
      nullable: true,
      description: "The topic the handoff was routed by (null: settings.emails were notified)",
      resolve: (h) => h.handoffRoutingProfile?.name ?? null,
    }),
  }),
});

builder.objectFields(ConversationRef, (t) => ({
  handoff: t.field({
    type: ConversationHandoffRef,
    description: "The human handoff: phase, trigger, summary, routing",
    resolve: async (c, _a, ctx) => (await handoffOf(ctx, c.id)) ?? noHandoff(c.id),
  }),
  handoffSummary: t.string({
    nullable: true,
    description: "The summary operators get with a handoff (same as handoff.summary)",
    resolve: async (c, _a, ctx) => (await handoffOf(ctx, c.id))?.handoffSummary ?? null,
  }),
}));
