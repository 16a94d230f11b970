import { z } from "zod";
import { notFound, unauthenticated } from "../errors.ts";
import { requirePrincipal } from "./access.ts";
import { postVisitorMessage, startConversation, type VisitorMessage } from "./chat.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput } from "./validation.ts";

// POST /chat (Quickchat's legacy chat endpoint): the credential travels in the body as api_key with
// the scenario_id it belongs to; the reply comes back in the response. Conversations it starts have
// source "api" and no greeting: the greeting is what the widget shows when it opens, and an API
// caller asked a question, so the first event is the caller's message (ord 1) and the reply ord 2.

export const MAX_TEXT = 10_000;
export const MAX_MESSAGE_CONTEXT = 2_000;
export const MAX_CLIENT_METADATA_KEYS = 5;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MetadataValue = z.union([z.string().max(MAX_METADATA_VALUE), z.number(), z.boolean(), z.null()], {
  error: `values must be strings (at most ${MAX_METADATA_VALUE} characters), numbers, booleans or null`,
});

export const LegacyChatInput = z.object({
  api_key: z.string().describe("Your legacy API key"),
  scenario_id: z.string().describe("ID of the AI Assistant the key belongs to"),
  text: z
    .string()
    .max(MAX_TEXT, `must be at most ${MAX_TEXT} characters`)
    .refine((s) => s.trim().length > 0, "is required and must not be empty")
    .describe("User input message"),
  conv_id: z.string().optional().describe("Conversation ID; omit to start a new conversation"),
  message_context: z
    .string()
    .max(MAX_MESSAGE_CONTEXT, `must be at most ${MAX_MESSAGE_CONTEXT} characters`)
    .nullish()
    .describe("Additional per-message context passed to the AI"),
  client_metadata: z
    .record(z.string().min(1).max(MAX_METADATA_KEY), MetadataValue)
    .refine((m) => Object.keys(m).length <= MAX_CLIENT_METADATA_KEYS, `must have at most ${MAX_CLIENT_METADATA_KEYS} keys`)
    .nullish()
    .describe(`Custom key-value pairs (max ${MAX_CLIENT_METADATA_KEYS} keys) attached to the message`),
});

export interface LegacyChatReply {
  /** The reply's ord; the visitor message's when the assistant stays silent (a human holds the conversation). */
  ord_number: number;
  conv_id: string;
  reply: string;
}

/** The api_key a POST /chat body presents (the route authenticates it before the handler runs). */
export function legacyApiKey(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  const key = (body as { api_key?: unknown }).api_key;
  return typeof key === "string" && key ? key : undefined;
}

/**
 * Stores the message (in a new conversation or the named one) and answers inline. A scenario_id
 * that is not the key's is the same 401 as a wrong key, so callers learn nothing about scenarios.
 */
export async function legacyChat(ctx: ServiceContext, body: unknown): Promise<LegacyChatReply> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind !== "legacy" || !p.scenarioId) throw unauthenticated("Invalid credential");
  const input = parseInput(LegacyChatInput, body);
  if (input.scenario_id !== p.scenarioId) throw unauthenticated("Invalid credential");
  const message: VisitorMessage = {
    content: input.text,
    messageContext: input.message_context ?? null,
    clientMetadata: input.client_metadata ?? null,
  };

  if (input.conv_id === undefined) {
    const started = await startConversation(
      ctx,
      {
        workspaceId: p.workspaceId,
        scenarioId: p.scenarioId,
        source: "api",
        welcome: false,
      },
      message,
      "inline",
    );
    return replyOf(started.conversation.id, started.message!.ord, started.reply);
  }

  if (!UUID.test(input.conv_id)) throw notFound("Conversation");
  const conversation = await ctx.db.conversation.findUnique({ where: { id: input.conv_id }, select: { id: true, scenarioId: true } });
  if (!conversation || conversation.scenarioId !== p.scenarioId) throw notFound("Conversation");
  const posted = await postVisitorMessage(ctx, p.workspaceId, conversation.id, message, { mode: "inline", reopen: false });
  return replyOf(conversation.id, posted.message.ord, posted.reply);
}

function replyOf(conversationId: string, visitorOrd: number, reply: { ord: number; content: string } | null): LegacyChatReply {
  return reply ? { ord_number: reply.ord, conv_id: conversationId, reply: reply.content } : { ord_number: visitorOrd, conv_id: conversationId, reply: "" };
}
