import type { ConversationView, LiveInboxUpdate } from "../events/live.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation, operatorScenario } from "./conversation-access.ts";
import { conversationView } from "./conversation-view.ts";
import { ConversationFilters, conversationPage } from "./conversations.ts";
import { parseInput } from "./validation.ts";

// The operators' inbox over GraphQL: the same list (filters, order, access) as the Quickchat
// route, but whole conversation views, and the scenario's inbox live.

/** One conversation, as operators see it (read access). */
export async function getConversation(ctx: ServiceContext, id: string): Promise<ConversationView> {
  return conversationView((await operatorConversation(ctx, id, "read")).conversation);
}

/** A page of a scenario's conversations, newest first, with the filtered total. */
export async function conversationsPage(
  ctx: ServiceContext,
  filters: unknown,
  page: { offset: number; limit: number },
  forScenario?: string,
): Promise<{ items: ConversationView[]; count: number }> {
  const { scenarioId } = await operatorScenario(ctx, "read", forScenario);
  const { ids, count } = await conversationPage(ctx, scenarioId, parseInput(ConversationFilters, filters), page);
  const rows = ids.length ? await ctx.db.conversation.findMany({ where: { id: { in: ids } } }) : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  return { items: ids.flatMap((id) => (byId.has(id) ? [conversationView(byId.get(id)!)] : [])), count };
}

/**
 * A scenario's inbox, live: conversations created or changed (message, status, assignee,
 * resolution, read, rating, analysis, metadata). Not replayed: a client that reconnects reloads
 * the list. Access is checked before this returns.
 */
export async function inboxUpdates(ctx: ServiceContext, scenarioId: string): Promise<AsyncIterable<LiveInboxUpdate>> {
  const scenario = await operatorScenario(ctx, "read", scenarioId);
  return ctx.events.subscribeInbox(scenario.scenarioId);
}
