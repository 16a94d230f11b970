import { z } from "zod";
import { listConversations } from "../../services/conversations.ts";
import { PaginationQuery, parsePagination } from "../../services/pagination.ts";
import type { RouteDef } from "../route.ts";
import { paginated, quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const ConversationItem = z.object({
  id: z.string(),
  ord: z.number().int(),
  created_at: z.string(),
  last_message_at: z.string(),
  title: z.string(),
  source: z.string(),
  terminated: z.boolean(),
  last_message_content: z.string().nullable(),
  assignee: z.object({ type: z.enum(["ai_assistant", "human_operator", "unassigned"]) }),
  visitor_name: z.string().nullable(),
  visitor_email: z.string().nullable(),
});

export const conversationRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api_core/conversations",
    summary: "List conversations",
    auth: ["scenario_token"],
    rateLimit: quickchatLimit("quickchatRead"),
    query: PaginationQuery,
    responses: { 200: { description: "A page of conversations", schema: paginated(ConversationItem) }, ...quickchatErrorResponses },
    handler: (ctx, req) => listConversations(ctx, parsePagination(req.query as Record<string, unknown>)),
  },
];
