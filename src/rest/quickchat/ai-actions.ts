import { z } from "zod";
import { AI_ACTION_TYPES, AiActionPatch, deleteAiAction, listAiActions, patchAiAction } from "../../services/ai-actions.ts";
import type { RouteDef } from "../route.ts";
import { QuickchatError, quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const AiActionSnapshot = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  is_active: z.boolean(),
  type: z.enum(AI_ACTION_TYPES),
  icon: z.string().nullable(),
  icon_color: z.string().nullable(),
  is_valid: z.boolean(),
});
const ActionParams = z.object({
  action_id: z.string().describe("AI Action identifier (an integer; anything else names no action: 404)"),
});
const auth = ["scenario_token"] as const;
const notFound = { 404: { description: "NOT_FOUND: no such AI action in this scenario", schema: QuickchatError } };

export const aiActionRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api/ai_actions",
    summary: "List all AI actions",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "The scenario's AI actions", schema: z.array(AiActionSnapshot) }, ...quickchatErrorResponses },
    handler: (ctx) => listAiActions(ctx),
  },
  {
    method: "PATCH",
    path: "/v1/api/ai_actions/:action_id",
    summary: "Update an AI action (is_active, icon, icon_color)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: ActionParams,
    body: AiActionPatch,
    responses: { 200: { description: "The updated AI action snapshot", schema: AiActionSnapshot }, ...notFound, ...quickchatErrorResponses },
    handler: (ctx, req) => patchAiAction(ctx, (req.params as { action_id: string }).action_id, req.body ?? {}),
  },
  {
    method: "DELETE",
    path: "/v1/api/ai_actions/:action_id",
    summary: "Delete an AI action",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: ActionParams,
    responses: { 204: { description: "Deleted" }, ...notFound, ...quickchatErrorResponses },
    handler: async (ctx, req) => {
      await deleteAiAction(ctx, (req.params as { action_id: string }).action_id);
    },
  },
];
