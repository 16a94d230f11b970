import { z } from "zod";
import type { Principal } from "../../auth/scopes.ts";
import { getConversationTranscript } from "../../services/conversations.ts";
import { developerLimitMessage, POLICIES } from "../../services/rate-limit.ts";
import { quincerDialect } from "../errors.ts";
import type { RouteDef, RouteGroup } from "../route.ts";

const QuincerError = z.object({ error: z.string() });
const errors = {
  401: { description: "Missing, invalid, expired or revoked developer key", schema: QuincerError },
  403: { description: "The key lacks the route's scope", schema: QuincerError },
  404: { description: "No such object in the key's workspace", schema: QuincerError },
  429: { description: "Rate limit exceeded; the message says how many requests remain", schema: QuincerError },
};

/** Developer keys: 100 reads and 30 writes per minute per key, across all routes (and GraphQL). */
export const developerLimit = (kind: "read" | "write") => (p: Principal) => ({
  policy: kind === "read" ? POLICIES.developerRead : POLICIES.developerWrite,
  key: p.kind === "system" ? "system" : p.credentialId,
  message: developerLimitMessage(kind),
});

const Transcript = z.object({
  id: z.string(),
  widgetId: z.string(),
  ord: z.number().int(),
  status: z.enum(["active", "human_active"]),
  title: z.string(),
  source: z.string(),
  terminated: z.boolean(),
  visitor: z.object({ name: z.string().nullable(), email: z.string().nullable() }),
  createdAt: z.string(),
  updatedAt: z.string(),
  messages: z.array(
    z.object({ id: z.string(), ord: z.number().int(), type: z.string(), author: z.string(), content: z.string(), createdAt: z.string() }),
  ),
});

const routes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/conversations/:id",
    summary: "Fetch a conversation's full transcript and metadata (scope conversations:read)",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    params: z.object({ id: z.string() }),
    responses: { 200: { description: "Transcript and metadata", schema: Transcript }, ...errors },
    handler: (ctx, req) => getConversationTranscript(ctx, (req.params as { id: string }).id),
  },
];

export const quincerGroup: RouteGroup = { dialect: quincerDialect, routes };
