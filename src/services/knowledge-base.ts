import type { Db } from "../db/client.ts";

type Tx = Pick<Db, "knowledgeBaseState">;

/**
 * Called (inside the caller's transaction) by every change to a scenario's articles: the trained
 * answer index no longer matches the content, so retrain_state becomes to_be_retrained. A training
 * in progress keeps its state; it re-checks contentChangedAt when it finishes.
 */
export async function markKnowledgeBaseChanged(tx: Tx, scenarioId: string, now: Date): Promise<void> {
  const state = await tx.knowledgeBaseState.findUnique({ where: { scenarioId } });
  if (!state) {
    await tx.knowledgeBaseState.create({ data: { scenarioId, retrainState: "to_be_retrained", contentChangedAt: now } });
    return;
  }
  await tx.knowledgeBaseState.update({
    where: { scenarioId },
    data: {
      contentChangedAt: now,
      ...(state.retrainState === "in_progress" ? {} : { retrainState: "to_be_retrained", failureReason: null }),
    },
  });
}
