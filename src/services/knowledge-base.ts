import type { Db } from "../db/client.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { JobRow } from "../jobs/runner.ts";
import { ChatbotSettingsPatch, loadChatbotSettings } from "./chatbot-settings.ts";
import type { ServiceContext } from "./context.ts";
import { scenarioAccess } from "./access.ts";
import { parseInput } from "./validation.ts";
import { RETRAIN_JOB, changeKnowledgeBaseState, recordStateChange } from "./knowledge-base-training.ts";

export { registerKnowledgeBaseJobs, RETRAIN_JOB, RETRAIN_STATES, STATE_CHANGED, type RetrainState } from "./knowledge-base-training.ts";

/**
 * The agent's name, description and guidelines are the chatbot settings' fields (one row, one
 * source of truth), so the limits are the very same schemas.
 */
export const KnowledgeBasePatch = ChatbotSettingsPatch.pick({
  one_word_description: true,
  short_description: true,
  ai_commands: true,
}).strict();

type Settings = Awaited<ReturnType<typeof loadChatbotSettings>>;
type State = NonNullable<Awaited<ReturnType<Db["knowledgeBaseState"]["findUnique"]>>>;

/** Everything GraphQL shows about a scenario's knowledge base. */
export interface KnowledgeBaseView {
  scenarioId: string;
  settings: Settings;
  state: State | null;
}

export function knowledgeBaseJson({ settings, state }: KnowledgeBaseView) {
  return {
    one_word_description: settings.oneWordDescription,
    short_description: settings.shortDescription,
    ai_commands: settings.aiCommands as string[],
    retrain_state: (state?.retrainState ?? null) as string | null,
  };
}
export type KnowledgeBaseJson = ReturnType<typeof knowledgeBaseJson>;

async function view(ctx: ServiceContext, scenarioId: string): Promise<KnowledgeBaseView> {
  const [settings, state] = await Promise.all([
    loadChatbotSettings(ctx, scenarioId),
    ctx.db.knowledgeBaseState.findUnique({ where: { scenarioId } }),
  ]);
  return { scenarioId, settings, state };
}

export async function loadKnowledgeBase(ctx: ServiceContext, forScenario?: string): Promise<KnowledgeBaseView> {
  return view(ctx, await scenarioAccess(ctx, forScenario, "read"));
}

export async function getKnowledgeBase(ctx: ServiceContext, forScenario?: string): Promise<KnowledgeBaseJson> {
  return knowledgeBaseJson(await loadKnowledgeBase(ctx, forScenario));
}

/** Changes only the fields sent (in the chatbot settings row); answers the whole object. */
export async function updateKnowledgeBase(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<KnowledgeBaseView> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const p = parseInput(KnowledgeBasePatch, input);
  await loadChatbotSettings(ctx, scenarioId);
  await ctx.db.chatbotSettings.update({
    where: { scenarioId },
    data: { oneWordDescription: p.one_word_description, shortDescription: p.short_description, aiCommands: p.ai_commands },
  });
  return view(ctx, scenarioId);
}

/** The scenario's most recent retrain job, if any. */
export async function latestRetrainJob(ctx: Pick<ServiceContext, "db">, scenarioId: string, jobId: string | null): Promise<JobRow | null> {
  if (jobId) {
    const job = await ctx.db.job.findUnique({ where: { id: jobId } });
    if (job) return job;
  }
  return ctx.db.job.findFirst({ where: { scenarioId, kind: RETRAIN_JOB }, orderBy: { createdAt: "desc" } });
}

/**
 * Asks for a retraining: enqueues one durable "kb.retrain" job, or, when one is already queued or
 * running for the scenario, leaves that one to do the work. retrain_state becomes to_be_retrained
 * until a worker picks the job up (then in_progress, then up_to_date or failed).
 */
export async function retrainKnowledgeBase(ctx: ServiceContext, forScenario?: string): Promise<{ view: KnowledgeBaseView; job: JobRow; enqueued: boolean }> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const scenario = await ctx.db.scenario.findUniqueOrThrow({ where: { id: scenarioId }, select: { workspaceId: true } });
  await ctx.db.knowledgeBaseState.upsert({ where: { scenarioId }, create: { scenarioId }, update: {} });
  const { job, event, enqueued } = await ctx.db.$transaction(async (tx) => {
    // Locks the state row: concurrent requests queue here and the second one sees the first's job.
    await tx.knowledgeBaseState.update({ where: { scenarioId }, data: { updatedAt: ctx.clock() } });
    const active = await tx.job.findFirst({
      where: { scenarioId, kind: RETRAIN_JOB, status: { in: ["queued", "running"] } },
      orderBy: { createdAt: "desc" },
    });
    if (active) return { job: active, event: null, enqueued: false };
    const job = await ctx.jobs.enqueue(tx, { kind: RETRAIN_JOB, workspaceId: scenario.workspaceId, scenarioId, payload: { scenarioId } });
    const event = await changeKnowledgeBaseState(tx, scenarioId, { retrainState: "to_be_retrained", failureReason: null, jobId: job.id });
    return { job, event, enqueued: true };
  });
  if (event) ctx.events.publish([event]);
  if (enqueued) ctx.jobs.wake();
  return { view: await view(ctx, scenarioId), job, enqueued };
}

type ChangeTx = Pick<Db, "knowledgeBaseState"> & Partial<Pick<Db, "domainEvent" | "scenario">>;

/**
 * Called (inside the caller's transaction) by every change to a scenario's articles: the trained
 * answer index no longer matches the content, so retrain_state becomes to_be_retrained. A training
 * in progress keeps its state; it re-checks contentChangedAt when it finishes.
 *
 * Both updates are conditional, so a training that finishes concurrently cannot leave the state
 * up_to_date over a change it did not see. When the transaction client can write events, a move to
 * to_be_retrained is recorded as a knowledge_base.state_changed event, which is returned: publish
 * it (ctx.events.publish) after the transaction commits so subscribers hear of it.
 */
export async function markKnowledgeBaseChanged(tx: ChangeTx, scenarioId: string, now: Date): Promise<DomainEventRecord | null> {
  for (let round = 0; round < 3; round++) {
    const before = await tx.knowledgeBaseState.findUnique({ where: { scenarioId }, select: { retrainState: true } });
    if (!before) {
      await tx.knowledgeBaseState.create({ data: { scenarioId, retrainState: "to_be_retrained", contentChangedAt: now } });
      return eventFor(tx, scenarioId);
    }
    const moved = await tx.knowledgeBaseState.updateMany({
      where: { scenarioId, OR: [{ retrainState: null }, { retrainState: { not: "in_progress" } }] },
      data: { retrainState: "to_be_retrained", failureReason: null, contentChangedAt: now },
    });
    if (moved.count) return before.retrainState === "to_be_retrained" ? null : eventFor(tx, scenarioId);
    const during = await tx.knowledgeBaseState.updateMany({
      where: { scenarioId, retrainState: "in_progress" },
      data: { contentChangedAt: now },
    });
    if (during.count) return null;
  }
  throw new Error(`could not mark the knowledge base of scenario ${scenarioId} as changed`);
}

function eventFor(tx: ChangeTx, scenarioId: string): Promise<DomainEventRecord | null> {
  if (!tx.domainEvent || !tx.scenario) return Promise.resolve(null);
  return recordStateChange({ domainEvent: tx.domainEvent, scenario: tx.scenario }, scenarioId, "to_be_retrained", null);
}
