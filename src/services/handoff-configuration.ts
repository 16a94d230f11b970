import type { Db } from "../db/client.ts";
import type { Prisma } from "../generated/sqlite/client.ts";
import { validationError } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import { auditActor, recordAudit } from "./audit.ts";
import { forgetHandoffConfiguration } from "./handoff-cache.ts";
import type { ServiceContext } from "./context.ts";
import {
  DEFAULT_SETTINGS,
  defaultGenericGuideline,
  GENERIC_GUIDELINE_NAMES,
  HandoffConfigurationInput,
  type GenericGuidelineName,
  type HandoffConfigurationJson,
  type HandoffConfigurationUpdate,
  type StoredSettings,
} from "./handoff-config-input.ts";
import { parseInput } from "./validation.ts";

export * from "./handoff-config-input.ts";
export { isWithinWorkingHours } from "./handoff-working-hours.ts";

type Tx = Prisma.TransactionClient;
type Reader = Pick<Db, "handoffConfiguration" | "handoffAvailabilitySlot" | "handoffGenericGuideline" | "handoffCustomGuideline" | "handoffRoutingProfile">;

/**
 * A scenario's handoff configuration as the documented JSON, defaults filled in; no access check
 * (for the chat flow and other services; callers have already resolved the scenario).
 */
export async function loadHandoffConfiguration(db: Reader, scenarioId: string): Promise<HandoffConfigurationJson> {
  // One query per table, one after the other: inside a transaction on PostgreSQL, a single query
  // with sibling relations makes Prisma send them concurrently on the one connection.
  const where = { scenarioId };
  const c = await db.handoffConfiguration.findUnique({ where });
  const slots = await db.handoffAvailabilitySlot.findMany({ where, orderBy: { id: "asc" } });
  const genericRows = await db.handoffGenericGuideline.findMany({ where });
  const custom = await db.handoffCustomGuideline.findMany({ where, orderBy: { id: "asc" } });
  const profiles = await db.handoffRoutingProfile.findMany({
    where,
    orderBy: { id: "asc" },
    include: { members: { include: { member: { select: { userId: true } } } } },
  });
  const settings: StoredSettings = c
    ? {
        is_active: c.isActive,
        keywords: c.keywords as string[],
        ai_summary_active: c.aiSummaryActive,
        question_message: c.questionMessage,
        confirmation_message: c.confirmationMessage,
        confirmation_outside_working_hours_message: c.confirmationOutsideWorkingHoursMessage,
        working_hours_active: c.workingHoursActive,
        timezone: c.timezone,
        send_email_notification: c.sendEmailNotification,
        emails: c.emails as string[],
      }
    : DEFAULT_SETTINGS;
  const routing_profiles = profiles.map((p) => ({
    id: p.id,
    name: p.name,
    description: p.description,
    is_active: p.isActive,
    user_ids: p.members.flatMap((m) => (m.member.userId === null ? [] : [m.member.userId])).sort((a, b) => a - b),
  }));
  const generic = new Map(genericRows.map((g) => [g.name, g]));
  return {
    settings: { ...settings, topic_based_routing_active: routing_profiles.some((p) => p.is_active) },
    availability: slots.map((a) => ({ id: a.id, day_span: a.daySpan, start_time: a.startTime, end_time: a.endTime })),
    generic_guidelines: GENERIC_GUIDELINE_NAMES.map((name) => {
      const g = generic.get(name);
      return g ? { name, description: g.description, is_active: g.isActive } : defaultGenericGuideline(name);
    }),
    custom_guidelines: custom.map((g) => ({ id: g.id, name: g.name, description: g.description, is_active: g.isActive })),
    routing_profiles,
  };
}

/** The members a routing profile notifies (with their emails), in user id order. */
export async function routingProfileMembers(db: Pick<Db, "teamMember">, profileId: number) {
  return db.teamMember.findMany({ where: { routingProfiles: { some: { profileId } } }, orderBy: { userId: "asc" } });
}

export async function getHandoffConfiguration(ctx: ServiceContext, forScenario?: string): Promise<HandoffConfigurationJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  return loadHandoffConfiguration(ctx.db, scenarioId);
}

/**
 * Replaces the configuration with the document sent (see HandoffConfigurationInput for what a left-out
 * section or item means). Every check passes before anything is written; a change is audited and
 * published as handoff_configuration.updated.
 */
export async function updateHandoffConfiguration(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<HandoffConfigurationJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const update = parseInput(HandoffConfigurationInput, input);
  const { workspaceId } = (await ctx.loaders.scenario.load(scenarioId))!;
  const { after, event } = await ctx.db.$transaction(async (tx) => {
    // Writing the settings row first takes its lock (PostgreSQL), so concurrent PUTs run one after
    // the other instead of deleting each other's new items.
    await lockConfiguration(tx, scenarioId, ctx.clock());
    const before = await loadHandoffConfiguration(tx, scenarioId);
    const settings: StoredSettings = { ...withoutDerived(before.settings), ...withoutDerived(update.settings ?? {}) };
    checkIds(update, before);
    const members = await resolveUserIds(tx, workspaceId, update);
    const slotCount = update.availability?.length ?? before.availability.length;
    if (settings.working_hours_active && slotCount === 0) {
      const field = update.settings?.working_hours_active !== undefined ? "settings.working_hours_active" : "availability";
      throw validationError(`${field}: working hours need at least one availability slot`, field);
    }

    await writeSettings(tx, scenarioId, settings);
    await writeLists(tx, scenarioId, update, members);
    const after = await loadHandoffConfiguration(tx, scenarioId);
    const changes = describeChanges(before, after);
    if (!changes) return { after, event: null };
    await recordAudit(tx, { workspaceId, scenarioId, ...auditActor(ctx.principal), action: "handoff_configuration.updated", details: changes });
    const event = await ctx.events.record(tx, {
      workspaceId,
      scenarioId,
      type: "handoff_configuration.updated",
      payload: { scenarioId, sections: Object.keys(changes) },
    });
    return { after, event };
  });
  forgetHandoffConfiguration(scenarioId);
  if (event) ctx.events.publish([event]);
  return after;
}

function withoutDerived<T extends { topic_based_routing_active?: unknown }>(s: T): Omit<T, "topic_based_routing_active"> {
  const { topic_based_routing_active: _ignored, ...rest } = s;
  return rest;
}

const LISTS = [
  ["availability", "availability slot"],
  ["custom_guidelines", "custom guideline"],
  ["routing_profiles", "routing profile"],
] as const;

/** An id must name an item of the same list of this scenario: anything else is a 422, never a write. */
function checkIds(update: HandoffConfigurationUpdate, before: HandoffConfigurationJson) {
  for (const [list, what] of LISTS) {
    const known = new Set(before[list].map((item) => item.id));
    update[list]?.forEach((item, i) => {
      if (item.id != null && !known.has(item.id)) {
        throw validationError(`${list}.${i}.id: no ${what} with id ${item.id} in this configuration`, `${list}.${i}.id`);
      }
    });
  }
}

/** user_ids → member ids; every id must be a team member of the scenario's workspace. */
async function resolveUserIds(tx: Tx, workspaceId: string, update: HandoffConfigurationUpdate): Promise<Map<number, string>> {
  const wanted = [...new Set((update.routing_profiles ?? []).flatMap((p) => p.user_ids))];
  if (!wanted.length) return new Map();
  const rows = await tx.teamMember.findMany({ where: { workspaceId, userId: { in: wanted } }, select: { id: true, userId: true } });
  const members = new Map(rows.map((r) => [r.userId!, r.id]));
  update.routing_profiles!.forEach((p, i) => {
    const unknown = p.user_ids.find((id) => !members.has(id));
    if (unknown !== undefined) {
      throw validationError(`routing_profiles.${i}.user_ids: ${unknown} is not a team member of this workspace`, `routing_profiles.${i}.user_ids`);
    }
  });
  return members;
}

/** Touches (or creates, with the defaults) the settings row: an update that changes no setting. */
async function lockConfiguration(tx: Tx, scenarioId: string, now: Date) {
  await tx.handoffConfiguration.upsert({ where: { scenarioId }, create: { scenarioId, ...settingsData(DEFAULT_SETTINGS) }, update: { updatedAt: now } });
}

function settingsData(s: StoredSettings) {
  return {
    isActive: s.is_active,
    keywords: s.keywords,
    aiSummaryActive: s.ai_summary_active,
    questionMessage: s.question_message,
    confirmationMessage: s.confirmation_message,
    confirmationOutsideWorkingHoursMessage: s.confirmation_outside_working_hours_message,
    workingHoursActive: s.working_hours_active,
    timezone: s.timezone,
    sendEmailNotification: s.send_email_notification,
    emails: s.emails,
  };
}

async function writeSettings(tx: Tx, scenarioId: string, s: StoredSettings) {
  await tx.handoffConfiguration.update({ where: { scenarioId }, data: settingsData(s) });
}

async function writeLists(tx: Tx, scenarioId: string, u: HandoffConfigurationUpdate, members: Map<number, string>) {
  for (const g of u.generic_guidelines ?? []) {
    const base = defaultGenericGuideline(g.name as GenericGuidelineName);
    await tx.handoffGenericGuideline.upsert({
      where: { scenarioId_name: { scenarioId, name: g.name } },
      create: { scenarioId, name: g.name, description: g.description ?? base.description, isActive: g.is_active ?? base.is_active },
      update: { description: g.description, isActive: g.is_active },
    });
  }
  if (u.availability) {
    const keep = u.availability.flatMap((a) => (a.id != null ? [a.id] : []));
    await tx.handoffAvailabilitySlot.deleteMany({ where: { scenarioId, id: { notIn: keep } } });
    for (const a of u.availability) {
      const data = { daySpan: a.day_span, startTime: a.start_time, endTime: a.end_time };
      if (a.id != null) await tx.handoffAvailabilitySlot.update({ where: { id: a.id }, data });
      else await tx.handoffAvailabilitySlot.create({ data: { scenarioId, ...data } });
    }
  }
  if (u.custom_guidelines) {
    const keep = u.custom_guidelines.flatMap((g) => (g.id != null ? [g.id] : []));
    await tx.handoffCustomGuideline.deleteMany({ where: { scenarioId, id: { notIn: keep } } });
    for (const g of u.custom_guidelines) {
      const data = { name: g.name, description: g.description, isActive: g.is_active };
      if (g.id != null) await tx.handoffCustomGuideline.update({ where: { id: g.id }, data });
      else await tx.handoffCustomGuideline.create({ data: { scenarioId, ...data } });
    }
  }
  if (u.routing_profiles) {
    const keep = u.routing_profiles.flatMap((p) => (p.id != null ? [p.id] : []));
    await tx.handoffRoutingProfile.deleteMany({ where: { scenarioId, id: { notIn: keep } } });
    for (const p of u.routing_profiles) {
      const data = { name: p.name, description: p.description, isActive: p.is_active };
      const memberRows = p.user_ids.map((userId) => ({ memberId: members.get(userId)! }));
      if (p.id != null) {
        await tx.handoffRoutingProfile.update({ where: { id: p.id }, data: { ...data, members: { deleteMany: {}, create: memberRows } } });
      } else {
        await tx.handoffRoutingProfile.create({ data: { scenarioId, ...data, members: { create: memberRows } } });
      }
    }
  }
}

type ListChanges = { created?: number[]; updated?: number[]; deleted?: number[] };

/** What a PUT changed, per section, for the audit trail; null when nothing did. */
function describeChanges(before: HandoffConfigurationJson, after: HandoffConfigurationJson): Record<string, unknown> | null {
  const changes: Record<string, unknown> = {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const settings = (Object.keys(after.settings) as (keyof typeof after.settings)[]).filter((k) => !same(before.settings[k], after.settings[k]));
  if (settings.length) changes.settings = settings;
  const generic = after.generic_guidelines.filter((g, i) => !same(g, before.generic_guidelines[i])).map((g) => g.name);
  if (generic.length) changes.generic_guidelines = generic;
  for (const [list] of LISTS) {
    const old = new Map<number, unknown>(before[list].map((item) => [item.id, item]));
    const now = new Set(after[list].map((item) => item.id));
    const c: ListChanges = {};
    for (const item of after[list]) {
      if (!old.has(item.id)) (c.created ??= []).push(item.id);
      else if (!same(old.get(item.id), item)) (c.updated ??= []).push(item.id);
    }
    for (const id of old.keys()) if (!now.has(id)) (c.deleted ??= []).push(id);
    if (Object.keys(c).length) changes[list] = c;
  }
  return Object.keys(changes).length ? changes : null;
}
