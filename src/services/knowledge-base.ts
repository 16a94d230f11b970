import { forgetChatSettings } from "./chat-settings.ts";
import { filter, map, pipe } from "graphql-yoga";
import type { Db } from "../db/client.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { JobRow } from "../jobs/runner.ts";
import { ChatbotSettingsPatch, loadChatbotSettings } from "./chatbot-settings.ts";
import type { ServiceContext } from "./context.ts";
import { scenarioAccess } from "./access.ts";
import { parseInput } from "./validation.ts";
import { notFound } from "../errors.ts";
import { RETRAIN_JOB, STATE_CHANGED, changeKnowledgeBaseState, recordStateChange, type RetrainState, type Tx } from "./knowledge-base-training.ts";

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
  forgetChatSettings(scenarioId);
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
 * Asks for a retraining. A job already queued for the scenario (not yet started, or waiting for a
 * retry) will read the content when it runs, so the request joins it. Otherwise one "kb.retrain" job
 * is enqueued: when none is active, retrain_state becomes to_be_retrained until a worker picks the
 * job up (then in_progress, then up_to_date or failed); when one is running (it may have read the
 * content already) the new job is its follow-up, and the state stays in_progress.
 */
export async function retrainKnowledgeBase(ctx: ServiceContext, forScenario?: string): Promise<{ view: KnowledgeBaseView; job: JobRow; enqueued: boolean }> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const scenario = await ctx.db.scenario.findUniqueOrThrow({ where: { id: scenarioId }, select: { workspaceId: true } });
  const { job, event, enqueued } = await ctx.db.$transaction(async (tx) => {
    // Locks the state row: concurrent requests queue here and the second one sees the first's job.
    await tx.knowledgeBaseState.update({ where: { scenarioId }, data: { updatedAt: ctx.clock() } });
    const queued = await tx.job.findFirst({
      where: { scenarioId, kind: RETRAIN_JOB, status: "queued" },
      orderBy: { createdAt: "desc" },
    });
    if (queued) return { job: queued, event: null, enqueued: false };
    const running = await tx.job.count({ where: { scenarioId, kind: RETRAIN_JOB, status: "running" } });
    const job = await ctx.jobs.enqueue(tx, { kind: RETRAIN_JOB, workspaceId: scenario.workspaceId, scenarioId, payload: { scenarioId } });
    if (running) return { job, event: null, enqueued: true };
    const { event } = await changeKnowledgeBaseState(ctx.events, tx, scenarioId, { retrainState: "to_be_retrained", failureReason: null, jobId: job.id });
    return { job, event, enqueued: true };
  });
  if (event) ctx.events.publish([event]);
  if (enqueued) ctx.jobs.wake();
  return { view: await view(ctx, scenarioId), job, enqueued };
}

/**
 * Called inside the caller's transaction by every change to a scenario's articles: the trained
 * answer index no longer matches the content. (Every scenario has its state row: created with the
 * scenario, and the migration that added the table gave existing scenarios theirs.)
 * changeCount is incremented first — that locks the state row until commit, so a training finishing
 * concurrently either sees the new count (and ends to_be_retrained) or has committed up_to_date
 * before, which the conditional move below then overturns. retrain_state becomes to_be_retrained
 * unless it already is, or a training is in progress (it compares changeCount when it finishes).
 * A move is recorded as a knowledge_base.state_changed event, which is returned: publish it
 * (ctx.events.publish) after the transaction commits.
 */
export async function markKnowledgeBaseChanged(
  ctx: Pick<ServiceContext, "events">,
  tx: Tx,
  scenarioId: string,
  now: Date,
): Promise<DomainEventRecord | null> {
  const counted = await tx.knowledgeBaseState.updateMany({
    where: { scenarioId },
    data: { changeCount: { increment: 1 }, contentChangedAt: now },
  });
  if (!counted.count) throw new Error(`scenario ${scenarioId} has no knowledge base state`);
  const moved = await tx.knowledgeBaseState.updateMany({
    where: { scenarioId, OR: [{ retrainState: null }, { retrainState: { notIn: ["in_progress", "to_be_retrained"] } }] },
    data: { retrainState: "to_be_retrained", failureReason: null },
  });
  return moved.count ? recordStateChange(ctx.events, tx, scenarioId, "to_be_retrained", null) : null;
}

/** One change of a scenario's retrain_state, as subscribers see it. */
export interface KnowledgeBaseStateChange {
  scenarioId: string;
  retrainState: RetrainState | null;
  failureReason: string | null;
  at: Date;
}

/**
 * The scenario's retrain_state changes, live. Access is checked (read) before the stream starts;
 * other scenarios' events and other event types are left out.
 */
export async function knowledgeBaseStateChanges(ctx: ServiceContext, forScenario?: string): Promise<AsyncIterable<KnowledgeBaseStateChange>> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  const scenario = await ctx.loaders.scenario.load(scenarioId);
  if (!scenario) throw notFound("Scenario");
  // Repeater-based operators: unsubscribing ends the underlying subscription at once.
  return pipe(
    ctx.events.subscribe(scenario.workspaceId),
    filter((event: DomainEventRecord) => event.type === STATE_CHANGED && event.scenarioId === scenarioId),
    map((event: DomainEventRecord): KnowledgeBaseStateChange => {
      const p = event.payload as { retrainState: RetrainState | null; failureReason: string | null };
      return { scenarioId, retrainState: p.retrainState, failureReason: p.failureReason, at: event.createdAt };
    }),
  );
}
