import type { Db } from "../db/client.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { Prisma } from "../generated/sqlite/client.ts";
import { PermanentJobError, type JobRow } from "../jobs/runner.ts";
import type { Runtime } from "./context.ts";

export const RETRAIN_JOB = "kb.retrain";
export const STATE_CHANGED = "knowledge_base.state_changed";
export const RETRAIN_STATES = ["to_be_retrained", "in_progress", "up_to_date", "failed"] as const;
export type RetrainState = (typeof RETRAIN_STATES)[number];

export type Tx = Prisma.TransactionClient;

/** Versions are looked up in batches so a large knowledge base doesn't build one giant query. */
const VERSION_BATCH = 500;

/**
 * Sets a scenario's training state; a change of retrain_state or failure reason is recorded as a
 * knowledge_base.state_changed event (the caller publishes it after commit).
 */
export async function changeKnowledgeBaseState(
  tx: Tx,
  scenarioId: string,
  data: Omit<Prisma.KnowledgeBaseStateUncheckedCreateInput, "scenarioId"> & { retrainState: RetrainState },
): Promise<DomainEventRecord | null> {
  const before = await tx.knowledgeBaseState.findUnique({ where: { scenarioId } });
  const after = await tx.knowledgeBaseState.upsert({ where: { scenarioId }, create: { scenarioId, ...data }, update: data });
  if (before && before.retrainState === after.retrainState && before.failureReason === after.failureReason) return null;
  return recordStateChange(tx, scenarioId, after.retrainState, after.failureReason);
}

export async function recordStateChange(
  tx: Pick<Db, "scenario" | "domainEvent">,
  scenarioId: string,
  retrainState: string | null,
  failureReason: string | null,
): Promise<DomainEventRecord | null> {
  const scenario = await tx.scenario.findUnique({ where: { id: scenarioId }, select: { workspaceId: true } });
  if (!scenario) return null;
  const row = await tx.domainEvent.create({
    data: {
      workspaceId: scenario.workspaceId,
      scenarioId,
      type: STATE_CHANGED,
      payload: { scenarioId, retrainState, failureReason },
    },
  });
  return row;
}

/** The job runner's handler for "kb.retrain"; registered by buildApp. */
export function registerKnowledgeBaseJobs(runtime: Runtime): void {
  runtime.jobs.registerHandler(RETRAIN_JOB, (job) => trainAnswerIndex(runtime, job), {
    // Retries keep the state in_progress (the job's lastError tells why); the last failure is final.
    onFailure: async (job, error, { final }) => {
      if (!final || !job.scenarioId) return;
      const scenarioId = job.scenarioId;
      const event = await runtime.db.$transaction(async (tx) => {
        if (!(await tx.scenario.findUnique({ where: { id: scenarioId }, select: { id: true } }))) return null;
        return changeKnowledgeBaseState(tx, scenarioId, { retrainState: "failed", failureReason: error.message, jobId: job.id });
      });
      if (event) runtime.events.publish([event]);
    },
  });
}

/**
 * Rebuilds a scenario's answer index from the published text in force (each article's
 * ArticleVersion named by Article.version; drafts and never-published articles are left out).
 *
 * Fails (and is retried, then ends failed with the reason) when a published article's version row
 * is missing; fails at once, without retries, when the scenario no longer exists. The index is
 * swapped in one transaction, so readers see the old index or the new one, never a mix. Content
 * changed while the job ran (contentChangedAt at or after the start) ends in to_be_retrained.
 */
export async function trainAnswerIndex(runtime: Runtime, job: JobRow): Promise<{ trainedArticles: number; retrainState: RetrainState }> {
  const scenarioId = job.scenarioId;
  if (!scenarioId) throw new PermanentJobError("retrain job names no scenario");
  const { db } = runtime;
  const startedAt = runtime.clock();

  const started = await db.$transaction(async (tx) => {
    await requireScenario(tx, scenarioId);
    return changeKnowledgeBaseState(tx, scenarioId, { retrainState: "in_progress", failureReason: null, jobId: job.id });
  });
  if (started) runtime.events.publish([started]);

  const articles = await db.article.findMany({
    where: { scenarioId, version: { not: null } },
    select: { id: true, version: true, url: true },
    orderBy: { id: "asc" },
  });
  const entries: Prisma.AnswerIndexEntryCreateManyInput[] = [];
  for (let i = 0; i < articles.length; i += VERSION_BATCH) {
    const batch = articles.slice(i, i + VERSION_BATCH);
    const versions = await db.articleVersion.findMany({
      where: { OR: batch.map((a) => ({ articleId: a.id, version: a.version! })) },
      select: { articleId: true, version: true, title: true, content: true, tags: true },
    });
    const byArticle = new Map(versions.map((v) => [v.articleId, v]));
    for (const a of batch) {
      const v = byArticle.get(a.id);
      if (!v) throw new Error(`article ${a.id}: published version ${a.version} is missing`);
      entries.push({ scenarioId, articleId: a.id, version: v.version, title: v.title, content: v.content, url: a.url, tags: v.tags as object, trainedAt: startedAt });
    }
  }

  const { event, retrainState } = await db.$transaction(
    async (tx) => {
      await requireScenario(tx, scenarioId);
      // Lock the state row first, so an article write racing with us either lands before this
      // read (and we end to_be_retrained) or waits and then finds up_to_date to overturn.
      await tx.knowledgeBaseState.update({ where: { scenarioId }, data: { updatedAt: runtime.clock() } });
      const state = await tx.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId } });
      await tx.answerIndexEntry.deleteMany({ where: { scenarioId } });
      if (entries.length) await tx.answerIndexEntry.createMany({ data: entries });
      const changedMeanwhile = state.contentChangedAt !== null && state.contentChangedAt >= startedAt;
      const retrainState: RetrainState = changedMeanwhile ? "to_be_retrained" : "up_to_date";
      const event = await changeKnowledgeBaseState(tx, scenarioId, {
        retrainState,
        failureReason: null,
        jobId: job.id,
        trainedArticles: entries.length,
        lastTrainedAt: runtime.clock(),
      });
      return { event, retrainState };
    },
    { timeout: 120_000, maxWait: 10_000 },
  );
  if (event) runtime.events.publish([event]);
  return { trainedArticles: entries.length, retrainState };
}

async function requireScenario(tx: Tx, scenarioId: string): Promise<void> {
  const found = await tx.scenario.findUnique({ where: { id: scenarioId }, select: { id: true } });
  if (!found) throw new PermanentJobError("the scenario was deleted");
}
