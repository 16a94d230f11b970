import { builder } from "./builder.ts";
import {
  RETRAIN_STATES,
  knowledgeBaseStateChanges,
  latestRetrainJob,
  loadKnowledgeBase,
  retrainKnowledgeBase,
  updateKnowledgeBase,
  type KnowledgeBaseStateChange,
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

const KnowledgeBaseStateChangeRef = builder.objectRef<KnowledgeBaseStateChange>("KnowledgeBaseStateChange").implement({
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
    // Passed through as given (only absent fields left out): an explicit null is the service's to
    // reject, exactly as over REST.
    resolve: (_root, { scenarioId, input }, ctx) => {
      const fields = { one_word_description: input.oneWordDescription, short_description: input.shortDescription, ai_commands: input.aiCommands };
      const patch = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      return updateKnowledgeBase(ctx, patch, String(scenarioId));
    },
  }),
  retrainKnowledgeBase: t.field({
    type: KnowledgeBase,
    description: "Queues a retraining of the answer index (joins one already queued; while one runs, queues one follow-up)",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    resolve: async (_root, { scenarioId }, ctx) => (await retrainKnowledgeBase(ctx, String(scenarioId))).view,
  }),
}));

builder.subscriptionField("knowledgeBaseStateChanged", (t) =>
  t.field({
    type: KnowledgeBaseStateChangeRef,
    description: "Each change of the scenario's retrain_state, live",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => knowledgeBaseStateChanges(ctx, String(args.scenarioId)),
    resolve: (change) => change,
  }),
);
