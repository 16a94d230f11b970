import { forbidden, notFound, unauthenticated } from "../errors.ts";
import { requirePrincipal } from "./access.ts";
import type { ServiceContext } from "./context.ts";

// Who may see and change leads. Leads belong to the workspace: a developer key reaches all of them
// with leads:read / leads:write; a scenario token (GraphQL operators) reaches its own widget's with
// read_all / write_all. Another tenant's (or another widget's) lead is NOT_FOUND, never FORBIDDEN.

export interface LeadScope {
  workspaceId: string;
  /** Set for scenario tokens: only this widget's leads. */
  scenarioId: string | null;
  memberId: string | null;
  credentialId: string;
}

export function leadAccess(ctx: Pick<ServiceContext, "principal">, access: "read" | "write"): LeadScope {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "developer") {
    const scope = access === "write" ? "leads:write" : "leads:read";
    if (!p.scopes.has(scope)) throw forbidden(`Insufficient scope. Required: ${scope}`);
    return { workspaceId: p.workspaceId, scenarioId: null, memberId: p.memberId, credentialId: p.credentialId };
  }
  if (p.kind === "scenario_token") {
    const scope = access === "write" ? "write_all" : "read_all";
    if (!p.scopes.has(scope)) throw forbidden(`Insufficient token scope. Required: ${scope}`);
    return { workspaceId: p.workspaceId, scenarioId: p.scenarioId, memberId: p.memberId, credentialId: p.credentialId };
  }
  if (p.kind === "system") throw forbidden("Leads need a credential of their workspace");
  throw unauthenticated("Invalid credential");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

/** The Prisma filter for the leads a scope reaches. */
export const leadWhere = (scope: LeadScope) => ({ workspaceId: scope.workspaceId, ...(scope.scenarioId ? { scenarioId: scope.scenarioId } : {}) });

/** A lead of the scope, or NOT_FOUND. */
export async function scopedLeadId(ctx: Pick<ServiceContext, "db">, scope: LeadScope, id: string): Promise<string> {
  if (!isUuid(id)) throw notFound("Lead");
  const row = await ctx.db.lead.findFirst({ where: { id, ...leadWhere(scope) }, select: { id: true } });
  if (!row) throw notFound("Lead");
  return row.id;
}
