import { randomUUID } from "node:crypto";
import nodemailer, { type Transporter } from "nodemailer";
import type { SmtpConfig } from "../config.ts";
import { rowsOf, sql, timestamp, type SqlRunner } from "../db/sql.ts";
import type { OutboundEmail } from "../generated/sqlite/client.ts";
import type { JobRunner } from "../jobs/runner.ts";
import { forbidden, notFound } from "../errors.ts";
import { requirePrincipal, requireTokenScope } from "./access.ts";
import type { Runtime, ServiceContext } from "./context.ts";

// Outgoing email. Every notification is first a row of the outbox table (OutboundEmail), written in
// the transaction of the change it tells about, with a durable job that sends it: a failing SMTP
// server is retried with the job runner's backoff, and nothing is lost to a restart. Without
// SMTP_URL the job leaves the row in the outbox (status "outbox"), readable in GraphQL.

export const EMAIL_JOB = "email.send";

/** queued → sent | failed, or outbox when no SMTP server is configured. */
export type EmailStatus = "queued" | "sent" | "failed" | "outbox";

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
export function registerEmailJobs(runtime: Runtime, smtp: SmtpConfig | null): void {
  let transport: Transporter | undefined;
  const db = runtime.db;
  runtime.jobs.registerHandler(
    EMAIL_JOB,
    async (job) => {
      const { emailId } = job.payload as { emailId: string };
      const email = await db.outboundEmail.findUnique({ where: { id: emailId } });
      // Deleted with its workspace, or a retry after the row was already settled.
      if (!email || email.status === "sent" || email.status === "outbox") return { status: email?.status ?? "gone" };
      if (!smtp) {
        await db.outboundEmail.update({ where: { id: email.id }, data: { status: "outbox" } });
        return { status: "outbox" };
      }
      transport ??= smtpTransport(smtp);
      const info = await transport.sendMail({ to: email.to, subject: email.subject, text: email.text, ...(email.html ? { html: email.html } : {}) });
      await db.outboundEmail.update({
        where: { id: email.id },
        data: { status: "sent", attempts: job.attempts, sentAt: runtime.clock(), error: null },
      });
      return { status: "sent", messageId: (info as { messageId?: string }).messageId ?? null };
    },
    {
      // The row says how it went: queued again (with the error) until the last try, then failed.
      onFailure: async (job, error, { final }) => {
        const { emailId } = job.payload as { emailId: string };
        await db.outboundEmail.updateMany({
          where: { id: emailId, status: { in: ["queued", "failed"] } },
          data: { status: final ? "failed" : "queued", attempts: job.attempts, error: (error.message || error.name).slice(0, MAX_ERROR_LENGTH) },
        });
      },
    },
  );
}

/**
 * Whose outbox a caller may read, as a Prisma filter: a developer key with workspace:admin reads
 * its workspace's, a scenario token (read_all) its scenario's. Other credentials are refused.
 */
export function outboxScope(ctx: Pick<ServiceContext, "principal">): { workspaceId: string; scenarioId?: string } {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "scenario_token") {
    const own = requireTokenScope(p, "read_all");
    return { workspaceId: own.workspaceId, scenarioId: own.scenarioId };
  }
  if (p.kind === "developer") {
    if (!p.scopes.has("workspace:admin")) throw forbidden("Insufficient scope. Required: workspace:admin");
    return { workspaceId: p.workspaceId };
  }
  if (p.kind === "system") throw notFound("Workspace");
  throw forbidden("This credential cannot read the outbox");
}
