import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { DomainEventRecord } from "../events/bus.ts";
import { conflict, forbidden, notFound, validationError } from "../errors.ts";
import type { OutboundEmail, Prisma } from "../generated/sqlite/client.ts";
import { recordTaskEvent } from "./activities.ts";
import { recordAudit } from "./audit.ts";
import type { Runtime, ServiceContext } from "./context.ts";
import { enqueueEmailSend, type EmailSettledHook } from "./email.ts";
import { isUuid, leadAccess, leadWhere, scopedLeadId, type LeadScope } from "./leads-access.ts";
import type { Tx } from "./leads-view.ts";
import { parseInput } from "./validation.ts";

// Emails to leads. A draft (written by an operator, or by the AI in a follow_up task) waits for an
// operator's approval; approving hands it to the email outbox (src/services/email.ts: a durable
// job sends it over SMTP, or leaves it in the outbox without SMTP_URL) and opens an "email" task
// in the lead's history, which the send job completes. Sent or not, every lead email stays on the
// lead: Lead.emails, leadEmails(leadId).
//
// draft → queued → sent | failed (or outbox without SMTP); a draft may also be discarded.

export const LEAD_EMAIL_KIND = "lead_email";
export const SUBJECT_MAX = 200;
export const TEXT_MAX = 20_000;

const Subject = z.string({ error: "must be a string" }).trim().min(1, "must not be blank").max(SUBJECT_MAX, `must be at most ${SUBJECT_MAX} characters`);
const Text = z.string({ error: "must be a string" }).trim().min(1, "must not be blank").max(TEXT_MAX, `must be at most ${TEXT_MAX} characters`);
const DraftInput = z.object({ leadId: z.string(), subject: Subject, text: Text });
const DraftPatch = z
  .object({ subject: Subject.nullish(), text: Text.nullish() })
  .refine((p) => p.subject != null || p.text != null, "Give a subject, a text or both");

export interface NewDraft {
  /** Known beforehand when a task's result names it. */
  id?: string;
  workspaceId: string;
  scenarioId: string | null;
  leadId: string;
  to: string;
  subject: string;
  text: string;
  draftedBy: "ai" | "member";
  draftedByMemberId?: string | null;
  activityId?: string | null;
  conversationId?: string | null;
}

/** Writes a draft and email.draft_created inside the caller's transaction. */
export async function insertDraft(ctx: Pick<ServiceContext, "events" | "clock">, tx: Tx, d: NewDraft): Promise<{ email: OutboundEmail; event: DomainEventRecord }> {
  const email = await tx.outboundEmail.create({
    data: {
      id: d.id ?? randomUUID(),
      workspaceId: d.workspaceId,
      scenarioId: d.scenarioId,
      leadId: d.leadId,
      to: d.to,
      subject: d.subject,
      text: d.text,
      kind: LEAD_EMAIL_KIND,
      status: "draft",
      draftedBy: d.draftedBy,
      draftedByMemberId: d.draftedByMemberId ?? null,
      activityId: d.activityId ?? null,
      conversationId: d.conversationId ?? null,
      createdAt: ctx.clock(),
    },
  });
  return { email, event: await recordEmailEvent(ctx, tx, "email.draft_created", email) };
}

export function leadEmailPayload(e: OutboundEmail) {
  return {
    emailId: e.id,
    leadId: e.leadId,
    status: e.status,
    to: e.to,
    subject: e.subject,
    text: e.text,
    draftedBy: e.draftedBy,
    draftedByMemberId: e.draftedByMemberId,
    approvedByMemberId: e.approvedByMemberId,
    approvedAt: e.approvedAt?.toISOString() ?? null,
    sentAt: e.sentAt?.toISOString() ?? null,
    activityId: e.activityId,
  };
}

function recordEmailEvent(ctx: Pick<ServiceContext, "events">, tx: Tx, type: string, e: OutboundEmail): Promise<DomainEventRecord> {
  return ctx.events.record(tx, { workspaceId: e.workspaceId, scenarioId: e.scenarioId, type, payload: leadEmailPayload(e) });
}

/** GraphQL createLeadEmailDraft: an operator's draft to the lead's email address. */
export async function createLeadEmailDraft(ctx: ServiceContext, raw: unknown): Promise<OutboundEmail> {
  const scope = leadAccess(ctx, "write");
  const args = parseInput(DraftInput, raw);
  const leadId = await scopedLeadId(ctx, scope, args.leadId);
  const lead = await ctx.db.lead.findUniqueOrThrow({ where: { id: leadId } });
  if (!lead.email) throw validationError("The lead has no email address: set one first", "leadId");
  const { email, event } = await ctx.db.$transaction(async (tx) => {
    const r = await insertDraft(ctx, tx, {
      workspaceId: lead.workspaceId,
      scenarioId: lead.scenarioId,
      leadId,
      to: lead.email!,
      subject: args.subject,
      text: args.text,
      draftedBy: "member",
      draftedByMemberId: scope.memberId,
    });
    await audit(tx, scope, "lead_email.drafted", r.email);
    return r;
  });
  ctx.events.publish([event]);
  return email;
}

const audit = (tx: Tx, scope: LeadScope, action: string, e: OutboundEmail, details: Record<string, unknown> = {}) =>
  recordAudit(tx, {
    workspaceId: e.workspaceId,
    scenarioId: e.scenarioId,
    memberId: scope.memberId,
    credentialId: scope.credentialId,
    action,
    details: { emailId: e.id, leadId: e.leadId, ...details },
  });

/** A lead email of the caller's leads, or NOT_FOUND (other kinds of email are not lead emails). */
async function scopedEmail(ctx: ServiceContext, scope: LeadScope, id: string): Promise<OutboundEmail> {
  if (!isUuid(id)) throw notFound("Email");
  const row = await ctx.db.outboundEmail.findFirst({ where: { id, kind: LEAD_EMAIL_KIND, workspaceId: scope.workspaceId, lead: leadWhere(scope) } });
  if (!row) throw notFound("Email");
  return row;
}

/**
 * Changes a draft, only while it is one: the row is updated on condition of its status, so an edit
 * racing an approval either lands before it (and is what gets sent) or is refused.
 */
async function changeDraft(
  ctx: ServiceContext,
  id: string,
  change: { data: Prisma.OutboundEmailUpdateManyMutationInput; action: string; event: string; verb: string },
): Promise<{ email: OutboundEmail; events: DomainEventRecord[]; scope: LeadScope }> {
  const scope = leadAccess(ctx, "write");
  const found = await scopedEmail(ctx, scope, id);
  const r = await ctx.db.$transaction(async (tx) => {
    const { count } = await tx.outboundEmail.updateMany({ where: { id: found.id, status: "draft" }, data: change.data });
    const email = await tx.outboundEmail.findUniqueOrThrow({ where: { id: found.id } });
    if (!count) return { email, events: null };
    await audit(tx, scope, change.action, email, { previousSubject: found.subject !== email.subject ? found.subject : undefined });
    return { email, events: [await recordEmailEvent(ctx, tx, change.event, email)] };
  });
  if (!r.events) throw conflict(`Only a draft can be ${change.verb}; this email is ${r.email.status}`);
  return { email: r.email, events: r.events, scope };
}

export async function updateLeadEmailDraft(ctx: ServiceContext, id: string, raw: unknown): Promise<OutboundEmail> {
  leadAccess(ctx, "write");
  const patch = parseInput(DraftPatch, raw);
  const data: Prisma.OutboundEmailUpdateManyMutationInput = {};
  if (patch.subject != null) data.subject = patch.subject;
  if (patch.text != null) data.text = patch.text;
  const { email, events } = await changeDraft(ctx, id, { data, action: "lead_email.draft_updated", event: "email.draft_updated", verb: "edited" });
  ctx.events.publish(events);
  return email;
}

/** The draft stays on the lead as discarded (what the AI proposed is part of the history). */
export async function discardLeadEmailDraft(ctx: ServiceContext, id: string): Promise<OutboundEmail> {
  const { email, events } = await changeDraft(ctx, id, {
    data: { status: "discarded" },
    action: "lead_email.discarded",
    event: "email.draft_discarded",
    verb: "discarded",
  });
  ctx.events.publish(events);
  return email;
}

/**
 * An operator approves a draft: it is queued for sending (the email job), the approver and time
 * are recorded, and an "email" task opens in the lead's history; email.sent follows when the SMTP
 * server accepts it. Only people approve: an external agent's key is refused, so AI drafts always
 * pass a human.
 */
export async function approveAndSendLeadEmail(ctx: ServiceContext, id: string): Promise<OutboundEmail> {
  const scope = leadAccess(ctx, "write");
  if (scope.memberId) {
    const member = await ctx.loaders.member.load(scope.memberId);
    if (member?.kind === "external_agent") throw forbidden("An external agent cannot approve lead emails: a human operator must");
  }
  const found = await scopedEmail(ctx, scope, id);
  const now = ctx.clock();
  const r = await ctx.db.$transaction(async (tx) => {
    const { count } = await tx.outboundEmail.updateMany({
      where: { id: found.id, status: "draft" },
      data: { status: "queued", approvedByMemberId: scope.memberId, approvedAt: now },
    });
    const email = await tx.outboundEmail.findUniqueOrThrow({ where: { id: found.id } });
    if (!count) return { email, events: null };
    const job = await enqueueEmailSend(ctx.jobs, tx, email);
    const activity = await tx.activity.create({
      data: {
        workspaceId: email.workspaceId,
        leadId: email.leadId,
        conversationId: email.conversationId,
        type: "email",
        status: "running",
        scheduledAt: now,
        startedAt: now,
        input: { emailId: email.id, to: email.to, subject: email.subject, draftedBy: email.draftedBy },
        assignedMemberId: scope.memberId,
        jobId: job.id,
        createdAt: now,
        updatedAt: now,
      },
    });
    await audit(tx, scope, "lead_email.approved", email, { activityId: activity.id });
    return { email, events: [await recordTaskEvent(ctx, tx, "task.created", activity)] };
  });
  if (!r.events) throw conflict(`Only a draft can be approved; this email is ${r.email.status}`);
  ctx.events.publish(r.events);
  ctx.jobs.wake();
  return r.email;
}

export interface LeadEmailFilters {
  status?: string;
}
export const LEAD_EMAIL_STATUSES = ["draft", "queued", "sent", "failed", "outbox", "discarded"] as const;

/** The Prisma filter for one lead's emails (checked against the caller); newest first. */
export async function leadEmailsWhere(ctx: ServiceContext, leadId: string, f: LeadEmailFilters = {}): Promise<Prisma.OutboundEmailWhereInput> {
  const scope = leadAccess(ctx, "read");
  const id = await scopedLeadId(ctx, scope, leadId);
  if (f.status !== undefined && !(LEAD_EMAIL_STATUSES as readonly string[]).includes(f.status)) {
    throw validationError(`status must be one of ${LEAD_EMAIL_STATUSES.join(", ")}`, "status");
  }
  return { leadId: id, kind: LEAD_EMAIL_KIND, ...(f.status ? { status: f.status } : {}) };
}

export async function findLeadEmail(ctx: ServiceContext, id: string): Promise<OutboundEmail> {
  return scopedEmail(ctx, leadAccess(ctx, "read"), id);
}

/**
 * What the send job does when a lead email settles, in the job's transaction: email.sent when the
 * SMTP server took it, and the approval's "email" task completed (or failed after the last try).
 */
export function leadEmailSettled(runtime: Runtime): EmailSettledHook {
  return async (tx, email, outcome) => {
    const now = runtime.clock();
    const events: DomainEventRecord[] = [];
    if (outcome.status === "sent") events.push(await recordEmailEvent(runtime, tx, "email.sent", email));
    const task = await tx.activity.findFirst({ where: { jobId: outcome.jobId, type: "email", status: { in: ["running", "scheduled"] } } });
    if (!task) return events;
    const failed = outcome.status === "failed";
    const result =
      outcome.status === "sent"
        ? { sent: true, emailId: email.id, to: email.to, sentAt: email.sentAt?.toISOString() ?? null, messageId: outcome.messageId ?? null }
        : outcome.status === "outbox"
          ? { sent: false, emailId: email.id, status: "outbox", reason: "No SMTP server is configured (SMTP_URL): the email waits in the outbox" }
          : null;
    const done = await tx.activity.update({
      where: { id: task.id },
      data: failed
        ? { status: "failed", error: outcome.error ?? "sending failed", completedAt: now }
        : { status: "completed", result: result as object, error: null, completedAt: now },
    });
    events.push(await recordTaskEvent(runtime, tx, failed ? "task.failed" : "task.completed", done));
    return events;
  };
}
