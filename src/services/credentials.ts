import { randomUUID } from "node:crypto";
import { z } from "zod";
import { hashSecret, hintOf, newOpaqueKey, signScenarioToken } from "../auth/credentials.ts";
import { DEVELOPER_SCOPES, TOKEN_SCOPES, tokenScopes, type TokenScope } from "../auth/scopes.ts";
import { forbidden, notFound } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { manageableScenario, requirePrincipal, requireWorkspaceAdmin } from "./access.ts";
import { parseInput } from "./validation.ts";

const DAY_MS = 86_400_000;
/** Quickchat: tokens are valid 52 weeks from creation. */
export const DEFAULT_TOKEN_DAYS = 52 * 7;

export const CreateTokenInput = z.object({
  scenarioId: z.string().min(1),
  scope: z.enum(TOKEN_SCOPES),
  expiresInDays: z.number().int().min(1).max(3650).default(DEFAULT_TOKEN_DAYS),
  label: z.string().max(200).optional(),
});

export const CreateKeyInput = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("developer"),
    workspaceId: z.string().min(1).optional(),
    scopes: z.array(z.enum(DEVELOPER_SCOPES)).min(1, "at least one scope is required"),
    memberId: z.string().min(1).optional(),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
    label: z.string().max(200).optional(),
  }),
  z.object({
    kind: z.enum(["widget", "legacy"]),
    scenarioId: z.string().min(1),
    label: z.string().max(200).optional(),
  }),
]);

export interface IssuedCredential {
  id: string;
  kind: "scenario_token" | "developer" | "widget" | "legacy";
  /** The secret itself: shown once, stored only as a hash. */
  secret: string;
  scopes: string[];
  expiresAt: Date | null;
  workspaceId: string;
  scenarioId: string | null;
}

async function store(
  ctx: ServiceContext,
  c: Omit<IssuedCredential, "id"> & { id?: string; memberId?: string | null; label?: string },
): Promise<IssuedCredential> {
  const id = c.id ?? randomUUID();
  const created = await ctx.db.$transaction(async (tx) => {
    const row = await tx.credential.create({
      data: {
        id,
        kind: c.kind,
        secretHash: hashSecret(c.secret),
        hint: hintOf(c.secret),
        workspaceId: c.workspaceId,
        scenarioId: c.scenarioId,
        memberId: c.memberId ?? null,
        scopes: c.scopes,
        label: c.label ?? null,
        expiresAt: c.expiresAt,
        createdAt: ctx.clock(),
      },
    });
    const event = await ctx.events.record(tx, {
      workspaceId: c.workspaceId,
      scenarioId: c.scenarioId,
      type: "credential.created",
      payload: { credentialId: row.id, kind: row.kind },
    });
    return { row, event };
  });
  ctx.events.publish([created.event]);
  return { ...c, id };
}

export async function createScenarioToken(ctx: ServiceContext, input: unknown): Promise<IssuedCredential> {
  const args = parseInput(CreateTokenInput, input);
  const scenario = await manageableScenario(ctx, args.scenarioId);
  const now = ctx.clock();
  const id = randomUUID();
  const expiresAt = new Date(now.getTime() + args.expiresInDays * DAY_MS);
  const secret = await signScenarioToken(ctx.signingSecret, {
    id,
    scenarioId: scenario.id,
    scope: args.scope as TokenScope,
    issuedAt: now,
    expiresAt,
  });
  return store(ctx, {
    id,
    kind: "scenario_token",
    secret,
    scopes: tokenScopes(args.scope),
    expiresAt,
    workspaceId: scenario.workspaceId,
    scenarioId: scenario.id,
    label: args.label,
  });
}

export async function createKey(ctx: ServiceContext, input: unknown): Promise<IssuedCredential> {
  const args = parseInput(CreateKeyInput, input);
  if (args.kind !== "developer") {
    const scenario = await manageableScenario(ctx, args.scenarioId);
    return store(ctx, {
      kind: args.kind,
      secret: newOpaqueKey(args.kind),
      scopes: [],
      expiresAt: null,
      workspaceId: scenario.workspaceId,
      scenarioId: scenario.id,
      label: args.label,
    });
  }
  const callerWorkspace = requireWorkspaceAdmin(ctx, args.workspaceId);
  const workspaceId = callerWorkspace ?? args.workspaceId;
  if (!workspaceId) throw notFound("Workspace");
  const workspace = await ctx.db.workspace.findUnique({ where: { id: workspaceId } });
  if (!workspace) throw notFound("Workspace");
  const p = ctx.principal!;
  if (p.kind !== "system") {
    const missing = args.scopes.filter((s) => !p.scopes.has(s));
    if (missing.length) throw forbidden(`Cannot grant scopes the caller lacks: ${missing.join(", ")}`);
  }
  if (args.memberId) {
    const member = await ctx.loaders.member.load(args.memberId);
    if (!member || member.workspaceId !== workspaceId) throw notFound("Team member");
  }
  const scopes = [...new Set(args.scopes)];
  return store(ctx, {
    kind: "developer",
    secret: newOpaqueKey("developer"),
    scopes,
    expiresAt: args.expiresInDays ? new Date(ctx.clock().getTime() + args.expiresInDays * DAY_MS) : null,
    workspaceId,
    scenarioId: null,
    memberId: args.memberId ?? null,
    label: args.label,
  });
}

/** Revokes a token or key the caller manages. Revoking twice is harmless. */
export async function revokeCredential(ctx: ServiceContext, id: string) {
  const p = requirePrincipal(ctx.principal);
  const row = await ctx.db.credential.findUnique({ where: { id } });
  if (!row || (p.kind !== "system" && row.workspaceId !== p.workspaceId)) throw notFound("Credential");
  if (row.kind === "developer" || !row.scenarioId) requireWorkspaceAdmin(ctx, row.workspaceId);
  else await manageableScenario(ctx, row.scenarioId);
  if (row.revokedAt) return row;
  const { updated, event } = await ctx.db.$transaction(async (tx) => {
    const updated = await tx.credential.update({ where: { id }, data: { revokedAt: ctx.clock() } });
    const event = await ctx.events.record(tx, {
      workspaceId: row.workspaceId,
      scenarioId: row.scenarioId,
      type: "credential.revoked",
      payload: { credentialId: id, kind: row.kind },
    });
    return { updated, event };
  });
  ctx.events.publish([event]);
  return updated;
}

/**
 * The filter for credentials a caller may list: all of the workspace for admins, their own
 * scenario's for a write_all token.
 */
export function credentialScope(ctx: ServiceContext) {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "system") return {};
  if (p.kind === "developer" && p.scopes.has("workspace:admin")) return { workspaceId: p.workspaceId };
  if (p.kind === "scenario_token" && p.scopes.has("write_all")) return { scenarioId: p.scenarioId! };
  throw forbidden(p.kind === "developer" ? "Insufficient scope. Required: workspace:admin" : "Insufficient token scope. Required: write_all");
}
