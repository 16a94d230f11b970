import { z } from "zod";
import {
  ASSIGNEE_TYPES,
  ConversationFiltersQuery,
  RESOLUTION_STATUSES,
  getConversationDetails,
  listConversationEvents,
  listConversations,
  parseConversationFilters,
} from "../../services/conversations.ts";
import { getConversationMetadata, MAX_METADATA_BYTES, setConversationMetadata } from "../../services/conversation-metadata.ts";
import { PaginationQuery, parsePagination } from "../../services/pagination.ts";
import type { RouteDef } from "../route.ts";
import { paginated, quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;
const errors = {
  ...quickchatErrorResponses,
  404: { description: "NOT_FOUND: no such conversation in the token's scenario", schema: quickchatErrorResponses[400].schema },
};
const q = (req: { query: unknown }) => (req.query ?? {}) as Record<string, unknown>;
const params = (req: { params: unknown }) => req.params as Record<string, string>;
const JsonObject = z.record(z.string(), z.unknown());

const ConversationItem = z.object({
  id: z.string(),
  ord: z.number().int(),
  created_at: z.string(),
  last_message_at: z.string(),
  title: z.string(),
  source: z.string(),
  terminated: z.boolean(),
  resolution_status: z.enum(RESOLUTION_STATUSES),
  has_unread_messages: z.boolean(),
  supports_inbox_control: z.boolean(),
  last_message_content: z.string().nullable(),
  most_frequent_language: z.string().nullable(),
  assignee: z.object({ type: z.enum(ASSIGNEE_TYPES) }),
  visitor_name: z.string().nullable(),
  visitor_email: z.string().nullable(),
  visitor_phone_number: z.string().nullable(),
  visitor_label: z.string().nullable(),
});

const ConversationDetails = ConversationItem.extend({
  url: z.string().nullable(),
  client_metadata: JsonObject.nullable(),
  last_visitor_message_at: z.string().nullable(),
  unified_analysis: z
    .object({
      sentiment: z.string(),
      resolution_status: z.string(),
      topic: z.string().nullable(),
      is_flagged: z.boolean(),
      flag_reason: z.string().nullable(),
    })
    .nullable(),
});

const ConversationEvent = z.object({
  type: z.enum(["message", "tracked_link", "log"]),
  data: z.object({
    id: z.string(),
    ord: z.number().int(),
    created_at: z.string(),
    content: z.string(),
    author: z.enum(["ai_assistant", "visitor", "human_operator"]),
    handoff_state: z.string().nullable(),
    message_insights: JsonObject.nullable(),
    feedback: JsonObject.nullable(),
    client_metadata: JsonObject.nullable(),
    sources_generated: z.array(z.object({ article_id: z.number().int(), title: z.string(), url: z.string().nullable() })),
    is_welcome: z.boolean(),
    attachments: z.array(z.object({ id: z.number().int(), filename: z.string(), content_type: z.string(), size: z.number().int() })),
  }),
});

const ConversationParams = z.object({ conversation_id: z.string().describe("The conversation's UUID") });
const MetadataParams = z.object({ conv_id: z.string().describe("The conversation's UUID") });
const Metadata = z.object({ metadata: JsonObject });
const SetMetadataBody = z.object({
  metadata: JsonObject.describe(
    `Keys to store: each replaces the stored key of that name, other stored keys stay, null removes a key. ` +
      `The result must satisfy the scenario's metadata JSON schema (when set) and stay within ${MAX_METADATA_BYTES} bytes as JSON.`,
  ),
});

const FiltersQuery = PaginationQuery.extend(ConversationFiltersQuery.shape).describe(
  "Dates are ISO-8601 (a time without offset is UTC; a bare date as an end bound covers that whole day)",
);

export const conversationRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api_core/conversations",
    summary: "List conversations, newest first (query matches the ord, the UUID or message text, ignoring case)",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    query: FiltersQuery,
    responses: { 200: { description: "A page of conversations", schema: paginated(ConversationItem) }, ...quickchatErrorResponses },
    handler: (ctx, req) => listConversations(ctx, parseConversationFilters(q(req)), parsePagination(q(req))),
  },
  {
    method: "GET",
    path: "/v1/api_core/conversations/:conversation_id/",
    summary: "Get a conversation's details (the list fields plus url, client_metadata, last_visitor_message_at, unified_analysis)",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    params: ConversationParams,
    responses: { 200: { description: "The conversation", schema: ConversationDetails }, ...errors },
    handler: (ctx, req) => getConversationDetails(ctx, params(req).conversation_id!),
  },
  {
    method: "GET",
    path: "/v1/api_core/conversations/:conversation_id/events/",
    summary: "List a conversation's events (messages, tracked links, log entries) in ord order",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    params: ConversationParams,
    query: PaginationQuery,
    responses: { 200: { description: "A page of events", schema: paginated(ConversationEvent) }, ...errors },
    handler: (ctx, req) => listConversationEvents(ctx, params(req).conversation_id!, parsePagination(q(req))),
  },
  {
    method: "GET",
    path: "/v1/api_core/conversations/:conv_id/metadata",
    summary: "Get a conversation's metadata ({} when none)",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    params: MetadataParams,
    responses: { 200: { description: "The metadata", schema: Metadata }, ...errors },
    handler: (ctx, req) => getConversationMetadata(ctx, params(req).conv_id!),
  },
  {
    method: "POST",
    path: "/v1/api_core/conversations/:conv_id/metadata",
    summary: "Create or update a conversation's metadata (merges keys; validated against the scenario's JSON schema)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: MetadataParams,
    body: SetMetadataBody,
    responses: { 200: { description: "The stored metadata after the update", schema: Metadata }, ...errors },
    handler: (ctx, req) => setConversationMetadata(ctx, params(req).conv_id!, req.body),
  },
];
