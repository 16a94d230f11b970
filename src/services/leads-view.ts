import type { DomainEventRecord } from "../events/bus.ts";
import type { Lead, Prisma, TeamMember } from "../generated/sqlite/client.ts";
import { recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";

// A lead as every transport renders it (REST JSON, webhook payloads; GraphQL exposes the same
// fields), and the domain events a lead change leaves in the outbox: lead.created, lead.updated
// (any field, with what changed and the previous values) and lead.stage_changed (previousStage).

export type Tx = Prisma.TransactionClient;

export const LEAD_INCLUDE = {
  assignedMember: true,
  conversations: { select: { conversationId: true }, orderBy: { createdAt: "asc" } },
} as const satisfies Prisma.LeadInclude;

export type LeadRow = Lead & { assignedMember: TeamMember | null; conversations: { conversationId: string }[] };

export const TEMPERATURES = ["cold", "warm", "hot"] as const;
export type Temperature = (typeof TEMPERATURES)[number];
export const LEAD_SOURCES = ["prechat", "site_key", "typed", "graphql", "api"] as const;
export type LeadSource = (typeof LEAD_SOURCES)[number];

export interface LeadBant {
  budget: string | null;
  authority: string | null;
  need: string | null;
  timeline: string | null;
}

export interface LeadView {
  id: string;
  /** The widget (scenario) the lead came through. */
  widgetId: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  company: string | null;
  stage: string;
  temperature: Temperature;
  tags: string[];
  score: number;
  /** The assigned team member's id. */
  assignedTo: string | null;
  assignee: { id: string; name: string; kind: string; avatarUrl: string | null } | null;
  bant: LeadBant;
  source: string;
  conversationIds: string[];
  createdAt: string;
  updatedAt: string;
}

export const tagsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((t): t is string => typeof t === "string") : []);

export function leadView(row: LeadRow): LeadView {
  const m = row.assignedMember;
  return {
    id: row.id,
    widgetId: row.scenarioId,
    name: row.name,
    email: row.email,
    phone: row.phone,
    company: row.company,
    stage: row.stage,
    temperature: row.temperature as Temperature,
    tags: tagsOf(row.tags),
    score: row.score,
    assignedTo: row.assignedMemberId,
    assignee: m ? { id: m.id, name: m.name, kind: m.kind, avatarUrl: m.avatarUrl } : null,
    bant: { budget: row.budget, authority: row.authority, need: row.need, timeline: row.timeline },
    source: row.source,
    conversationIds: row.conversations.map((c) => c.conversationId),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The compared fields, by the name the APIs give them. */
const FIELDS: [string, (r: LeadRow) => unknown][] = [
  ["widgetId", (r) => r.scenarioId],
  ["name", (r) => r.name],
  ["email", (r) => r.email],
  ["phone", (r) => r.phone],
  ["company", (r) => r.company],
  ["stage", (r) => r.stage],
  ["temperature", (r) => r.temperature],
  ["tags", (r) => tagsOf(r.tags)],
  ["score", (r) => r.score],
  ["assignedTo", (r) => r.assignedMemberId],
  ["bant.budget", (r) => r.budget],
  ["bant.authority", (r) => r.authority],
  ["bant.need", (r) => r.need],
  ["bant.timeline", (r) => r.timeline],
  ["conversationIds", (r) => r.conversations.map((c) => c.conversationId)],
];

/** What changed between two versions of a lead, with the previous values. */
export function leadChanges(before: LeadRow, after: LeadRow): { changes: string[]; previous: Record<string, unknown> } {
  const changes: string[] = [];
  const previous: Record<string, unknown> = {};
  for (const [name, get] of FIELDS) {
    const a = get(before);
    if (JSON.stringify(a) !== JSON.stringify(get(after))) {
      changes.push(name);
      previous[name] = a;
    }
  }
  return { changes, previous };
}

/** The lead in event payloads: the view without the member object (ids only, stable to consume). */
export function leadPayload(row: LeadRow): Omit<LeadView, "assignee"> {
  const { assignee: _assignee, ...rest } = leadView(row);
  return rest;
}

export interface LeadActor {
  memberId: string | null;
  credentialId: string | null;
}

/** lead.created, in the creating transaction; an audit entry when someone (not the capture) created it. */
export async function recordLeadCreated(ctx: ServiceContext, tx: Tx, row: LeadRow, actor: LeadActor | null): Promise<DomainEventRecord[]> {
  const event = await ctx.events.record(tx, {
    workspaceId: row.workspaceId,
    scenarioId: row.scenarioId,
    type: "lead.created",
    payload: { leadId: row.id, lead: leadPayload(row) },
  });
  if (actor) {
    await recordAudit(tx, {
      workspaceId: row.workspaceId,
      scenarioId: row.scenarioId,
      ...actor,
      action: "lead.created",
      details: { leadId: row.id, source: row.source },
    });
  }
  return [event];
}

/**
 * lead.updated when anything changed, and lead.stage_changed when the stage did, in the changing
 * transaction; edits by someone (not the capture) get an audit entry with the previous values.
 */
export async function recordLeadUpdated(
  ctx: ServiceContext,
  tx: Tx,
  before: LeadRow,
  after: LeadRow,
  actor: LeadActor | null,
): Promise<DomainEventRecord[]> {
  const { changes, previous } = leadChanges(before, after);
  if (!changes.length) return [];
  const at = { workspaceId: after.workspaceId, scenarioId: after.scenarioId };
  const lead = leadPayload(after);
  const events = [await ctx.events.record(tx, { ...at, type: "lead.updated", payload: { leadId: after.id, changes, previous, lead } })];
  if (before.stage !== after.stage) {
    events.push(
      await ctx.events.record(tx, {
        ...at,
        type: "lead.stage_changed",
        payload: { leadId: after.id, stage: after.stage, previousStage: before.stage, lead },
      }),
    );
  }
  if (actor) {
    await recordAudit(tx, { ...at, ...actor, action: "lead.updated", details: { leadId: after.id, changes, previous } });
  }
  return events;
}
