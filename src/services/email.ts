import { randomUUID } from "node:crypto";
import nodemailer, { type Transporter } from "nodemailer";
import type { SmtpConfig } from "../config.ts";
import { rowsOf, sql, timestamp, type SqlRunner } from "../db/sql.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { OutboundEmail, Prisma } from "../generated/sqlite/client.ts";
import type { JobRow, JobRunner } from "../jobs/runner.ts";
import { forbidden, notFound } from "../errors.ts";
import { requirePrincipal, requireTokenScope } from "./access.ts";
import type { Runtime, ServiceContext } from "./context.ts";

// Outgoing email. Every notification is first a row of the outbox table (OutboundEmail), written in
// the transaction of the change it tells about, with a durable job that sends it: a failing SMTP
// server is retried with the job runner's backoff, and nothing is lost to a restart. Without
// SMTP_URL the job leaves the row in the outbox (status "outbox"), readable in GraphQL.

export const EMAIL_JOB = "email.send";

/** queued → sent | failed, or outbox when no SMTP server is configured. Lead emails start as drafts. */
export type EmailStatus = "draft" | "queued" | "sent" | "failed" | "outbox" | "discarded";

/**
 * What a kind of email does when its job settles, in the transaction that records the outcome (lead
 * emails: email.sent and their task); answers the domain events to publish after the commit.
 */
export type EmailSettledHook = (
  tx: Prisma.TransactionClient,
  email: OutboundEmail,
  outcome: { status: "sent" | "outbox" | "failed"; jobId: string; messageId?: string | null; error?: string },
) => Promise<DomainEventRecord[]>;

/** Tries per email before it is failed; with the default backoff the last is ~30 s after the first. */
const MAX_ATTEMPTS = 5;
const MAX_ERROR_LENGTH = 1000;

export interface NewEmail {
  workspaceId: string;
  scenarioId?: string | null;
  /** One recipient. */
  to: string;
  subject: string;
  text: string;
  html?: string | null;
  /** handoff_notification | lead_notification | … */
  kind: string;
  conversationId?: string | null;
  leadId?: string | null;
}

/**
 * Adds emails to the outbox with their send jobs, inside the caller's transaction (a lane
 * transaction, or runnerIn(tx) in a Prisma one). Call jobs.wake() after the commit.
 */
export async function queueEmails(q: SqlRunner, jobs: JobRunner, emails: NewEmail[], now: Date): Promise<OutboundEmail[]> {
  const rows: OutboundEmail[] = [];
  for (const e of emails) {
    const [row] = await rowsOf<OutboundEmail>(
      q,
      "OutboundEmail",
      sql`INSERT INTO "OutboundEmail" ("id", "workspaceId", "scenarioId", "to", "subject", "text", "html", "kind", "status", "attempts",
          "conversationId", "leadId", "createdAt")
        VALUES (${randomUUID()}, ${e.workspaceId}, ${e.scenarioId ?? null}, ${e.to}, ${e.subject}, ${e.text}, ${e.html ?? null}, ${e.kind},
          'queued', 0, ${e.conversationId ?? null}, ${e.leadId ?? null}, ${timestamp(now)})
        RETURNING *`,
    );
    await jobs.enqueueSql(q, {
      kind: EMAIL_JOB,
      workspaceId: e.workspaceId,
      scenarioId: e.scenarioId ?? null,
      payload: { emailId: row!.id },
      maxAttempts: MAX_ATTEMPTS,
    });
    rows.push(row!);
  }
  return rows;
}

/** The send job for an email row written earlier (an approved lead email), in the caller's Prisma transaction. */
export function enqueueEmailSend(jobs: JobRunner, tx: Pick<Prisma.TransactionClient, "job">, email: OutboundEmail): Promise<JobRow> {
  return jobs.enqueue(tx, { kind: EMAIL_JOB, workspaceId: email.workspaceId, scenarioId: email.scenarioId, payload: { emailId: email.id }, maxAttempts: MAX_ATTEMPTS });
}

/** A nodemailer SMTP transport with timeouts that fit a job's lease (the defaults wait minutes). */
export function smtpTransport(smtp: SmtpConfig): Transporter {
  return nodemailer.createTransport(
    { url: smtp.url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 },
    { from: smtp.from },
  );
}

/**
 * The send job. Runs in whichever process claims it (server or job worker); each registers it with
 * its own SMTP settings, read from the same environment.
 */
export function registerEmailJobs(runtime: Runtime, smtp: SmtpConfig | null, hooks: Record<string, EmailSettledHook> = {}): void {
  let transport: Transporter | undefined;
  const db = runtime.db;
  /** The row's new state and what its kind's hook records, in one transaction; events published after it. */
  async function settle(emailId: string, data: Prisma.OutboundEmailUpdateManyMutationInput, outcome: Parameters<EmailSettledHook>[2], from: string[]) {
    const events = await db.$transaction(async (tx) => {
      const { count } = await tx.outboundEmail.updateMany({ where: { id: emailId, status: { in: from } }, data });
      const row = count ? await tx.outboundEmail.findUnique({ where: { id: emailId } }) : null;
      const hook = row ? hooks[row.kind] : undefined;
      return row && hook ? hook(tx, row, outcome) : [];
    });
    runtime.events.publish(events);
  }
  runtime.jobs.registerHandler(
    EMAIL_JOB,
    async (job) => {
      const { emailId } = job.payload as { emailId: string };
      const email = await db.outboundEmail.findUnique({ where: { id: emailId } });
      // Deleted with its workspace, a retry after the row was already settled, or not approved.
      if (!email || email.status !== "queued") return { status: email?.status ?? "gone" };
      if (!smtp) {
        await settle(email.id, { status: "outbox" }, { status: "outbox", jobId: job.id }, ["queued"]);
        return { status: "outbox" };
      }
      transport ??= smtpTransport(smtp);
      const info = await transport.sendMail({ to: email.to, subject: email.subject, text: email.text, ...(email.html ? { html: email.html } : {}) });
      const messageId = (info as { messageId?: string }).messageId ?? null;
      await settle(email.id, { status: "sent", attempts: job.attempts, sentAt: runtime.clock(), error: null }, { status: "sent", jobId: job.id, messageId }, ["queued"]);
      return { status: "sent", messageId };
    },
    {
      // The row says how it went: queued again (with the error) until the last try, then failed.
      onFailure: async (job, error, { final }) => {
        const { emailId } = job.payload as { emailId: string };
        const message = (error.message || error.name).slice(0, MAX_ERROR_LENGTH);
        const data = { status: final ? "failed" : "queued", attempts: job.attempts, error: message };
        if (!final) {
          await db.outboundEmail.updateMany({ where: { id: emailId, status: { in: ["queued", "failed"] } }, data });
          return;
        }
        await settle(emailId, data, { status: "failed", jobId: job.id, error: message }, ["queued", "failed"]);
      },
    },
  );
}

/**
 * Whose outbox a caller may read, as a Prisma filter (emails on their way or sent, not drafts): a
 * developer key with workspace:admin reads its workspace's, a scenario token (read_all) its
 * scenario's. Other credentials are refused.
 */
export function outboxScope(ctx: Pick<ServiceContext, "principal">): Prisma.OutboundEmailWhereInput {
  const p = requirePrincipal(ctx.principal);
  // Lead email drafts (and discarded ones) are not going out: they live on their lead.
  const outgoing = { status: { notIn: ["draft", "discarded"] } };
  if (p.kind === "scenario_token") {
    const own = requireTokenScope(p, "read_all");
    return { workspaceId: own.workspaceId, scenarioId: own.scenarioId, ...outgoing };
  }
  if (p.kind === "developer") {
    if (!p.scopes.has("workspace:admin")) throw forbidden("Insufficient scope. Required: workspace:admin");
    return { workspaceId: p.workspaceId, ...outgoing };
  }
  if (p.kind === "system") throw notFound("Workspace");
  throw forbidden("This credential cannot read the outbox");
}
