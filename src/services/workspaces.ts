import { z } from "zod";
import { DEVELOPER_SCOPES } from "../auth/scopes.ts";
import { conflict, notFound } from "../errors.ts";
import type { Db } from "../db/client.ts";
import type { ServiceContext } from "./context.ts";
import { requirePrincipal, requireWorkspaceAdmin } from "./access.ts";
import { createKey, createScenarioToken } from "./credentials.ts";
import { parseInput } from "./validation.ts";

export const CreateScenarioInput = z.object({
  workspaceId: z.string().min(1).optional(),
  name: z.string().trim().min(1, "name is required").max(200),
});

export const CreateTeamMemberInput = z.object({
  workspaceId: z.string().min(1).optional(),
  name: z.string().trim().min(1, "name is required").max(200),
  email: z.email().max(320).optional(),
  kind: z.enum(["human", "external_agent"]).default("human"),
});

/** A new scenario, with its default assistant settings. */
export async function createScenario(ctx: ServiceContext, input: unknown) {
  const args = parseInput(CreateScenarioInput, input);
  const workspaceId = requireWorkspaceAdmin(ctx, args.workspaceId) ?? args.workspaceId;
  if (!workspaceId || !(await ctx.db.workspace.findUnique({ where: { id: workspaceId } }))) throw notFound("Workspace");
  const { scenario, event } = await ctx.db.$transaction(async (tx) => {
    const scenario = await tx.scenario.create({
      data: { workspaceId, name: args.name, chatbotSettings: { create: { aiCommands: [] } }, knowledgeBase: { create: {} } },
    });
    const event = await ctx.events.record(tx, {
      workspaceId,
      scenarioId: scenario.id,
      type: "scenario.created",
      payload: { scenarioId: scenario.id, name: scenario.name },
    });
    return { scenario, event };
  });
  ctx.events.publish([event]);
  return scenario;
}

export async function createTeamMember(ctx: ServiceContext, input: unknown) {
  const args = parseInput(CreateTeamMemberInput, input);
  const workspaceId = requireWorkspaceAdmin(ctx, args.workspaceId) ?? args.workspaceId;
  if (!workspaceId || !(await ctx.db.workspace.findUnique({ where: { id: workspaceId } }))) throw notFound("Workspace");
  if (args.email && (await ctx.db.teamMember.findFirst({ where: { workspaceId, email: args.email } }))) {
    throw conflict("A team member with this email already exists");
  }
  return ctx.db.$transaction(async (tx) => {
    const userId = await nextMemberUserId(tx, workspaceId);
    return tx.teamMember.create({ data: { workspaceId, userId, name: args.name, email: args.email, kind: args.kind } });
  });
}

/**
 * The next per-workspace integer id of a team member (the Quickchat dialect's operator ids, e.g.
 * routing_profiles[].user_ids). Call inside the transaction that creates the member: the counter's
 * row lock serialises concurrent creations, so ids stay unique.
 */
export async function nextMemberUserId(tx: Pick<Db, "workspace">, workspaceId: string): Promise<number> {
  const ws = await tx.workspace.update({ where: { id: workspaceId }, data: { memberCount: { increment: 1 } }, select: { memberCount: true } });
  return ws.memberCount;
}

/** The workspace the caller acts in. */
export async function currentWorkspace(ctx: ServiceContext) {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "system") throw notFound("Workspace");
  return ctx.db.workspace.findUniqueOrThrow({ where: { id: p.workspaceId } });
}

export interface InitResult {
  created: boolean;
  workspaceId: string;
  scenarioId: string;
  tokens: { readAll: string; writeAll: string };
  developerKey: string;
  widgetKey: string;
  legacyApiKey: string;
}

/**
 * Idempotent first-run set-up: when the database has no workspace, creates one with one scenario.
 * Every run issues fresh credentials for the default (first) scenario. Runs as the system principal.
 */
export async function initialize(ctx: ServiceContext): Promise<InitResult> {
  let created = false;
  let scenario = await ctx.db.scenario.findFirst({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  if (!scenario) {
    // Serialises two first starts on one database: the second finds the first's workspace. On
    // SQLite the write transaction does it (BEGIN IMMEDIATE); PostgreSQL's READ COMMITTED lets both
    // see no scenario, so a transaction-scoped advisory lock makes the second wait for the first.
    scenario = await ctx.db.$transaction(async (tx) => {
      if (ctx.provider === "postgres") await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(727301)");
      const existing = await tx.scenario.findFirst({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      if (existing) return existing;
      const workspace = await tx.workspace.create({ data: { name: "Default workspace" } });
      return tx.scenario.create({
        data: {
          workspaceId: workspace.id,
          name: "Default assistant",
          chatbotSettings: { create: { aiCommands: [] } },
          knowledgeBase: { create: {} },
        },
      });
    });
    created = true;
  }
  const sid = scenario.id;
  const [readAll, writeAll, developer, widget, legacy] = await Promise.all([
    createScenarioToken(ctx, { scenarioId: sid, scope: "read_all", label: "init" }),
    createScenarioToken(ctx, { scenarioId: sid, scope: "write_all", label: "init" }),
    createKey(ctx, { kind: "developer", workspaceId: scenario.workspaceId, scopes: [...DEVELOPER_SCOPES], label: "init" }),
    createKey(ctx, { kind: "widget", scenarioId: sid, label: "init" }),
    createKey(ctx, { kind: "legacy", scenarioId: sid, label: "init" }),
  ]);
  return {
    created,
    workspaceId: scenario.workspaceId,
    scenarioId: sid,
    tokens: { readAll: readAll.secret, writeAll: writeAll.secret },
    developerKey: developer.secret,
    widgetKey: widget.secret,
    legacyApiKey: legacy.secret,
  };
}
