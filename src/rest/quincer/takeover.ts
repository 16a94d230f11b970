import { z } from "zod";
import { agentMessageView, getAgentTranscript, takeoverState } from "../../services/agent-transcript.ts";
import { handBackConversation, replyToConversation, takeOverConversation } from "../../services/takeover.ts";
import type { RouteDef } from "../route.ts";
import { developerLimit, QuincerError, quincerErrors as errors } from "./shared.ts";

// The external-agent (takeover) endpoints: read a conversation, take it over, reply as a human
// agent, hand it back. Rules live in src/services/takeover.ts (shared with GraphQL).

const Params = z.object({ id: z.string() });
const idOf = (params: unknown) => (params as { id: string }).id;

const Member = z.object({ id: z.string(), name: z.string(), kind: z.enum(["human", "external_agent"]), avatarUrl: z.string().nullable() });
const Takeover = z
  .object({ member: Member.nullable(), credentialId: z.string().nullable(), takenOverAt: z.string().nullable(), heldByYou: z.boolean() })
  .nullable();
const Assignee = z.object({ type: z.enum(["ai_assistant", "human_operator", "unassigned"]), member: Member.nullable() });
const State = z.object({ id: z.string(), status: z.enum(["active", "human_active"]), assignee: Assignee, takeover: Takeover });
const Translation = z.object({
  translated: z.boolean(),
  original: z.string().optional().describe("What the author wrote, when the visitor received a translation"),
  targetLanguage: z.string().nullable().describe("The conversation's language: what the message was (or would have been) translated into"),
  reason: z
    .enum(["translator_not_configured", "conversation_language_unknown", "already_in_conversation_language", "translator_failed"])
    .optional()
    .describe("Why the message went out untranslated"),
});
const Message = z.object({
  id: z.string(),
  ord: z.number().int(),
  type: z.string(),
  author: z.string(),
  content: z.string().describe("What the visitor sees"),
  createdAt: z.string(),
  member: Member.optional().describe("The member who wrote a human_operator message or log line"),
  handoffState: z.string().optional(),
  translation: Translation.optional(),
});
const Transcript = z.object({
  id: z.string(),
  widgetId: z.string(),
  ord: z.number().int(),
  status: z.enum(["active", "human_active"]),
  title: z.string(),
  source: z.string(),
  terminated: z.boolean(),
  resolutionStatus: z.string(),
  language: z.string().nullable().describe("The visitor's most frequent language"),
  url: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  visitor: z.object({ name: z.string().nullable(), email: z.string().nullable(), phone: z.string().nullable() }),
  assignee: Assignee,
  takeover: Takeover,
  handoff: z.object({
    phase: z.string(),
    trigger: z.string().nullable(),
    offeredAt: z.string().nullable(),
    handedOffAt: z.string().nullable(),
    summary: z.string().nullable(),
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastMessageAt: z.string().nullable(),
  messages: z.array(Message),
});

export const takeoverRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/conversations/:id",
    summary: "Fetch a conversation's full transcript, metadata and takeover state (scope conversations:read)",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    params: Params,
    responses: { 200: { description: "Transcript and metadata", schema: Transcript }, ...errors },
    handler: (ctx, req) => getAgentTranscript(ctx, idOf(req.params)),
  },
  {
    method: "POST",
    path: "/api/v1/conversations/:id/takeover",
    summary: "Claim a conversation: the AI stops responding (scope conversations:takeover)",
    auth: ["developer"],
    rateLimit: developerLimit("write"),
    params: Params,
    responses: {
      200: { description: "Taken over (or already held by the caller)", schema: State },
      ...errors,
      409: { description: "Another agent holds the conversation", schema: QuincerError },
    },
    handler: async (ctx, req) => takeoverState(ctx, await takeOverConversation(ctx, idOf(req.params))),
  },
  {
    method: "POST",
    path: "/api/v1/conversations/:id/reply",
    summary: "Post a human-agent message, translated to the visitor's language when a translator is configured (scope conversations:reply)",
    auth: ["developer"],
    rateLimit: developerLimit("write"),
    params: Params,
    body: z.object({ message: z.string().max(10_000).describe("The reply (max 10,000 characters); `content` is accepted too") }),
    responses: {
      201: { description: "The stored message", schema: Message },
      ...errors,
      409: { description: "The caller does not hold the takeover", schema: QuincerError },
      422: { description: "message missing, blank or too long", schema: QuincerError },
    },
    handler: async (ctx, req, reply) => {
      const { row } = await replyToConversation(ctx, idOf(req.params), req.body);
      reply.status(201);
      return agentMessageView(ctx, row);
    },
  },
  {
    method: "POST",
    path: "/api/v1/conversations/:id/handback",
    summary: "Release the takeover: the AI resumes (scope conversations:handback)",
    auth: ["developer"],
    rateLimit: developerLimit("write"),
    params: Params,
    responses: {
      200: { description: "Handed back", schema: State },
      ...errors,
      403: { description: "The key lacks the scope, or another agent holds the conversation", schema: QuincerError },
      409: { description: "Nobody holds the conversation", schema: QuincerError },
    },
    handler: async (ctx, req) => takeoverState(ctx, await handBackConversation(ctx, idOf(req.params))),
  },
];
