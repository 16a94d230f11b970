import { builder } from "./builder.ts";
import { scenarioAccess } from "../services/access.ts";
import {
  RETRAIN_STATES,
  STATE_CHANGED,
  latestRetrainJob,
  loadKnowledgeBase,
  retrainKnowledgeBase,
  updateKnowledgeBase,
  type KnowledgeBaseView,
} from "../services/knowledge-base.ts";

const RetrainStateEnum = builder.enumType("RetrainState", {
  description: "Training state of the assistant's answer index",
  values: RETRAIN_STATES,
});

const JobStatusEnum = builder.enumType("JobStatus", { values: ["queued", "running", "succeeded", "failed"] as const });

builder.prismaObject("Job", {
  description: "A durable background job",
  fields: (t) => ({
    id: t.exposeID("id"),
    kind: t.exposeString("kind"),
    status: t.field({ type: JobStatusEnum, resolve: (j) => j.status as "queued" }),
    attempts: t.exposeInt("attempts"),
    maxAttempts: t.exposeInt("maxAttempts"),
    lastError: t.exposeString("lastError", { nullable: true }),
    runAt: t.expose("runAt", { type: "DateTime" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
  }),
});

const KnowledgeBase = builder.objectRef<KnowledgeBaseView>("KnowledgeBase").implement({
  description: "The assistant's identity (shared with chatbot settings) and the training state of its answer index",
  fields: (t) => ({
    oneWordDescription: t.string({ resolve: (kb) => kb.settings.oneWordDescription }),
    shortDescription: t.string({ resolve: (kb) => kb.settings.shortDescription }),
    aiCommands: t.stringList({ resolve: (kb) => kb.settings.aiCommands as string[] }),
    retrainState: t.field({
      type: RetrainStateEnum,
      nullable: true,
      description: "null: never trained",
      resolve: (kb) => (kb.state?.retrainState ?? null) as (typeof RETRAIN_STATES)[number] | null,
    }),
    failureReason: t.string({ nullable: true, resolve: (kb) => kb.state?.failureReason ?? null }),
    lastTrainedAt: t.field({ type: "DateTime", nullable: true, resolve: (kb) => kb.state?.lastTrainedAt ?? null }),
    trainedArticles: t.int({ resolve: (kb) => kb.state?.trainedArticles ?? 0 }),
    job: t.prismaField({
      type: "Job",
      nullable: true,
      description: "The job training (or that last trained) this knowledge base",
      resolve: async (query, kb, _args, ctx) => {
        const job = await latestRetrainJob(ctx, kb.scenarioId, kb.state?.jobId ?? null);
        return job ? ctx.db.job.findUnique({ ...query, where: { id: job.id } }) : null;
      },
    }),
  }),
});

interface StateChange {
  scenarioId: string;
  retrainState: (typeof RETRAIN_STATES)[number] | null;
  failureReason: string | null;
  at: Date;
}

const KnowledgeBaseStateChange = builder.objectRef<StateChange>("KnowledgeBaseStateChange").implement({
  fields: (t) => ({
    scenarioId: t.exposeID("scenarioId"),
    retrainState: t.field({ type: RetrainStateEnum, nullable: true, resolve: (c) => c.retrainState }),
    failureReason: t.exposeString("failureReason", { nullable: true }),
    at: t.field({ type: "DateTime", resolve: (c) => c.at }),
  }),
});

builder.prismaObjectFields("Scenario", (t) => ({
  knowledgeBase: t.field({
    type: KnowledgeBase,
    description: "Needs read access to the scenario's configuration (assistant:read)",
    resolve: (scenario, _args, ctx) => loadKnowledgeBase(ctx, scenario.id),
  }),
}));

const UpdateKnowledgeBaseInput = builder.inputType("UpdateKnowledgeBaseInput", {
  description: "Only the fields given change (they are the chatbot settings' fields of the same names)",
  fields: (t) => ({
    oneWordDescription: t.string(),
    shortDescription: t.string(),
    aiCommands: t.stringList(),
  }),
});

builder.mutationFields((t) => ({
  updateKnowledgeBase: t.field({
    type: KnowledgeBase,
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateKnowledgeBaseInput, required: true }),
    },
    resolve: (_root, { scenarioId, input }, ctx) => {
      const patch: Record<string, unknown> = {};
      if (input.oneWordDescription != null) patch.one_word_description = input.oneWordDescription;
      if (input.shortDescription != null) patch.short_description = input.shortDescription;
      if (input.aiCommands != null) patch.ai_commands = input.aiCommands;
      return updateKnowledgeBase(ctx, patch, String(scenarioId));
    },
  }),
  retrainKnowledgeBase: t.field({
    type: KnowledgeBase,
    description: "Queues a retraining of the answer index (or leaves the one already queued or running to do it)",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    resolve: async (_root, { scenarioId }, ctx) => (await retrainKnowledgeBase(ctx, String(scenarioId))).view,
  }),
}));

builder.subscriptionField("knowledgeBaseStateChanged", (t) =>
  t.field({
    type: KnowledgeBaseStateChange,
    description: "Each change of the scenario's retrain_state, live",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    subscribe: async function* (_root, args, ctx) {
      const scenarioId = await scenarioAccess(ctx, String(args.scenarioId), "read");
      const scenario = await ctx.loaders.scenario.load(scenarioId);
      if (!scenario) return;
      for await (const event of ctx.events.subscribe(scenario.workspaceId)) {
        if (event.type !== STATE_CHANGED || event.scenarioId !== scenarioId) continue;
        const p = event.payload as { retrainState: StateChange["retrainState"]; failureReason: string | null };
        yield { scenarioId, retrainState: p.retrainState, failureReason: p.failureReason, at: event.createdAt };
      }
    },
    resolve: (change) => change,
  }),
);
