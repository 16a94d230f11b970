import { isUniqueViolation } from "../db/sql.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import { AppError, conflict, notFound, validationError } from "../errors.ts";
import type { Prisma } from "../generated/sqlite/client.ts";
import type { ServiceContext } from "./context.ts";
import { isUuid, leadAccess, leadWhere, scopedLeadId, type LeadScope } from "./leads-access.ts";
import { dedupeKeyOf, LeadPatch, NewLead, type LeadFilters } from "./leads-input.ts";
import { initialStage, leadStagesOf, requireKnownStage } from "./leads-stages.ts";
import { LEAD_INCLUDE, leadView, recordLeadCreated, recordLeadUpdated, TEMPERATURES, type LeadActor, type LeadRow, type LeadView, type Tx } from "./leads-view.ts";
import type { Page, Pagination } from "./pagination.ts";
import { parseInput } from "./validation.ts";

// Leads: listed, read, created and edited by operators and CRM scripts (REST and GraphQL alike).
// Every change leaves lead.created / lead.updated / lead.stage_changed in the outbox, in its
// transaction, and an audit entry naming who made it.

const ORDER_NEWEST: Prisma.LeadOrderByWithRelationInput[] = [{ updatedAt: "desc" }, { id: "desc" }];
/** With updatedSince a client is syncing: oldest change first, so it can page forward and resume. */
const ORDER_SYNC: Prisma.LeadOrderByWithRelationInput[] = [{ updatedAt: "asc" }, { id: "asc" }];

async function checkFilters(ctx: ServiceContext, scope: LeadScope, f: LeadFilters): Promise<Prisma.LeadWhereInput | null> {
  if (f.temperature !== undefined && !(TEMPERATURES as readonly string[]).includes(f.temperature)) {
    throw validationError(`temperature must be one of ${TEMPERATURES.join(", ")}`, "temperature");
  }
  if (f.stage !== undefined) requireKnownStage(await leadStagesOf(ctx.db, scope.workspaceId), f.stage);
  // A widget or member that isn't the caller's matches nothing (and reveals nothing).
  if (f.widgetId !== undefined && (!isUuid(f.widgetId) || (scope.scenarioId && f.widgetId !== scope.scenarioId))) return null;
  const assigned = f.assignedTo === "unassigned" ? null : f.assignedTo;
  if (assigned && !isUuid(assigned)) return null;
  return {
    ...leadWhere(scope),
    ...(f.widgetId !== undefined ? { scenarioId: f.widgetId } : {}),
    ...(f.stage !== undefined ? { stage: f.stage } : {}),
    ...(f.temperature !== undefined ? { temperature: f.temperature } : {}),
    ...(f.assignedTo !== undefined ? { assignedMemberId: assigned } : {}),
    ...(f.updatedSince ? { updatedAt: { gte: f.updatedSince } } : {}),
  };
}

/** One page of the caller's leads; updatedSince is inclusive. */
export async function leadsPage(ctx: ServiceContext, filters: LeadFilters, page: Pagination): Promise<{ items: LeadRow[]; count: number }> {
  const scope = leadAccess(ctx, "read");
  const where = await checkFilters(ctx, scope, filters);
  if (!where) return { items: [], count: 0 };
  const [items, count] = await Promise.all([
    ctx.db.lead.findMany({
      where,
      include: LEAD_INCLUDE,
      orderBy: filters.updatedSince ? ORDER_SYNC : ORDER_NEWEST,
      skip: page.offset,
      take: page.limit,
    }),
    ctx.db.lead.count({ where }),
  ]);
  return { items, count };
}

export async function listLeads(ctx: ServiceContext, filters: LeadFilters, page: Pagination): Promise<Page<LeadView>> {
  const { items, count } = await leadsPage(ctx, filters, page);
  return { items: items.map(leadView), offset: page.offset, limit: page.limit, count };
}

export async function findLead(ctx: ServiceContext, id: string): Promise<LeadRow> {
  const scope = leadAccess(ctx, "read");
  if (!isUuid(id)) throw notFound("Lead");
  const row = await ctx.db.lead.findFirst({ where: { id, ...leadWhere(scope) }, include: LEAD_INCLUDE });
  if (!row) throw notFound("Lead");
  return row;
}

export interface LeadTaskView {
  id: string;
  type: string;
  status: string;
  conversationId: string | null;
  assignedTo: string | null;
  scheduledAt: string;
  startedAt: string | null;
  completedAt: string | null;
  result: unknown;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The full record: the lead with its task history (the activities about it, oldest first). */
export async function getLead(ctx: ServiceContext, id: string): Promise<LeadView & { activities: LeadTaskView[] }> {
  const row = await findLead(ctx, id);
  const tasks = await ctx.db.activity.findMany({ where: { leadId: row.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return {
    ...leadView(row),
    activities: tasks.map((a) => ({
      id: a.id,
      type: a.type,
      status: a.status,
      conversationId: a.conversationId,
      assignedTo: a.assignedMemberId,
      scheduledAt: a.scheduledAt.toISOString(),
      startedAt: a.startedAt?.toISOString() ?? null,
      completedAt: a.completedAt?.toISOString() ?? null,
      result: a.result ?? null,
      error: a.error,
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
    })),
  };
}

/** Refuses an assignment to anyone but a member of the lead's workspace. */
async function checkAssignee(ctx: ServiceContext, workspaceId: string, memberId: string | null | undefined) {
  if (!memberId) return;
  const member = isUuid(memberId) ? await ctx.loaders.member.load(memberId) : null;
  if (!member || member.workspaceId !== workspaceId) throw validationError("assignedTo: no team member with this id in the workspace", "assignedTo");
}

/** The columns a patch sets (undefined: leave as is). */
function columnsOf(patch: LeadPatch): Prisma.LeadUncheckedUpdateInput {
  const data: Prisma.LeadUncheckedUpdateInput = {};
  for (const key of ["name", "email", "phone", "company"] as const) if (patch[key] !== undefined) data[key] = patch[key];
  if (patch.stage !== undefined) data.stage = patch.stage;
  if (patch.temperature !== undefined) data.temperature = patch.temperature;
  if (patch.score !== undefined) data.score = patch.score;
  if (patch.tags !== undefined) data.tags = patch.tags;
  if (patch.assignedTo !== undefined) data.assignedMemberId = patch.assignedTo;
  if (patch.bant) for (const key of ["budget", "authority", "need", "timeline"] as const) if (patch.bant[key] !== undefined) data[key] = patch.bant[key];
  return data;
}

const duplicate = (key: string) =>
  conflict(key.startsWith("email:") ? "Another lead in this workspace has this email address" : "Another lead in this workspace has this phone number");

/**
 * Applies a validated patch to a lead of the workspace: stage and assignee checked against the
 * workspace, the dedupe key kept in step with email and phone, the events (and, with an actor, the
 * audit entry) in the same transaction. For jobs (qualification) as much as for the APIs.
 */
export async function changeLead(ctx: ServiceContext, workspaceId: string, leadId: string, patch: LeadPatch, actor: LeadActor | null): Promise<LeadRow> {
  if (patch.stage !== undefined) requireKnownStage(await leadStagesOf(ctx.db, workspaceId), patch.stage);
  await checkAssignee(ctx, workspaceId, patch.assignedTo);
  const data = columnsOf(patch);
  try {
    const { row, events } = await ctx.db.$transaction(async (tx): Promise<{ row: LeadRow; events: DomainEventRecord[] }> => {
      const before = await tx.lead.findUniqueOrThrow({ where: { id: leadId }, include: LEAD_INCLUDE });
      if (patch.email !== undefined || patch.phone !== undefined) {
        const key = dedupeKeyOf(patch.email !== undefined ? patch.email : before.email, patch.phone !== undefined ? patch.phone : before.phone);
        // Checked first: on PostgreSQL a failed statement would abort the whole transaction.
        if (key && (await tx.lead.findFirst({ where: { workspaceId, dedupeKey: key, id: { not: leadId } }, select: { id: true } }))) throw duplicate(key);
        data.dedupeKey = key;
      }
      const row = await tx.lead.update({ where: { id: leadId }, data, include: LEAD_INCLUDE });
      return { row, events: await recordLeadUpdated(ctx, tx, before, row, actor) };
    });
    ctx.events.publish(events);
    return row;
  } catch (err) {
    if (!(err instanceof AppError) && isUniqueViolation(err)) throw conflict("Another lead in this workspace has this email address or phone number");
    throw err;
  }
}

/** PATCH /api/v1/leads/:id and updateLead. */
export async function updateLead(ctx: ServiceContext, id: string, input: unknown): Promise<LeadRow> {
  const scope = leadAccess(ctx, "write");
  const patch = parseInput(LeadPatch, input);
  const leadId = await scopedLeadId(ctx, scope, id);
  return changeLead(ctx, scope.workspaceId, leadId, patch, { memberId: scope.memberId, credentialId: scope.credentialId });
}

/** A lead written by hand (GraphQL createLead): source graphql, optionally tied to a widget and a conversation. */
export async function createLead(ctx: ServiceContext, input: unknown, source: "graphql" | "api" = "graphql"): Promise<LeadRow> {
  const scope = leadAccess(ctx, "write");
  const args = parseInput(NewLead, input);
  const { workspaceId } = scope;
  let scenarioId = args.widgetId ?? scope.scenarioId;
  if (scenarioId) {
    const scenario = isUuid(scenarioId) ? await ctx.loaders.scenario.load(scenarioId) : null;
    if (!scenario || scenario.workspaceId !== workspaceId || (scope.scenarioId && scenario.id !== scope.scenarioId)) throw notFound("Widget");
    scenarioId = scenario.id;
  }
  let conversationId: string | null = null;
  if (args.conversationId) {
    const conversation = isUuid(args.conversationId) ? await ctx.db.conversation.findUnique({ where: { id: args.conversationId }, select: { id: true, scenarioId: true } }) : null;
    const owner = conversation ? await ctx.loaders.scenario.load(conversation.scenarioId) : null;
    if (!conversation || owner?.workspaceId !== workspaceId || (scope.scenarioId && conversation.scenarioId !== scope.scenarioId)) throw notFound("Conversation");
    conversationId = conversation.id;
    scenarioId ??= conversation.scenarioId;
  }
  const stages = await leadStagesOf(ctx.db, workspaceId);
  if (args.stage !== undefined) requireKnownStage(stages, args.stage);
  await checkAssignee(ctx, workspaceId, args.assignedTo);
  const dedupeKey = dedupeKeyOf(args.email ?? null, args.phone ?? null);
  const now = ctx.clock();
  try {
    const { row, events } = await ctx.db.$transaction(async (tx: Tx) => {
      if (dedupeKey && (await tx.lead.findFirst({ where: { workspaceId, dedupeKey }, select: { id: true } }))) throw duplicate(dedupeKey);
      const row = await tx.lead.create({
        data: {
          ...(columnsOf(args) as Prisma.LeadUncheckedCreateInput),
          workspaceId,
          scenarioId: scenarioId ?? null,
          stage: args.stage ?? initialStage(stages),
          tags: args.tags ?? [],
          source,
          dedupeKey,
          createdAt: now,
          updatedAt: now,
          ...(conversationId ? { conversations: { create: { conversationId, createdAt: now } } } : {}),
        },
        include: LEAD_INCLUDE,
      });
      return { row, events: await recordLeadCreated(ctx, tx, row, { memberId: scope.memberId, credentialId: scope.credentialId }) };
    });
    ctx.events.publish(events);
    return row;
  } catch (err) {
    if (!(err instanceof AppError) && isUniqueViolation(err)) throw dedupeKey ? duplicate(dedupeKey) : conflict("The lead was created twice at once");
    throw err;
  }
}
