import { z } from "zod";
import type { AiAction } from "../generated/sqlite/client.ts";
import { AppError, notFound, unauthenticated } from "../errors.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import { requireDeveloperScope, requirePrincipal, scenarioAccess } from "./access.ts";
import { AI_ACTION_TYPES, ConfigSchemas, isValidConfig, mergeConfig, type AiActionType, type StoredConfig } from "./ai-action-config.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput } from "./validation.ts";

export { AI_ACTION_TYPES, isValidConfig } from "./ai-action-config.ts";

/** The documented PATCH body (Quickchat): enable/disable and decorate. */
export const AiActionPatch = z
  .object({
    is_active: z.boolean(),
    icon: z.string().max(200).nullable(),
    icon_color: z.string().max(50).nullable(),
  })
  .partial()
  .strict();

const name = z.string().trim().min(1, "must not be empty").max(200);
const description = z.string().max(2000);

/** GraphQL's full update: the documented fields plus name, description and (part of) the config. */
const updateSchema = (type: AiActionType) =>
  AiActionPatch.extend({ name, description, config: ConfigSchemas[type] as z.ZodType<StoredConfig> }).partial().strict();

const createSchema = (type: AiActionType) =>
  z
    .object({
      type: z.literal(type),
      name,
      description: description.default(""),
      is_active: z.boolean().default(true),
      icon: z.string().max(200).nullable().default(null),
      icon_color: z.string().max(50).nullable().default(null),
      config: (ConfigSchemas[type] as z.ZodType<StoredConfig>).optional(),
    })
    .strict();

/** The documented snapshot (GET list item, PATCH answer). */
export function aiActionJson(a: AiAction) {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    is_active: a.isActive,
    type: a.type,
    icon: a.icon,
    icon_color: a.iconColor,
    is_valid: isValidConfig(a.type, a.config),
  };
}
export type AiActionJson = ReturnType<typeof aiActionJson>;

/**
 * An AI action id is the integer in paths. Anything that is not one (abc, 1.5, a number beyond the
 * integer column) names no action: NOT_FOUND, like an unknown integer, on REST and GraphQL alike.
 */
function actionId(id: string | number): number {
  const s = String(id);
  if (!/^\d{1,10}$/.test(s) || Number(s) > 2_147_483_647) throw notFound("AI action");
  return Number(s);
}

/**
 * The action, checked for access. Scenario tokens (and callers naming a scenario) look it up WITH
 * the scenario, so another scenario's id is NOT_FOUND. A developer key naming only the id is checked
 * for its scope first, then for the action's scenario; another workspace's action is NOT_FOUND.
 */
async function accessibleAction(ctx: ServiceContext, id: string | number, access: "read" | "write", forScenario?: string) {
  const p = requirePrincipal(ctx.principal);
  if (forScenario !== undefined || p.kind === "scenario_token") {
    const scenarioId = await scenarioAccess(ctx, forScenario, access);
    const row = await ctx.db.aiAction.findFirst({ where: { id: actionId(id), scenarioId } });
    if (!row) throw notFound("AI action");
    return row;
  }
  if (p.kind === "developer") requireDeveloperScope(p, access === "write" ? "assistant:write" : "assistant:read");
  else if (p.kind !== "system") throw unauthenticated("Invalid credential");
  const row = await ctx.db.aiAction.findUnique({ where: { id: actionId(id) } });
  if (!row) throw notFound("AI action");
  try {
    await scenarioAccess(ctx, row.scenarioId, access);
  } catch (err) {
    if (err instanceof AppError && err.code === "NOT_FOUND") throw notFound("AI action");
    throw err;
  }
  return row;
}

async function workspaceOfScenario(ctx: ServiceContext, scenarioId: string): Promise<string> {
  return (await ctx.loaders.scenario.load(scenarioId))!.workspaceId;
}

/** A scenario's actions, oldest first. `query` lets GraphQL select what it needs (no N+1). */
export async function listAiActionRows<Q extends object>(ctx: ServiceContext, forScenario?: string, query?: Q) {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  return ctx.db.aiAction.findMany({ ...(query ?? {}), where: { scenarioId }, orderBy: { id: "asc" } }) as Promise<AiAction[]>;
}

export async function listAiActions(ctx: ServiceContext, forScenario?: string): Promise<AiActionJson[]> {
  return (await listAiActionRows(ctx, forScenario)).map(aiActionJson);
}

export async function getAiAction(ctx: ServiceContext, id: string | number, forScenario?: string): Promise<AiAction> {
  return accessibleAction(ctx, id, "read", forScenario);
}

/** Creates an action (GraphQL only: Quickchat creates them in its dashboard). May be an incomplete draft. */
export async function createAiAction(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<AiAction> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const { type } = parseInput(z.object({ type: z.enum(AI_ACTION_TYPES) }), input);
  const a = parseInput(createSchema(type), input);
  const config = mergeConfig(type, {}, a.config);
  const workspaceId = await workspaceOfScenario(ctx, scenarioId);
  const { row, event } = await ctx.db.$transaction(async (tx) => {
    const row = await tx.aiAction.create({
      data: {
        scenarioId,
        type,
        name: a.name,
        description: a.description,
        isActive: a.is_active,
        icon: a.icon,
        iconColor: a.icon_color,
        config: config as object,
      },
    });
    const event = await ctx.events.record(tx, {
      workspaceId,
      scenarioId,
      type: "ai_action.created",
      payload: { aiActionId: row.id, name: row.name, type: row.type, isValid: isValidConfig(row.type, row.config) },
    });
    return { row, event };
  });
  ctx.events.publish([event]);
  return row;
}

async function applyUpdate(ctx: ServiceContext, action: AiAction, p: z.output<ReturnType<typeof updateSchema>>): Promise<AiAction> {
  const config = p.config === undefined ? undefined : mergeConfig(action.type as AiActionType, action.config as StoredConfig, p.config as StoredConfig);
  const workspaceId = await workspaceOfScenario(ctx, action.scenarioId);
  const { row, event } = await ctx.db.$transaction(async (tx) => {
    const row = await tx.aiAction.update({
      where: { id: action.id },
      data: {
        name: p.name,
        description: p.description,
        isActive: p.is_active,
        icon: p.icon,
        iconColor: p.icon_color,
        config: config as object | undefined,
      },
    });
    const event: DomainEventRecord = await ctx.events.record(tx, {
      workspaceId,
      scenarioId: row.scenarioId,
      type: "ai_action.updated",
      payload: { aiActionId: row.id, fields: Object.keys(p), isActive: row.isActive, isValid: isValidConfig(row.type, row.config) },
    });
    return { row, event };
  });
  ctx.events.publish([event]);
  return row;
}

/** PATCH /v1/api/ai_actions/{id}: the documented fields only; answers the updated snapshot. */
export async function patchAiAction(ctx: ServiceContext, id: string | number, input: unknown, forScenario?: string): Promise<AiActionJson> {
  const action = await accessibleAction(ctx, id, "write", forScenario);
  const p = parseInput(AiActionPatch, input);
  return aiActionJson(await applyUpdate(ctx, action, p));
}

/** GraphQL: any field, including the configuration (keys sent replace, null clears, others stay). The type is fixed. */
export async function updateAiAction(ctx: ServiceContext, id: string | number, input: unknown, forScenario?: string): Promise<AiAction> {
  const action = await accessibleAction(ctx, id, "write", forScenario);
  const p = parseInput(updateSchema(action.type as AiActionType), input);
  return applyUpdate(ctx, action, p);
}

export async function deleteAiAction(ctx: ServiceContext, id: string | number, forScenario?: string): Promise<void> {
  const action = await accessibleAction(ctx, id, "write", forScenario);
  const workspaceId = await workspaceOfScenario(ctx, action.scenarioId);
  const event = await ctx.db.$transaction(async (tx) => {
    // Scoped by scenario too; a concurrent delete that got there first leaves nothing: NOT_FOUND.
    const { count } = await tx.aiAction.deleteMany({ where: { id: action.id, scenarioId: action.scenarioId } });
    if (count === 0) throw notFound("AI action");
    return ctx.events.record(tx, {
      workspaceId,
      scenarioId: action.scenarioId,
      type: "ai_action.deleted",
      payload: { aiActionId: action.id, name: action.name },
    });
  });
  ctx.events.publish([event]);
}
