import { builder } from "./builder.ts";
import { LeadRef } from "./leads.ts";
import { TeamMemberRef } from "./workspaces.ts";
import {
  approveAndSendLeadEmail,
  LEAD_EMAIL_KIND,
  createLeadEmailDraft,
  discardLeadEmailDraft,
  leadEmailsWhere,
  updateLeadEmailDraft,
} from "../services/lead-emails.ts";

// Emails to leads: drafts (by operators, or by the AI in follow_up tasks), their approval and
// sending, and every lead email kept on the lead. Reading needs leads:read (or read_all); writing
// leads:write (or write_all); approving also a person: an external agent's key is refused.

builder.prismaObjectFields("OutboundEmail", (t) => ({
  leadId: t.exposeID("leadId", { nullable: true, description: "The lead a lead email (kind lead_email) goes to" }),
  draftedBy: t.exposeString("draftedBy", { nullable: true, description: "Lead emails: ai (a follow_up task) | member" }),
  draftedByMember: t.field({
    type: TeamMemberRef,
    nullable: true,
    description: "The operator who wrote the draft",
    resolve: (e, _a, ctx) => (e.draftedByMemberId ? ctx.loaders.member.load(e.draftedByMemberId) : null),
  }),
  approvedBy: t.field({
    type: TeamMemberRef,
    nullable: true,
    description: "The operator who approved sending it (null: a credential bound to no member; see the audit trail)",
    resolve: (e, _a, ctx) => (e.approvedByMemberId ? ctx.loaders.member.load(e.approvedByMemberId) : null),
  }),
  approvedAt: t.expose("approvedAt", { type: "DateTime", nullable: true }),
  activityId: t.exposeID("activityId", { nullable: true, description: "The task that drafted it (follow_up)" }),
}));

const ORDER = [{ createdAt: "desc" as const }, { id: "desc" as const }];

builder.queryField("leadEmails", (t) =>
  t.prismaConnection({
    type: "OutboundEmail",
    cursor: "id",
    description: "A lead's emails, newest first: drafts, approved, sent, failed and discarded. leads:read or read_all",
    authScopes: { authenticated: true },
    args: {
      leadId: t.arg.id({ required: true }),
      status: t.arg.string({ description: "draft | queued | sent | failed | outbox | discarded" }),
    },
    totalCount: async (_root, args, ctx) =>
      ctx.db.outboundEmail.count({ where: await leadEmailsWhere(ctx, String(args.leadId), { status: args.status ?? undefined }) }),
    resolve: async (query, _root, args, ctx) =>
      ctx.db.outboundEmail.findMany({ ...query, where: await leadEmailsWhere(ctx, String(args.leadId), { status: args.status ?? undefined }), orderBy: ORDER }),
  }),
);

builder.mutationFields((t) => ({
  createLeadEmailDraft: t.prismaField({
    type: "OutboundEmail",
    description: "Writes a draft to the lead's email address (email.draft_created); it goes out once approved. leads:write or write_all",
    authScopes: { authenticated: true },
    args: { leadId: t.arg.id({ required: true }), subject: t.arg.string({ required: true }), text: t.arg.string({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await createLeadEmailDraft(ctx, { leadId: String(args.leadId), subject: args.subject, text: args.text });
      return ctx.db.outboundEmail.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  updateLeadEmailDraft: t.prismaField({
    type: "OutboundEmail",
    description: "Edits a draft's subject and/or text; an email no longer a draft is CONFLICT. leads:write or write_all",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), subject: t.arg.string(), text: t.arg.string() },
    resolve: async (query, _root, args, ctx) => {
      const row = await updateLeadEmailDraft(ctx, String(args.id), { subject: args.subject, text: args.text });
      return ctx.db.outboundEmail.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  discardLeadEmailDraft: t.prismaField({
    type: "OutboundEmail",
    description: "Discards a draft (status discarded; it stays on the lead); an email no longer a draft is CONFLICT. leads:write or write_all",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await discardLeadEmailDraft(ctx, String(args.id));
      return ctx.db.outboundEmail.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  approveAndSendLeadEmail: t.prismaField({
    type: "OutboundEmail",
    description:
      "Approves a draft and sends it over SMTP (without SMTP_URL it stays in the outbox): status queued, then sent (email.sent) or failed. " +
      "Records the approver and opens an email task in the lead's history. Only a draft can be approved (else CONFLICT). leads:write or " +
      "write_all, by a person: an external agent's key is refused",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await approveAndSendLeadEmail(ctx, String(args.id));
      return ctx.db.outboundEmail.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
}));

builder.objectField(LeadRef, "emails", (t) =>
  t.prismaField({
    type: ["OutboundEmail"],
    description: "Emails to this lead, newest first: drafts, approved, sent, failed and discarded",
    args: { status: t.arg.string({ description: "draft | queued | sent | failed | outbox | discarded" }) },
    // The lead was checked when it was read: no second access check per lead.
    resolve: (query, lead, args, ctx) =>
      ctx.db.outboundEmail.findMany({
        ...query,
        where: { leadId: lead.id, kind: LEAD_EMAIL_KIND, ...(args.status ? { status: args.status } : {}) },
        orderBy: ORDER,
      }),
  }),
);
