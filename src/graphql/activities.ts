import DataLoader from "dataloader";
import { builder, type GraphQLContext } from "./builder.ts";
import { LeadRef } from "./leads.ts";
import { LEAD_INCLUDE, type LeadRow } from "../services/leads-view.ts";
import { validationError } from "../errors.ts";
import { activitiesQuery, cancelActivity, findActivity, isIsoDateTime, scheduleActivity } from "../services/activities.ts";
import { activityExecution, type ActivityExecution } from "../services/activities-view.ts";

// Agent tasks in GraphQL: the same service as GET /api/v1/activities, plus scheduling and
// cancelling. Reading needs tasks:read (developer keys) or read_all (a scenario token: its widget's
// leads); scheduling and cancelling act on the lead: leads:write or write_all.

const ExecutionRef = builder.objectRef<ActivityExecution>("ActivityExecution").implement({
  description: "How the job behind a task went",
  fields: (t) => ({
    jobId: t.exposeID("jobId", { nullable: true }),
    attempts: t.exposeInt("attempts", { description: "Tries so far" }),
    maxAttempts: t.exposeInt("maxAttempts", { description: "Tries before the task fails" }),
    nextAttemptAt: t.field({ type: "DateTime", nullable: true, description: "When it runs next (scheduled, or retrying)", resolve: (e) => (e.nextAttemptAt ? new Date(e.nextAttemptAt) : null) }),
    lastError: t.exposeString("lastError", { nullable: true }),
    durationMs: t.exposeInt("durationMs", { nullable: true }),
  }),
});

/** A task's lead, batched per request (the task was checked against the caller already). */
const leadLoaders = new WeakMap<object, DataLoader<string, LeadRow | null>>();
function leadOf(ctx: GraphQLContext, id: string) {
  let loader = leadLoaders.get(ctx.loaders);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const rows = await ctx.db.lead.findMany({ where: { id: { in: [...ids] } }, include: LEAD_INCLUDE });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((i) => byId.get(i) ?? null);
    });
    leadLoaders.set(ctx.loaders, loader);
  }
  return loader.load(id);
}

export const ActivityRef = builder.prismaObject("Activity", {
  description: "An agent task about a lead: scheduled → running → completed | failed (or cancelled before it ran)",
  fields: (t) => ({
    id: t.exposeID("id"),
    type: t.exposeString("type", { description: "follow_up (drafts an email to the lead) | qualification (score and BANT) | crm_sync | email (sending an approved email)" }),
    status: t.exposeString("status", { description: "scheduled | running | completed | failed | cancelled" }),
    leadId: t.exposeID("leadId", { nullable: true }),
    lead: t.field({ type: LeadRef, nullable: true, resolve: (a, _args, ctx) => (a.leadId ? leadOf(ctx, a.leadId) : null) }),
    conversationId: t.exposeID("conversationId", { nullable: true, description: "The conversation the task is about (the lead's latest when scheduled)" }),
    assignedMember: t.relation("assignedMember", { nullable: true, description: "Who scheduled it (tasks run by the system on their behalf)" }),
    scheduledAt: t.expose("scheduledAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
    input: t.expose("input", { type: "JSON" }),
    result: t.expose("result", { type: "JSON", nullable: true, description: "What the task produced" }),
    error: t.exposeString("error", { nullable: true, description: "Why the last try failed" }),
    execution: t.field({ type: ExecutionRef, resolve: (a, _args, ctx) => activityExecution(ctx, a) }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

builder.queryFields((t) => ({
  activities: t.prismaConnection({
    type: "Activity",
    cursor: "id",
    description: "Agent tasks, newest change first (oldest first with updatedSince, to sync). tasks:read (developer keys) or read_all",
    authScopes: { authenticated: true },
    args: {
      leadId: t.arg.id(),
      status: t.arg.string({ description: "scheduled | running | completed | failed | cancelled" }),
      type: t.arg.string({ description: "follow_up | qualification | crm_sync | email" }),
      updatedSince: t.arg.string({ description: "ISO 8601 date-time with a time zone; inclusive" }),
    },
    totalCount: (_root, args, ctx) => {
      const { where } = activitiesQuery(ctx, filtersOf(args));
      return where ? ctx.db.activity.count({ where }) : 0;
    },
    resolve: (query, _root, args, ctx) => {
      const { where, orderBy } = activitiesQuery(ctx, filtersOf(args));
      return where ? ctx.db.activity.findMany({ ...query, where, orderBy }) : [];
    },
  }),
  activity: t.prismaField({
    type: "Activity",
    description: "One agent task with its execution and result",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await findActivity(ctx, String(args.id));
      return ctx.db.activity.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
}));

function filtersOf(args: { leadId?: string | number | null; status?: string | null; type?: string | null; updatedSince?: string | null }) {
  if (args.updatedSince != null && !isIsoDateTime(args.updatedSince)) {
    throw validationError("updatedSince: must be an ISO 8601 date-time with a time zone, e.g. 2026-01-15T10:30:00Z", "updatedSince");
  }
  return {
    leadId: args.leadId != null ? String(args.leadId) : undefined,
    status: args.status ?? undefined,
    type: args.type ?? undefined,
    updatedSince: args.updatedSince != null ? new Date(args.updatedSince) : undefined,
  };
}

builder.mutationFields((t) => ({
  scheduleActivity: t.prismaField({
    type: "Activity",
    description:
      "Schedules an agent task about a lead, run at scheduledAt (ISO 8601 with a time zone; default now) by the job runner: follow_up drafts an " +
      "email to the lead for approval (input: {instructions?}), qualification updates the lead's score and BANT from its conversations, " +
      "crm_sync records what it would export (no CRM is connected; input: {target?}). Writes task.created. leads:write or write_all",
    authScopes: { authenticated: true },
    args: {
      leadId: t.arg.id({ required: true }),
      type: t.arg.string({ required: true }),
      scheduledAt: t.arg.string(),
      input: t.arg({ type: "JSON" }),
    },
    resolve: async (query, _root, args, ctx) => {
      const row = await scheduleActivity(ctx, { ...args, leadId: String(args.leadId) });
      return ctx.db.activity.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  cancelActivity: t.prismaField({
    type: "Activity",
    description: "Calls off a scheduled task (status cancelled, task.cancelled); one already running or finished is CONFLICT. leads:write or write_all",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await cancelActivity(ctx, String(args.id));
      return ctx.db.activity.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
}));

builder.objectField(LeadRef, "activities", (t) =>
  t.prismaField({
    type: ["Activity"],
    description: "The lead's task history, oldest first (as GET /api/v1/leads/:id has it)",
    resolve: (query, lead, _args, ctx) =>
      ctx.db.activity.findMany({ ...query, where: { leadId: lead.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
  }),
);
