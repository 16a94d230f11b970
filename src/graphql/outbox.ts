import { builder } from "./builder.ts";
import { outboxScope } from "../services/email.ts";

// The email outbox for operators: every notification Parley sent or holds (without SMTP_URL they
// stay here with status "outbox"), newest first.

builder.prismaObject("OutboundEmail", {
  description: "An email notification: queued → sent | failed, or outbox when no SMTP server is configured",
  fields: (t) => ({
    id: t.exposeID("id"),
    to: t.exposeString("to", { description: "The one recipient" }),
    subject: t.exposeString("subject"),
    text: t.exposeString("text"),
    html: t.exposeString("html", { nullable: true }),
    kind: t.exposeString("kind", { description: "handoff_notification, lead_notification, …" }),
    status: t.exposeString("status", { description: "queued | sent | failed | outbox" }),
    attempts: t.exposeInt("attempts", { description: "Delivery tries so far" }),
    error: t.exposeString("error", { nullable: true, description: "Why the last try failed" }),
    sentAt: t.expose("sentAt", { type: "DateTime", nullable: true }),
    scenarioId: t.exposeID("scenarioId", { nullable: true }),
    conversationId: t.exposeID("conversationId", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const ORDER = [{ createdAt: "desc" as const }, { id: "desc" as const }];

builder.queryField("outbox", (t) =>
  t.prismaConnection({
    type: "OutboundEmail",
    cursor: "id",
    description: "Email notifications, newest first: the workspace's (developer key with workspace:admin) or the token's scenario's (read_all)",
    authScopes: { authenticated: true },
    totalCount: (_root, _args, ctx) => ctx.db.outboundEmail.count({ where: outboxScope(ctx) }),
    resolve: (query, _root, _args, ctx) => ctx.db.outboundEmail.findMany({ ...query, where: outboxScope(ctx), orderBy: ORDER }),
  }),
);
