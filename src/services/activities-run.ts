import { randomUUID } from "node:crypto";
import { SYSTEM } from "../auth/scopes.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { Activity, Lead } from "../generated/sqlite/client.ts";
import { PermanentJobError, type JobContext, type JobRow } from "../jobs/runner.ts";
import { ACTIVITY_JOB, recordTaskEvent } from "./activities.ts";
import { leadContext } from "./activities-context.ts";
import { draftFollowUp } from "./activities-follow-up.ts";
import { createServiceContext, type Runtime, type ServiceContext } from "./context.ts";
import { llmOf } from "./handoff-steps.ts";
import { insertDraft } from "./lead-emails.ts";
import { LEAD_INCLUDE, leadPayload, recordLeadUpdated, type Tx } from "./leads-view.ts";
import { qualifyLead } from "./qualification.ts";

// Running a task at its time (the job kind activity.run). The slow part (reading the lead's
// conversations, asking the LLM) happens first, outside any transaction; then one transaction
// writes what the task produced (a draft, the lead's new score) with the task completed and
// task.completed. A try that throws leaves the task scheduled with the error until the runner's
// next try; after the last one it is failed (task.failed).

/** What a task produced: its result, and the writes that go with completing it. */
interface Outcome {
  result: Record<string, unknown>;
  apply?: (tx: Tx) => Promise<DomainEventRecord[]>;
}

/** lastTry: no retry follows a failure, so an LLM failure falls back to the template or the rules. */
type Executor = (ctx: ServiceContext, activity: Activity, lead: Lead, job: JobContext & { lastTry: boolean }) => Promise<Outcome>;

const followUp: Executor = async (ctx, activity, lead, job) => {
  if (!lead.email) throw new PermanentJobError("The lead has no email address to follow up");
  const context = await leadContext(ctx, lead);
  const input = activity.input as { instructions?: string };
  const draft = await draftFollowUp(context, input.instructions, llmOf(ctx), job.log, { fallback: job.lastTry });
  const emailId = randomUUID();
  const conversationId = activity.conversationId ?? context.conversations[0]?.id ?? null;
  return {
    result: {
      emailId,
      to: lead.email,
      subject: draft.subject,
      drafter: draft.drafter,
      conversationId,
      ...(draft.llmError ? { llmError: draft.llmError } : {}),
    },
    apply: async (tx) => {
      const { event } = await insertDraft(ctx, tx, {
        id: emailId,
        workspaceId: lead.workspaceId,
        scenarioId: lead.scenarioId,
        leadId: lead.id,
        to: lead.email!,
        subject: draft.subject,
        text: draft.text,
        draftedBy: "ai",
        activityId: activity.id,
        conversationId,
      });
      return [event];
    },
  };
};

const qualification: Executor = async (ctx, _activity, lead, job) => {
  const context = await leadContext(ctx, lead);
  const known = { budget: lead.budget, authority: lead.authority, need: lead.need, timeline: lead.timeline };
  const q = await qualifyLead(
    { messages: context.messages, topics: context.conversations.flatMap((c) => (c.topic ? [c.topic] : [])), known, contact: { email: !!lead.email, phone: !!lead.phone } },
    llmOf(ctx),
    job.log,
    { fallback: job.lastTry },
  );
  return {
    result: {
      score: q.score,
      previousScore: lead.score,
      bant: q.bant,
      previousBant: known,
      found: q.found,
      method: q.method,
      ...(q.breakdown ? { breakdown: q.breakdown } : {}),
      conversations: context.conversations.length,
      messages: context.messages.length,
      ...(q.llmError ? { llmError: q.llmError } : {}),
    },
    apply: async (tx) => {
      const before = await tx.lead.findUniqueOrThrow({ where: { id: lead.id }, include: LEAD_INCLUDE });
      const after = await tx.lead.update({ where: { id: lead.id }, data: { score: q.score, ...q.bant }, include: LEAD_INCLUDE });
      return recordLeadUpdated(ctx, tx, before, after, null);
    },
  };
};

/** No CRM is connected to Parley: the task says what it would have exported, and that it didn't. */
const crmSync: Executor = async (ctx, activity, lead) => {
  const full = await ctx.db.lead.findUniqueOrThrow({ where: { id: lead.id }, include: LEAD_INCLUDE });
  const target = (activity.input as { target?: string }).target ?? null;
  return {
    result: {
      exported: false,
      reason: "No CRM integration is configured in Parley: nothing was exported",
      target,
      wouldExport: leadPayload(full),
    },
  };
};

const EXECUTORS: Record<string, Executor> = { follow_up: followUp, qualification, crm_sync: crmSync };

/** The task finished before its commit (cancelled, or deleted with its lead): roll back its writes. */
class Superseded extends Error {}

async function runActivity(runtime: Runtime, job: JobRow, jc: JobContext): Promise<unknown> {
  const ctx = createServiceContext(runtime, SYSTEM);
  const { activityId } = job.payload as { activityId: string };
  const found = await ctx.db.activity.findUnique({ where: { id: activityId } });
  if (!found || (found.status !== "scheduled" && found.status !== "running")) return { activityId, skipped: found?.status ?? "gone" };
  const executor = EXECUTORS[found.type];
  if (!executor) throw new PermanentJobError(`No runner for activity type ${found.type}`);
  const startedAt = found.startedAt ?? ctx.clock();
  const { count } = await ctx.db.activity.updateMany({
    where: { id: found.id, status: { in: ["scheduled", "running"] } },
    data: { status: "running", startedAt, updatedAt: ctx.clock() },
  });
  if (!count) return { activityId, skipped: "changed" };
  const lead = found.leadId ? await ctx.db.lead.findUnique({ where: { id: found.leadId } }) : null;
  if (!lead) throw new PermanentJobError("The task's lead no longer exists");
  const outcome = await executor(ctx, { ...found, status: "running", startedAt }, lead, { ...jc, lastTry: job.attempts >= job.maxAttempts });
  let events: DomainEventRecord[];
  try {
    events = await ctx.db.$transaction(async (tx) => {
      const now = ctx.clock();
      const done = await tx.activity.updateMany({
        where: { id: found.id, status: "running" },
        data: { status: "completed", completedAt: now, result: outcome.result as object, error: null, updatedAt: now },
      });
      if (!done.count) throw new Superseded();
      const effects = (await outcome.apply?.(tx)) ?? [];
      const completed = await tx.activity.findUniqueOrThrow({ where: { id: found.id } });
      return [...effects, await recordTaskEvent(ctx, tx, "task.completed", completed)];
    });
  } catch (err) {
    if (err instanceof Superseded) return { activityId, skipped: "changed" };
    throw err;
  }
  ctx.events.publish(events);
  return { activityId, status: "completed" };
}

/** After a failed try: scheduled again with the error, or, after the last try, failed (task.failed). */
async function activityFailed(runtime: Runtime, job: JobRow, error: Error, final: boolean): Promise<void> {
  const { activityId } = job.payload as { activityId: string };
  const message = (error.message || error.name).slice(0, 2000);
  const now = runtime.clock();
  const events = await runtime.db.$transaction(async (tx) => {
    const { count } = await tx.activity.updateMany({
      where: { id: activityId, status: { in: ["scheduled", "running"] } },
      data: final ? { status: "failed", error: message, completedAt: now, updatedAt: now } : { status: "scheduled", error: message, updatedAt: now },
    });
    if (!count || !final) return [];
    return [await recordTaskEvent(runtime, tx, "task.failed", await tx.activity.findUniqueOrThrow({ where: { id: activityId } }))];
  });
  runtime.events.publish(events);
}

export function registerActivityJobs(runtime: Runtime): void {
  runtime.jobs.registerHandler(ACTIVITY_JOB, (job, jc) => runActivity(runtime, job, jc), {
    onFailure: (job, error, { final }) => activityFailed(runtime, job, error, final),
  });
}
