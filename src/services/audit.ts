import type { Db } from "../db/client.ts";
import type { Principal } from "../auth/scopes.ts";
import { forbidden, notFound } from "../errors.ts";
import { requirePrincipal, requireTokenScope } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation } from "./conversation-access.ts";

// The audit trail: who (member and credential) did what to which conversation or configuration,
// and when. Entries are written by the service that makes the change, inside its transaction, so a
// change and its entry commit or roll back together.

export interface AuditInput {
  workspaceId: string;
  scenarioId?: string | null;
  conversationId?: string | null;
  memberId?: string | null;
  credentialId?: string | null;
  /** What happened, e.g. conversation.taken_over, handoff_configuration.updated. */
  action: string;
  details?: Record<string, unknown>;
}

type AuditTx = Pick<Db, "auditEntry">;

export async function recordAudit(tx: AuditTx, entry: AuditInput) {
  return tx.auditEntry.create({
    data: {
      workspaceId: entry.workspaceId,
      scenarioId: entry.scenarioId ?? null,
      conversationId: entry.conversationId ?? null,
      memberId: entry.memberId ?? null,
      credentialId: entry.credentialId ?? null,
      action: entry.action,
      details: (entry.details ?? {}) as object,
    },
  });
}

/** Who is acting: the credential, and the member it is bound to (none for the CLI). */
export function auditActor(principal: Principal | null): { memberId: string | null; credentialId: string | null } {
  if (!principal || principal.kind === "system") return { memberId: null, credentialId: null };
  return { memberId: principal.memberId, credentialId: principal.credentialId };
}

/**
 * Which entries a caller may read, as a Prisma filter. A conversation's trail: whoever may read the
 * conversation. The workspace trail: a developer key with workspace:admin sees the whole workspace,
 * a scenario token (read_all) its own scenario's entries. Another tenant's ids are NOT_FOUND.
 */
export async function auditScope(ctx: ServiceContext, conversationId?: string): Promise<{ workspaceId: string; scenarioId?: string; conversationId?: string }> {
  if (conversationId !== undefined) {
    const { conversation, workspaceId } = await operatorConversation(ctx, conversationId, "read");
    return { workspaceId, conversationId: conversation.id };
  }
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "scenario_token") {
    const own = requireTokenScope(p, "read_all");
    return { workspaceId: own.workspaceId, scenarioId: own.scenarioId };
  }
  if (p.kind === "developer") {
    if (!p.scopes.has("workspace:admin")) throw forbidden("Insufficient scope. Required: workspace:admin");
    return { workspaceId: p.workspaceId };
  }
  if (p.kind === "system") throw notFound("Workspace");
  throw forbidden("This credential cannot read the audit trail");
}
