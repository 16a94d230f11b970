import { builder, type GraphQLContext } from "./builder.ts";
import { VisitorConversationRef } from "./visitor-chat.ts";
import { conversationView } from "../services/conversation-view.ts";
import { respondToHandoff } from "../services/handoff-flow.ts";
import { siteKeyPolicy } from "../services/rate-limit.ts";

// The widget's buttons under the assistant's handoff question (the message whose handoffState is
// "offered"): the same as the visitor typing yes or no.

builder.mutationField("respondToHandoff", (t) =>
  t.field({
    type: VisitorConversationRef,
    description:
      "The visitor's answer to the handoff offer: accept hands the conversation to human operators (status human_active), " +
      "decline lets the assistant go on. CONFLICT when no offer is waiting (widget key; counts as a reply: 20 per minute per visitor address)",
    authScopes: { visitor: true },
    args: { visitorToken: t.arg.string({ required: true }), accept: t.arg.boolean({ required: true }) },
    resolve: async (_r, args, ctx: GraphQLContext) => {
      const p = ctx.principal;
      const who = p && p.kind !== "system" ? p.credentialId : "system";
      // The same bucket as sendMessage: an answer is a reply.
      await ctx.rateLimits.consume(siteKeyPolicy("reply", 20), `${who}:${ctx.clientIp}`, () => "Rate limit exceeded. Please try again later.");
      return conversationView(await respondToHandoff(ctx, args.visitorToken, args.accept));
    },
  }),
);
