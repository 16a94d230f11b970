import { hashSecret, kindOfPresented, verifyScenarioToken } from "../auth/credentials.ts";
import type { CredentialKind, Principal, TokenScope, DeveloperScope } from "../auth/scopes.ts";
import { forbidden, notFound, unauthenticated } from "../errors.ts";
import type { ServiceContext } from "./context.ts";

type AuthContext = Pick<ServiceContext, "loaders" | "signingSecret" | "clock">;

/**
 * Resolves a presented secret to a principal, accepting only the given credential kinds.
 * Every failure is the same kind of 401 (PERMISSION_DENIED), worded for the caller.
 */
export async function authenticate(
  ctx: AuthContext,
  presented: string | undefined,
  accepted: readonly CredentialKind[],
): Promise<Principal> {
  if (!presented) throw unauthenticated("Missing credential");
  const kind = kindOfPresented(presented);
  if (!accepted.includes(kind)) throw unauthenticated("Invalid credential");
  const now = ctx.clock();
  let jti: string | undefined;
  if (kind === "scenario_token") {
    const check = await verifyScenarioToken(ctx.signingSecret, presented, now);
    if (!check.ok) throw unauthenticated(check.reason === "expired" ? "Token has expired" : "Invalid token");
    jti = check.jti;
  }
  const row = await ctx.loaders.credentialByHash.load(hashSecret(presented));
  if (!row || row.kind !== kind || (jti !== undefined && row.id !== jti)) throw unauthenticated("Invalid credential");
  if (row.revokedAt) throw unauthenticated("Credential has been revoked");
  if (row.expiresAt && row.expiresAt <= now) throw unauthenticated("Credential has expired");
  return {
    kind: row.kind,
    credentialId: row.id,
    workspaceId: row.workspaceId,
    scenarioId: row.scenarioId,
    memberId: row.memberId,
    scopes: new Set(row.scopes as string[]),
  };
}

/** Quickchat routes: a scenario token with the scope; write_all includes read_all. */
export function requireTokenScope(principal: Principal | null, scope: TokenScope): { scenarioId: string; workspaceId: string } {
  if (!principal || principal.kind !== "scenario_token") throw unauthenticated("Invalid token");
  if (!principal.scopes.has(scope)) throw forbidden(`Insufficient token scope. Required: ${scope}`);
  return { scenarioId: principal.scenarioId!, workspaceId: principal.workspaceId };
}

/** Quincer routes: a developer key with the scope. */
export function requireDeveloperScope(principal: Principal | null, scope: DeveloperScope): { workspaceId: string } {
  if (!principal || principal.kind !== "developer") throw unauthenticated("Invalid API key");
  if (!principal.scopes.has(scope)) throw forbidden(`Insufficient scope. Required: ${scope}`);
  return { workspaceId: principal.workspaceId };
}

/** Site-key routes: the widget key's scenario. */
export function requireWidgetKey(principal: Principal | null): { scenarioId: string; workspaceId: string } {
  if (!principal || principal.kind !== "widget") throw unauthenticated("Invalid site key");
  return { scenarioId: principal.scenarioId!, workspaceId: principal.workspaceId };
}

export function requirePrincipal(principal: Principal | null): Principal {
  if (!principal) throw unauthenticated("Missing credential");
  return principal;
}

/** The workspace a (non-system) principal belongs to. */
export function workspaceOf(principal: Principal): string | null {
  return principal.kind === "system" ? null : principal.workspaceId;
}

/**
 * Loads a scenario the caller may see. Another tenant's scenario is NOT_FOUND, never FORBIDDEN,
 * so ids of other workspaces reveal nothing.
 */
export async function visibleScenario(ctx: ServiceContext, scenarioId: string) {
  const scenario = await ctx.loaders.scenario.load(scenarioId);
  const p = requirePrincipal(ctx.principal);
  if (!scenario) throw notFound("Scenario");
  if (p.kind === "system") return scenario;
  if (p.workspaceId !== scenario.workspaceId) throw notFound("Scenario");
  if (p.kind !== "developer" && p.scenarioId !== scenario.id) throw notFound("Scenario");
  return scenario;
}

/**
 * Who may manage a scenario's tokens and keys: the CLI, a developer key with workspace:admin in its
 * workspace, or a write_all token of that very scenario.
 */
export async function manageableScenario(ctx: ServiceContext, scenarioId: string) {
  const scenario = await visibleScenario(ctx, scenarioId);
  const p = ctx.principal!;
  if (p.kind === "system") return scenario;
  if (p.kind === "developer" && p.scopes.has("workspace:admin")) return scenario;
  if (p.kind === "scenario_token" && p.scopes.has("write_all")) return scenario;
  throw forbidden(p.kind === "developer" ? "Insufficient scope. Required: workspace:admin" : "Insufficient token scope. Required: write_all");
}

/** Workspace-wide administration: the CLI, or a developer key with workspace:admin. */
export function requireWorkspaceAdmin(ctx: ServiceContext, workspaceId?: string): string | null {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "system") return workspaceId ?? null;
  if (p.kind !== "developer" || !p.scopes.has("workspace:admin")) {
    throw forbidden("Insufficient scope. Required: workspace:admin");
  }
  if (workspaceId !== undefined && workspaceId !== p.workspaceId) throw notFound("Workspace");
  return p.workspaceId;
}

/**
 * The scenario an assistant-configuration call acts on, checked for the access it needs. A scenario
 * token acts on its own scenario (naming another is NOT_FOUND) with read_all / write_all; a developer
 * key names a scenario of its workspace and needs assistant:read / assistant:write.
 */
export async function scenarioAccess(ctx: ServiceContext, scenarioId: string | undefined, access: "read" | "write"): Promise<string> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "scenario_token") {
    const { scenarioId: own } = requireTokenScope(p, access === "write" ? "write_all" : "read_all");
    if (scenarioId !== undefined && scenarioId !== own) throw notFound("Scenario");
    return own;
  }
  if (p.kind === "developer") requireDeveloperScope(p, access === "write" ? "assistant:write" : "assistant:read");
  else if (p.kind !== "system") throw unauthenticated("Invalid credential");
  if (scenarioId === undefined) throw notFound("Scenario");
  return (await visibleScenario(ctx, scenarioId)).id;
}
