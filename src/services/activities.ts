import { z } from "zod";
import type { DomainEventRecord } from "../events/bus.ts";
import { conflict, forbidden, notFound, validationError } from "../errors.ts";
import type { Activity, Prisma } from "../generated/sqlite/client.ts";
import { requirePrincipal } from "./access.ts";
import { recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { isUuid, leadAccess, scopedLeadId, type LeadScope } from "./leads-access.ts";
import type { Tx } from "./leads-view.ts";
import type { Page, Pagination } from "./pagination.ts";
import { parseInput } from "./validation.ts";
import { activityExecution, activityView, ACTIVITY_MAX_ATTEMPTS, type ActivityDetail, type ActivityView } from "./activities-view.ts";

// Agent tasks ("activities" in the Quincer API): scheduled about a lead, run at their time by the
// durable job runner (src/services/activities-run.ts), and kept as the lead's task history with
// their input, execution and result. Scheduling writes the task, its job and task.created in one
// transaction, so a task can't exist without the job that runs it, nor the other way round.

export const ACTIVITY_TYPES = ["follow_up", "qualification", "crm_sync", "email"] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];
/** email tasks are the sending of an approved lead email: approveAndSendLeadEmail makes them. */
export const SCHEDULABLE_TYPES = ["follow_up", "qualification", "crm_sync"] as const;
/** cancelled: called off before it ran (Parley's addition to scheduled/running/completed/failed). */
export const ACTIVITY_STATUSES = ["scheduled", "running", "completed", "failed", "cancelled"] as const;
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

export const ACTIVITY_JOB = "activity.run";
/** How far ahead a task may be scheduled. */
const MAX_AHEAD_MS = 366 * 86_400_000;

const INPUTS = {
  follow_up: z.strictObject({
    instructions: z.string({ error: "must be a string" }).trim().max(2000, "must be at most 2000 characters").optional(),
  }),
  qualification: z.strictObject({}),
  crm_sync: z.strictObject({ target: z.string({ error: "must be a string" }).trim().max(100, "must be at most 100 characters").optional() }),
} satisfies Record<(typeof SCHEDULABLE_TYPES)[number], z.ZodType>;

const ScheduleInput = z.object({
  leadId: z.string({ error: "must be a lead id" }),
  type: z.enum(SCHEDULABLE_TYPES, {
    error: (i) =>
      i.input === "email"
        ? "email tasks are created by approveAndSendLeadEmail"
        : `Unknown activity type: must be one of ${SCHEDULABLE_TYPES.join(", ")}`,
  }),
  scheduledAt: z
    .string({ error: "must be an ISO 8601 date-time" })
    .refine((v) => isIsoDateTime(v), "must be an ISO 8601 date-time with a time zone, e.g. 2026-01-15T10:30:00Z")
    .nullish(),
  input: z.unknown().optional(),
});

/** An ISO 8601 date-time with its offset and a real calendar date (2026-02-30 is refused, not rolled over). */
export function isIsoDateTime(v: string): boolean {
  if (!z.iso.datetime({ offset: true }).safeParse(v).success) return false;
  const [, y, mo, d] = /^(\d{4})-(\d{2})-(\d{2})/.exec(v)!;
  const probe = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  return probe.getUTCMonth() === Number(mo) - 1 && probe.getUTCDate() === Number(d);
}

/** Who reads tasks: developer keys with tasks:read, scenario tokens (read_all) their widget's leads' tasks. */
export function activityAccess(ctx: Pick<ServiceContext, "principal">, access: "read" | "write"): LeadScope {
  const p = requirePrincipal(ctx.principal);
  if (access === "read" && p.kind === "developer") {
    if (!p.scopes.has("tasks:read")) throw forbidden("Insufficient scope. Required: tasks:read");
    return { workspaceId: p.workspaceId, scenarioId: null, memberId: p.memberId, credentialId: p.credentialId };
  }
  // Scheduling and cancelling act on the lead: leads:write (or write_all).
  return leadAccess(ctx, access);
}

export const activityWhere = (scope: LeadScope): Prisma.ActivityWhereInput => ({
  workspaceId: scope.workspaceId,
  ...(scope.scenarioId ? { lead: { scenarioId: scope.scenarioId } } : {}),
});

export interface NewActivity {
  workspaceId: string;
  leadId: string;
  type: ActivityType;
  scheduledAt: Date;
  input: Record<string, unknown>;
  conversationId?: string | null;
  assignedMemberId?: string | null;
}

/**
 * Writes a task, the job that runs it at scheduledAt and task.created inside the caller's
 * transaction (the system schedules tasks this way too). Call jobs.wake() after the commit.
 */
export async function scheduleActivityIn(ctx: ServiceContext, tx: Tx, a: NewActivity): Promise<{ activity: Activity; event: DomainEventRecord }> {
  const now = ctx.clock();
  const created = await tx.activity.create({
    data: {
      workspaceId: a.workspaceId,
      leadId: a.leadId,
      conversationId: a.conversationId ?? null,
      type: a.type,
      status: "scheduled",
      scheduledAt: a.scheduledAt,
      input: a.input as object,
      assignedMemberId: a.assignedMemberId ?? null,
      createdAt: now,
      updatedAt: now,
    },
  });
  const job = await ctx.jobs.enqueue(tx, {
    kind: ACTIVITY_JOB,
    workspaceId: a.workspaceId,
    payload: { activityId: created.id },
    runAt: a.scheduledAt,
    maxAttempts: ACTIVITY_MAX_ATTEMPTS,
  });
  const activity = await tx.activity.update({ where: { id: created.id }, data: { jobId: job.id } });
  return { activity, event: await recordTaskEvent(ctx, tx, "task.created", activity) };
}

/** task.* events carry the task as the REST API shows it. */
export async function recordTaskEvent(ctx: Pick<ServiceContext, "events">, tx: Tx, type: string, activity: Activity): Promise<DomainEventRecord> {
  return ctx.events.record(tx, {
    workspaceId: activity.workspaceId,
    type,
    payload: { activityId: activity.id, leadId: activity.leadId, taskType: activity.type, activity: activityView(activity) },
  });
}

/** The lead's most recent conversation: what a task is about unless it says otherwise. */
export async function latestConversationId(db: ServiceContext["db"], leadId: string): Promise<string | null> {
  const links = await db.leadConversation.findMany({ where: { leadId }, select: { conversationId: true } });
  if (!links.length) return null;
  const [latest] = await db.conversation.findMany({
    where: { id: { in: links.map((l) => l.conversationId) } },
    orderBy: [{ updatedAt: "desc" }, { id: "desc" }],
    take: 1,
    select: { id: true },
  });
  return latest?.id ?? null;
}

/** GraphQL scheduleActivity: a task about one of the caller's leads, at scheduledAt (default now). */
export async function scheduleActivity(ctx: ServiceContext, raw: unknown): Promise<Activity> {
  const scope = activityAccess(ctx, "write");
  const args = parseInput(ScheduleInput, raw);
  const { input } = parseInput(z.object({ input: INPUTS[args.type] }), { input: args.input ?? {} }) as { input: Record<string, unknown> };
  const now = ctx.clock();
  const scheduledAt = args.scheduledAt ? new Date(args.scheduledAt) : now;
  if (scheduledAt.getTime() - now.getTime() > MAX_AHEAD_MS) throw validationError("scheduledAt: must be within a year from now", "scheduledAt");
  const leadId = await scopedLeadId(ctx, scope, args.leadId);
  const conversationId = await latestConversationId(ctx.db, leadId);
  const { activity, event } = await ctx.db.$transaction(async (tx) => {
    const r = await scheduleActivityIn(ctx, tx, {
      workspaceId: scope.workspaceId,
      leadId,
      type: args.type,
      scheduledAt,
      input,
      conversationId,
      assignedMemberId: scope.memberId,
    });
    await recordAudit(tx, {
      workspaceId: scope.workspaceId,
      memberId: scope.memberId,
      credentialId: scope.credentialId,
      action: "activity.scheduled",
      details: { activityId: r.activity.id, leadId, type: args.type, scheduledAt: scheduledAt.toISOString() },
    });
    return r;
  });
  ctx.events.publish([event]);
  ctx.jobs.wake();
  return activity;
}

async function scopedActivity(ctx: ServiceContext, scope: LeadScope, id: string): Promise<Activity> {
  if (!isUuid(id)) throw notFound("Activity");
  const row = await ctx.db.activity.findFirst({ where: { id, ...activityWhere(scope) } });
  if (!row) throw notFound("Activity");
  return row;
}

/** Calls off a task that has not started; its job then finds it cancelled and does nothing. */
export async function cancelActivity(ctx: ServiceContext, id: string): Promise<Activity> {
  const scope = activityAccess(ctx, "write");
  const found = await scopedActivity(ctx, scope, id);
  const now = ctx.clock();
  const outcome = await ctx.db.$transaction(async (tx) => {
    const { count } = await tx.activity.updateMany({ where: { id: found.id, status: "scheduled" }, data: { status: "cancelled", completedAt: now, updatedAt: now } });
    const row = await tx.activity.findUniqueOrThrow({ where: { id: found.id } });
    if (!count) return { row, event: null };
    await recordAudit(tx, {
      workspaceId: row.workspaceId,
      memberId: scope.memberId,
      credentialId: scope.credentialId,
      action: "activity.cancelled",
      details: { activityId: row.id, leadId: row.leadId, type: row.type },
    });
    return { row, event: await recordTaskEvent(ctx, tx, "task.cancelled", row) };
  });
  if (!outcome.event) throw conflict(`Only a scheduled activity can be cancelled; this one is ${outcome.row.status}`);
  ctx.events.publish([outcome.event]);
  return outcome.row;
}

// ---- reading ----

export interface ActivityFilters {
  leadId?: string;
  status?: string;
  type?: string;
  updatedSince?: Date;
}

/** Malformed filters are 400 (checked by the transport); a well-formed unknown status or type is 422. */
function filterWhere(scope: LeadScope, f: ActivityFilters): Prisma.ActivityWhereInput | null {
  if (f.status !== undefined && !(ACTIVITY_STATUSES as readonly string[]).includes(f.status)) {
    throw validationError(`status must be one of ${ACTIVITY_STATUSES.join(", ")}`, "status");
  }
  if (f.type !== undefined && !(ACTIVITY_TYPES as readonly string[]).includes(f.type)) {
    throw validationError(`Unknown activity type: must be one of ${ACTIVITY_TYPES.join(", ")}`, "type");
  }
  // Another workspace's lead matches nothing, and says nothing about whether it exists.
  if (f.leadId !== undefined && !isUuid(f.leadId)) return null;
  return {
    ...activityWhere(scope),
    ...(f.leadId !== undefined ? { leadId: f.leadId } : {}),
    ...(f.status !== undefined ? { status: f.status } : {}),
    ...(f.type !== undefined ? { type: f.type } : {}),
    ...(f.updatedSince ? { updatedAt: { gte: f.updatedSince } } : {}),
  };
}

const ORDER_NEWEST: Prisma.ActivityOrderByWithRelationInput[] = [{ updatedAt: "desc" }, { id: "desc" }];
/** With updatedSince a client is syncing: oldest change first, so it can page forward and resume. */
const ORDER_SYNC: Prisma.ActivityOrderByWithRelationInput[] = [{ updatedAt: "asc" }, { id: "asc" }];

/** The Prisma query of a filtered list (GraphQL pages it with cursors, REST with offsets). */
export function activitiesQuery(ctx: ServiceContext, filters: ActivityFilters): { where: Prisma.ActivityWhereInput | null; orderBy: Prisma.ActivityOrderByWithRelationInput[] } {
  const scope = activityAccess(ctx, "read");
  return { where: filterWhere(scope, filters), orderBy: filters.updatedSince ? ORDER_SYNC : ORDER_NEWEST };
}

export async function listActivities(ctx: ServiceContext, filters: ActivityFilters, page: Pagination): Promise<Page<ActivityView>> {
  const { where, orderBy } = activitiesQuery(ctx, filters);
  if (!where) return { items: [], offset: page.offset, limit: page.limit, count: 0 };
  const [rows, count] = await Promise.all([
    ctx.db.activity.findMany({ where, orderBy, skip: page.offset, take: page.limit }),
    ctx.db.activity.count({ where }),
  ]);
  return { items: rows.map(activityView), offset: page.offset, limit: page.limit, count };
}

export async function findActivity(ctx: ServiceContext, id: string): Promise<Activity> {
  return scopedActivity(ctx, activityAccess(ctx, "read"), id);
}

export async function getActivity(ctx: ServiceContext, id: string): Promise<ActivityDetail> {
  const row = await findActivity(ctx, id);
  const [execution, lead] = await Promise.all([
    activityExecution(ctx, row),
    row.leadId ? ctx.db.lead.findUnique({ where: { id: row.leadId }, select: { id: true, name: true, email: true, company: true, stage: true } }) : null,
  ]);
  return { ...activityView(row), lead, execution };
}
