import { builder } from "./builder.ts";
import { ConversationRef } from "./conversations.ts";
import { TeamMemberRef } from "./workspaces.ts";
import { auditScope } from "../services/audit.ts";

// The audit trail for operators: per workspace (Query.auditTrail) and per conversation
// (Conversation.auditTrail, or Query.auditTrail(conversationId)); newest first.

builder.prismaObject("AuditEntry", {
  description: "Who (member and credential) did what, and when",
  fields: (t) => ({
    id: t.exposeID("id"),
    action: t.exposeString("action", {
      description: "e.g. handoff_configuration.updated, conversation.taken_over, conversation.replied, conversation.handed_back, conversation.assigned",
    }),
    details: t.expose("details", { type: "JSON" }),
    scenarioId: t.exposeID("scenarioId", { nullable: true }),
    conversationId: t.exposeID("conversationId", { nullable: true }),
    memberId: t.exposeID("memberId", { nullable: true }),
    member: t.field({
      type: TeamMemberRef,
      nullable: true,
      description: "The member who acted (null for unbound credentials and the CLI, or when the member was deleted)",
      resolve: (e, _a, ctx) => (e.memberId ? ctx.loaders.member.load(e.memberId) : null),
    }),
    credentialId: t.exposeID("credentialId", { nullable: true, description: "The token or key used" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const ORDER = [{ createdAt: "desc" as const }, { id: "desc" as const }];

builder.queryFields((t) => ({
  auditTrail: t.prismaConnection({
    type: "AuditEntry",
    cursor: "id",
    description:
      "The audit trail, newest first. With conversationId: that conversation's (read_all of its scenario, or conversations:read). " +
      "Without: the workspace's (developer key with workspace:admin) or the token's scenario's (read_all).",
    authScopes: { authenticated: true },
    args: { conversationId: t.arg.id() },
    totalCount: async (_root, args, ctx) =>
      ctx.db.auditEntry.count({ where: await auditScope(ctx, args.conversationId == null ? undefined : String(args.conversationId)) }),
    resolve: async (query, _root, args, ctx) => {
      const where = await auditScope(ctx, args.conversationId == null ? undefined : String(args.conversationId));
      return ctx.db.auditEntry.findMany({ ...query, where, orderBy: ORDER });
    },
  }),
}));

builder.objectField(ConversationRef, "auditTrail", (t) =>
  t.prismaConnection({
    type: "AuditEntry",
    cursor: "id",
    description: "What operators and agents did in this conversation, newest first",
    totalCount: async (c, _args, ctx) => ctx.db.auditEntry.count({ where: await auditScope(ctx, c.id) }),
    resolve: async (query, c, _args, ctx) => ctx.db.auditEntry.findMany({ ...query, where: await auditScope(ctx, c.id), orderBy: ORDER }),
  }),
);
