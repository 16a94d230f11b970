import { z } from "zod";
import { KnowledgeBasePatch, RETRAIN_STATES, getKnowledgeBase, knowledgeBaseJson, retrainKnowledgeBase, updateKnowledgeBase } from "../../services/knowledge-base.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const KnowledgeBase = KnowledgeBasePatch.required().extend({ retrain_state: z.enum(RETRAIN_STATES).nullable() });
/** Parley's answer to a retrain request: the job doing it and the state (to_be_retrained until a worker starts). */
const RetrainAccepted = z.object({ job_id: z.string(), retrain_state: z.enum(RETRAIN_STATES).nullable() });
const auth = ["scenario_token"] as const;

export const knowledgeBaseRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api/knowledge_base/",
    summary: "Get knowledge base settings and retrain_state",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "The knowledge base settings", schema: KnowledgeBase }, ...quickchatErrorResponses },
    handler: (ctx) => getKnowledgeBase(ctx),
  },
  {
    method: "PATCH",
    path: "/v1/api/knowledge_base/",
    summary: "Update knowledge base settings (the same fields as in chatbot settings; only the fields sent)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    body: KnowledgeBasePatch,
    responses: { 200: { description: "The whole updated settings", schema: KnowledgeBase }, ...quickchatErrorResponses },
    handler: async (ctx, req) => knowledgeBaseJson(await updateKnowledgeBase(ctx, req.body ?? {})),
  },
  {
    method: "POST",
    path: "/v1/api/knowledge_base/retrain/",
    summary: "Retrain the knowledge base (a durable background job; a request joins a queued one)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    responses: {
      202: { description: "Accepted: a retrain job is queued or already underway", schema: RetrainAccepted },
      ...quickchatErrorResponses,
    },
    handler: async (ctx, _req, reply) => {
      const { job, view } = await retrainKnowledgeBase(ctx);
      return reply.status(202).send({ job_id: job.id, retrain_state: knowledgeBaseJson(view).retrain_state });
    },
  },
];
