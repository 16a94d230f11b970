import { rowsOf, sql } from "../db/sql.ts";
import { createHash } from "node:crypto";
import { forbidden, notFound, unauthenticated } from "../errors.ts";
import { requirePrincipal, requireTokenScope, requireWidgetKey, visibleScenario } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import type { ConversationRow } from "./conversation-view.ts";

// Who may see or act on a conversation. Operators: a scenario token of the conversation's scenario
// (read_all to read, write_all to act) or a developer key of its workspace (conversations:read /
// conversations:write). Visitors: a widget key of the scenario plus the conversation's visitor
// token. Anything else, another tenant's id included, is NOT_FOUND.

export type ConversationAccess = "read" | "write";

export interface ConversationInScope {
  conversation: ConversationRow;
  workspaceId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function hashVisitorToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The scenarios an operator credential may act on for conversations, checked for the access. */
export async function operatorScenario(ctx: ServiceContext, access: ConversationAccess, scenarioId?: string): Promise<{ scenarioId: string; workspaceId: string }> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "widget" || p.kind === "legacy") throw forbidden("This credential cannot be used for operator actions");
  if (p.kind === "scenario_token") {
    const own = requireTokenScope(p, access === "write" ? "write_all" : "read_all");
    if (scenarioId !== undefined && scenarioId !== own.scenarioId) throw notFound("Scenario");
    return own;
  }
  if (p.kind === "developer") {
    const scope = access === "write" ? "conversations:write" : "conversations:read";
    if (!p.scopes.has(scope)) throw forbidden(`Insufficient scope. Required: ${scope}`);
  }
  if (scenarioId === undefined) throw notFound("Scenario");
  const scenario = await visibleScenario(ctx, scenarioId);
  return { scenarioId: scenario.id, workspaceId: scenario.workspaceId };
}

/** A conversation an operator credential may read or act on. */
export async function operatorConversation(ctx: ServiceContext, id: string, access: ConversationAccess): Promise<ConversationInScope> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind === "widget" || p.kind === "legacy") throw forbidden("This credential cannot be used for operator actions");
  if (!UUID.test(id)) throw notFound("Conversation");
  const conversation = await ctx.db.conversation.findUnique({ where: { id } });
  if (p.kind === "scenario_token") {
    const own = requireTokenScope(p, access === "write" ? "write_all" : "read_all");
    if (!conversation || conversation.scenarioId !== own.scenarioId) throw notFound("Conversation");
    return { conversation, workspaceId: own.workspaceId };
  }
  if (p.kind === "developer") {
    const scope = access === "write" ? "conversations:write" : "conversations:read";
    if (!p.scopes.has(scope)) throw forbidden(`Insufficient scope. Required: ${scope}`);
  }
  if (!conversation) throw notFound("Conversation");
  const scenario = await ctx.loaders.scenario.load(conversation.scenarioId);
  if (!scenario || (p.kind !== "system" && scenario.workspaceId !== p.workspaceId)) throw notFound("Conversation");
  return { conversation, workspaceId: scenario.workspaceId };
}

/** The visitor's own conversation: widget key + visitor token (+ the id, when the caller names one). */
export async function visitorConversation(
  ctx: ServiceContext,
  visitorToken: string,
  conversationId?: string,
): Promise<ConversationInScope> {
  const { scenarioId, workspaceId } = requireWidgetKey(ctx.principal);
  if (typeof visitorToken !== "string" || !visitorToken) throw unauthenticated("Missing visitor token");
  // Every widget request starts here: through the SQL lane.
  const [conversation] = await rowsOf<ConversationRow>(
    ctx.sql,
    "Conversation",
    sql`SELECT * FROM "Conversation" WHERE "scenarioId" = ${scenarioId} AND "visitorTokenHash" = ${hashVisitorToken(visitorToken)}`,
  );
  if (!conversation || (conversationId !== undefined && conversation.id !== conversationId)) throw notFound("Conversation");
  return { conversation, workspaceId };
}
