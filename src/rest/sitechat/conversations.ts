import { z } from "zod";
import {
  createVisitorConversation,
  listVisitorMessages,
  MESSAGE_MAX_CHARS,
  sendVisitorReply,
} from "../../services/visitor-chat.ts";
import type { RouteDef } from "../route.ts";
import { auth, SiteError, siteErrors, siteLimit } from "./common.ts";
import { readReplyForm } from "./multipart.ts";

const VisitorTokenParams = z.object({ visitor_token: z.string().describe("The visitor token the conversation was created with") });
type VisitorTokenParams = z.infer<typeof VisitorTokenParams>;

const CreateBody = z.object({
  name: z.string().describe("Contact name (at most 200 characters)"),
  email: z.string().describe("Valid email address"),
  message: z.string().max(MESSAGE_MAX_CHARS).describe("Initial message (max 10,000 characters)"),
  visitor_token: z.string().min(8).max(200).describe("Unique visitor identifier: 8–200 of A–Z a–z 0–9 - _ . ~; the visitor's secret"),
  url: z.string().optional().describe("Page the visitor started on (http/https URL)"),
});

const Message = z.object({
  direction: z.enum(["inbound", "outbound"]),
  body: z.string(),
  timestamp: z.string().describe("ISO 8601 with milliseconds, UTC"),
  author: z.string(),
  attachments: z
    .array(z.object({ id: z.number().int(), filename: z.string(), content_type: z.string(), size: z.number().int(), url: z.string() }))
    .optional()
    .describe("Only on messages with files; url is the download path (site key required)"),
});

export const conversationRoutes: RouteDef[] = [
  {
    method: "POST",
    path: "/api/v1/chat/conversations",
    summary:
      "Create a conversation (site key, 5 req/min). conversation_token is the conversation's id: with the visitor token it identifies the visitor's conversation on GraphQL subscriptions.",
    auth,
    rateLimit: siteLimit("create", 5),
    body: CreateBody,
    responses: {
      201: { description: "Created, with the assistant's reply", schema: z.object({ conversation_token: z.string(), auto_reply: z.string() }) },
      409: { description: "The visitor token is already used in this scenario", schema: SiteError },
      422: { description: "Missing or invalid field", schema: SiteError },
      ...siteErrors,
    },
    handler: async (ctx, req, reply) => {
      const result = await createVisitorConversation(ctx, req.body);
      reply.status(201);
      return result;
    },
  },
  {
    method: "GET",
    path: "/api/v1/chat/conversations/:visitor_token/messages",
    summary: "Get messages (site key, 60 req/min); `since` returns only messages created strictly after it",
    auth,
    rateLimit: siteLimit("messages", 60),
    params: VisitorTokenParams,
    query: z.object({ since: z.string().optional().describe("ISO 8601 date-time with a time zone, e.g. 2025-01-15T10:30:00Z") }),
    responses: {
      200: { description: "The messages in order", schema: z.array(Message) },
      400: { description: "Malformed since", schema: SiteError },
      404: { description: "Conversation not found", schema: SiteError },
      ...siteErrors,
    },
    handler: (ctx, req) => listVisitorMessages(ctx, (req.params as VisitorTokenParams).visitor_token, req.query),
  },
  {
    method: "POST",
    path: "/api/v1/chat/conversations/:visitor_token/messages",
    summary:
      "Send a reply (site key, 20 req/min); reopens a closed conversation. JSON {message}, or multipart/form-data with a message field and files (files[]: images, PDF, plain text; 10 MB each, 5 at most)",
    auth,
    rateLimit: siteLimit("reply", 20),
    params: VisitorTokenParams,
    body: z.object({ message: z.string().max(MESSAGE_MAX_CHARS).describe("Reply text (max 10,000 characters)") }),
    responses: {
      201: { description: "Stored; the assistant's answer follows in the messages", schema: z.object({ status: z.literal("ok") }) },
      404: { description: "Conversation not found", schema: SiteError },
      422: { description: "Missing or too long message, or a file refused", schema: SiteError },
      ...siteErrors,
    },
    handler: async (ctx, req, reply) => {
      const limits = req.server.attachmentLimits;
      const read = async () =>
        req.isMultipart() ? readReplyForm(req, limits) : { message: (req.body as { message?: unknown } | null)?.message, files: [] };
      const result = await sendVisitorReply(ctx, (req.params as VisitorTokenParams).visitor_token, read, limits);
      reply.status(201);
      return result;
    },
  },
];
