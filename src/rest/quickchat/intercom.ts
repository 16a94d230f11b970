import { z } from "zod";
import { RefreshInput, deleteIntercomArticles, importIntercomArticles, refreshIntercomArticles } from "../../services/kb-intercom-articles.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;
const rateLimit = quickchatLimit("quickchatHeavy");

const ArticleSnapshot = z.object({
  id: z.number().int(),
  article_id: z.string(),
  type: z.string(),
  title: z.string(),
  description: z.string(),
  state: z.string(),
  deploy_state: z.string(),
  version: z.number().int().nullable(),
  max_available_version: z.number().int().nullable(),
  url: z.string().nullable(),
  tags: z.array(z.string()),
  created_timestamp: z.string(),
  last_modified_timestamp: z.string(),
  downloaded_timestamp: z.string(),
  last_updated_timestamp: z.string(),
  last_updated_from_external_source_timestamp: z.string().nullable(),
});
const Processing = z.object({ status: z.literal("processing"), import_id: z.string() });

export const intercomRoutes: RouteDef[] = [
  {
    method: "POST",
    path: "/v1/api/knowledge_base/intercom/import",
    summary: "Import all published Intercom Help Center articles",
    auth,
    rateLimit,
    responses: {
      200: { description: "The imported article snapshots", schema: z.array(ArticleSnapshot) },
      202: { description: "Parley: the import takes longer than a minute and goes on in the background", schema: Processing },
      ...quickchatErrorResponses,
    },
    handler: async (ctx, _req, reply) => {
      const answer = await importIntercomArticles(ctx);
      if (!answer.done) return reply.status(202).send({ status: "processing", import_id: answer.importId });
      return reply.status(200).send(answer.articles);
    },
  },
  {
    method: "POST",
    path: "/v1/api/knowledge_base/intercom/refresh_articles",
    summary: "Re-fetch Intercom articles (updated in place; removed when Intercom no longer publishes them) and import new ones",
    auth,
    rateLimit,
    body: RefreshInput,
    responses: { 204: { description: "Accepted: the refresh runs in the background" }, ...quickchatErrorResponses },
    handler: async (ctx, req) => {
      await refreshIntercomArticles(ctx, req.body);
    },
  },
  {
    method: "POST",
    path: "/v1/api/knowledge_base/intercom/delete",
    summary: "Remove all Intercom-sourced articles",
    auth,
    rateLimit,
    responses: { 204: { description: "Deleted" }, ...quickchatErrorResponses },
    handler: async (ctx) => {
      await deleteIntercomArticles(ctx);
    },
  },
];
