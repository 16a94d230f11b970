import { notFound } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { markKnowledgeBaseChanged } from "./knowledge-base.ts";

/** Article.externalSource of everything imported from Intercom (externalId is Intercom's article id). */
export const INTERCOM_SOURCE = "intercom";

/**
 * Deletes the scenario's Intercom articles with these Intercom ids (all of them for "all") in one
 * transaction that also marks the knowledge base for retraining and records article.deleted.
 * Nothing to delete changes nothing. Answers the deleted article ids.
 */
export async function removeIntercomArticles(ctx: ServiceContext, scenarioId: string, externalIds: string[] | "all"): Promise<number[]> {
  const scenario = await ctx.loaders.scenario.load(scenarioId);
  if (!scenario) throw notFound("Scenario");
  if (externalIds !== "all" && !externalIds.length) return [];
  const where = { scenarioId, externalSource: INTERCOM_SOURCE, ...(externalIds === "all" ? {} : { externalId: { in: externalIds } }) };
  const now = ctx.clock();
  const { ids, events } = await ctx.db.$transaction(async (tx) => {
    const rows = await tx.article.findMany({ where, select: { id: true }, orderBy: { id: "asc" } });
    const ids = rows.map((r) => r.id);
    if (!ids.length) return { ids, events: [] };
    await tx.article.deleteMany({ where: { scenarioId, id: { in: ids } } });
    const stateChanged = await markKnowledgeBaseChanged(ctx, tx, scenarioId, now);
    const event = await ctx.events.record(tx, {
      workspaceId: scenario.workspaceId,
      scenarioId,
      type: "article.deleted",
      payload: { articleIds: ids, source: INTERCOM_SOURCE },
    });
    return { ids, events: stateChanged ? [event, stateChanged] : [event] };
  });
  ctx.events.publish(events);
  return ids;
}
