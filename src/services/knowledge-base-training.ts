import type { DomainEventRecord, EventBus } from "../events/bus.ts";
import type { Prisma } from "../generated/sqlite/client.ts";
import { PermanentJobError, type JobContext, type JobRow } from "../jobs/runner.ts";
import type { Runtime } from "./context.ts";

export const RETRAIN_JOB = "kb.retrain";
export const STATE_CHANGED = "knowledge_base.state_changed";
export const RETRAIN_STATES = ["to_be_retrained", "in_progress", "up_to_date", "failed"] as const;
export type RetrainState = (typeof RETRAIN_STATES)[number];

export type Tx = Prisma.TransactionClient;
type Events = Pick<EventBus, "record">;
type StateRow = NonNullable<Awaited<ReturnType<Tx["knowledgeBaseState"]["findUnique"]>>>;

/** Versions are looked up in batches so a large knowledge base doesn't build one giant query. */
const VERSION_BATCH = 500;

/**
 * Sets a scenario's training state; a change of retrain_state or failure reason is recorded as a
 * knowledge_base.state_changed event (the caller publishes it after commit).
 */
export async function changeKnowledgeBaseState(
  events: Events,
  tx: Tx,
  scenarioId: string,
  data: Omit<Prisma.KnowledgeBaseStateUncheckedCreateInput, "scenarioId" | "changeCount"> & { retrainState: RetrainState },
): Promise<{ event: DomainEventRecord | null; state: StateRow }> {
  const before = await tx.knowledgeBaseState.findUnique({ where: { scenarioId } });
  const state = await tx.knowledgeBaseState.upsert({ where: { scenarioId }, create: { scenarioId, ...data }, update: data });
  const same = before && before.retrainState === state.retrainState && before.failureReason === state.failureReason;
  return { event: same ? null : await recordStateChange(events, tx, scenarioId, state.retrainState, state.failureReason), state };
}

/** Records a knowledge_base.state_changed event through the event bus (publish it after commit). */
export async function recordStateChange(
  events: Events,
  tx: Tx,
  scenarioId: string,
  retrainState: string | null,
  failureReason: string | null,
): Promise<DomainEventRecord | null> {
  const scenario = await tx.scenario.findUnique({ where: { id: scenarioId }, select: { workspaceId: true } });
  if (!scenario) return null;
  return events.record(tx, { workspaceId: scenario.workspaceId, scenarioId, type: STATE_CHANGED, payload: { scenarioId, retrainState, failureReason } });
}

/** The job runner's handler for "kb.retrain"; registered by buildApp. */
export function registerKnowledgeBaseJobs(runtime: Runtime): void {
  runtime.jobs.registerHandler(RETRAIN_JOB, (job, jobCtx) => trainAnswerIndex(runtime, job, jobCtx), {
    // Retries keep the state in_progress (the job's lastError tells why); the last failure is final.
    onFailure: async (job, error, { final }) => {
      if (!final || !job.scenarioId) return;
      const scenarioId = job.scenarioId;
      const event = await runtime.db.$transaction(async (tx) => {
        if (!(await tx.scenario.findUnique({ where: { id: scenarioId }, select: { id: true } }))) return null;
        // A training started after this job owns the state now: its outcome, not this failure, counts.
        const state = await tx.knowledgeBaseState.findUnique({ where: { scenarioId }, select: { jobId: true } });
        if (state?.jobId && state.jobId !== job.id) return null;
        return (await changeKnowledgeBaseState(runtime.events, tx, scenarioId, { retrainState: "failed", failureReason: error.message, jobId: job.id })).event;
      });
      if (event) runtime.events.publish([event]);
    },
  });
}

/**
 * Confirms (inside a transaction) that this worker still holds the job, and locks the job row until
 * the transaction ends so no release or takeover interleaves; throws when the claim is gone.
 */
export async function holdClaim(tx: Tx, job: JobRow, workerId: string, clock: () => Date): Promise<void> {
  const { count } = await tx.job.updateMany({
    where: { id: job.id, lockedBy: workerId, status: "running" },
    data: { updatedAt: clock() },
  });
  if (!count) throw new Error("this worker no longer holds the job");
}

/**
 * Rebuilds a scenario's answer index from the published text in force (each article's
 * ArticleVersion named by Article.version; drafts and never-published articles are left out).
 *
 * Fails (and is retried, then ends failed with the reason) when a published article's version row
 * is missing; fails at once, without retries, when the scenario no longer exists. The index is
 * swapped in one transaction, so readers see the old index or the new one, never a mix, and only
 * while this worker still holds the job (a worker that lost its claim, or whose signal was aborted,
 * stops without writing). Content changed while the job ran — KnowledgeBaseState.changeCount, which
 * every article change increments, differs from the value read when the job set in_progress — ends
 * in to_be_retrained. A training started later (the state names another job) owns the outcome: this
 * one then leaves index and state alone.
 */
export async function trainAnswerIndex(
  runtime: Runtime,
  job: JobRow,
  jobCtx: Pick<JobContext, "workerId" | "signal">,
): Promise<{ trainedArticles: number; retrainState: RetrainState | null }> {
  const scenarioId = job.scenarioId;
  if (!scenarioId) throw new PermanentJobError("retrain job names no scenario");
  const { db, events } = runtime;
  const { signal, workerId } = jobCtx;
  signal.throwIfAborted();
  const startedAt = runtime.clock();

  const { started, startCount } = await db.$transaction(async (tx) => {
    await requireScenario(tx, scenarioId);
    await holdClaim(tx, job, workerId, runtime.clock);
    const { event, state } = await changeKnowledgeBaseState(events, tx, scenarioId, { retrainState: "in_progress", failureReason: null, jobId: job.id });
    return { started: event, startCount: state.changeCount };
  });
  if (started) events.publish([started]);

  signal.throwIfAborted();
  const articles = await db.article.findMany({
    where: { scenarioId, version: { not: null } },
    select: { id: true, version: true, url: true },
    orderBy: { id: "asc" },
  });
  const entries: Prisma.AnswerIndexEntryCreateManyInput[] = [];
  for (let i = 0; i < articles.length; i += VERSION_BATCH) {
    signal.throwIfAborted();
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

  signal.throwIfAborted();
  const { event, retrainState, trained } = await db.$transaction(
    async (tx) => {
      await holdClaim(tx, job, workerId, runtime.clock);
      await requireScenario(tx, scenarioId);
      // Lock the state row first: an article change racing with us either committed its increment
      // before this (and we end to_be_retrained) or waits for us and then finds up_to_date to overturn.
      await tx.knowledgeBaseState.update({ where: { scenarioId }, data: { updatedAt: runtime.clock() } });
      const before = await tx.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId } });
      if (before.jobId !== job.id) {
        return { event: null, retrainState: before.retrainState as RetrainState | null, trained: 0 };
      }
      await tx.answerIndexEntry.deleteMany({ where: { scenarioId } });
      if (entries.length) await tx.answerIndexEntry.createMany({ data: entries });
      const done = { failureReason: null, trainedArticles: entries.length, lastTrainedAt: runtime.clock() };
      const unchanged = await tx.knowledgeBaseState.updateMany({
        where: { scenarioId, changeCount: startCount },
        data: { ...done, retrainState: "up_to_date" },
      });
      const after = unchanged.count
        ? await tx.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId } })
        : await tx.knowledgeBaseState.update({ where: { scenarioId }, data: { ...done, retrainState: "to_be_retrained" } });
      const same = before.retrainState === after.retrainState && before.failureReason === after.failureReason;
      const event = same ? null : await recordStateChange(events, tx, scenarioId, after.retrainState, after.failureReason);
      return { event, retrainState: after.retrainState as RetrainState, trained: entries.length };
    },
    { timeout: 120_000, maxWait: 10_000 },
  );
  if (event) events.publish([event]);
  return { trainedArticles: trained, retrainState };
}

async function requireScenario(tx: Tx, scenarioId: string): Promise<void> {
  const found = await tx.scenario.findUnique({ where: { id: scenarioId }, select: { id: true } });
  if (!found) throw new PermanentJobError("the scenario was deleted");
}
