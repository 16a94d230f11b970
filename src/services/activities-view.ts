import type { Activity } from "../generated/sqlite/client.ts";
import type { ServiceContext } from "./context.ts";

// A task as every transport renders it (REST JSON, task.* event payloads; GraphQL exposes the same
// fields), and how the job behind it went.

/** Tries per task; the runner's backoff spaces them. */
export const ACTIVITY_MAX_ATTEMPTS = 3;

export interface ActivityView {
  id: string;
  type: string;
  status: string;
  leadId: string | null;
  conversationId: string | null;
  /** The member who scheduled it (tasks run by the system on their behalf). */
  assignedTo: string | null;
  scheduledAt: string;
  startedAt: string | null;
  completedAt: string | null;
  input: unknown;
  result: unknown;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ActivityExecution {
  jobId: string | null;
  /** Tries so far, and how many the runner makes before the task fails. */
  attempts: number;
  maxAttempts: number;
  /** When the next try runs (scheduled, or waiting to retry after a failed try). */
  nextAttemptAt: string | null;
  lastError: string | null;
  durationMs: number | null;
}

export interface ActivityDetail extends ActivityView {
  lead: { id: string; name: string | null; email: string | null; company: string | null; stage: string } | null;
  execution: ActivityExecution;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function activityView(a: Activity): ActivityView {
  return {
    id: a.id,
    type: a.type,
    status: a.status,
    leadId: a.leadId,
    conversationId: a.conversationId,
    assignedTo: a.assignedMemberId,
    scheduledAt: a.scheduledAt.toISOString(),
    startedAt: iso(a.startedAt),
    completedAt: iso(a.completedAt),
    input: a.input,
    result: a.result ?? null,
    error: a.error,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

/** How the job behind a task went: tries, the next one, the last error, how long the run took. */
export async function activityExecution(ctx: Pick<ServiceContext, "db">, a: Activity): Promise<ActivityExecution> {
  const job = a.jobId ? await ctx.db.job.findUnique({ where: { id: a.jobId } }) : null;
  const waiting = a.status === "scheduled" || a.status === "running";
  return {
    jobId: a.jobId,
    attempts: job?.attempts ?? 0,
    maxAttempts: job?.maxAttempts ?? ACTIVITY_MAX_ATTEMPTS,
    nextAttemptAt: waiting && job?.status === "queued" ? job.runAt.toISOString() : null,
    lastError: job?.lastError ?? a.error,
    durationMs: a.startedAt && a.completedAt && a.status !== "cancelled" ? a.completedAt.getTime() - a.startedAt.getTime() : null,
  };
}
