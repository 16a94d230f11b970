import { z } from "zod";
import { LegacyChatInput, legacyApiKey, legacyChat } from "../../services/legacy-chat.ts";
import type { RouteDef } from "../route.ts";
import { QuickchatError, quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const LegacyChatReply = z.object({
  ord_number: z.number().int().describe("Sequential message number of the reply in the conversation"),
  conv_id: z.string().describe("Conversation identifier (use to continue the conversation)"),
  reply: z.string().describe("AI Assistant's response (empty while a human operator holds the conversation)"),
});

export const legacyChatRoutes: RouteDef[] = [
  {
    method: "POST",
    path: "/chat",
    summary: "Send a message and get the assistant's reply (legacy auth: api_key and scenario_id in the body, no Bearer token)",
    auth: ["legacy"],
    credentialFrom: (req) => legacyApiKey(req.body),
    rateLimit: quickchatLimit("quickchatWrite"),
    body: LegacyChatInput,
    responses: {
      200: { description: "The reply", schema: LegacyChatReply },
      ...quickchatErrorResponses,
      401: { description: "PERMISSION_DENIED: invalid or revoked api_key, or a scenario_id that is not the key's", schema: QuickchatError },
      404: { description: "NOT_FOUND: conv_id is not a conversation of this scenario", schema: QuickchatError },
    },
    handler: (ctx, req) => legacyChat(ctx, req.body),
  },
];
