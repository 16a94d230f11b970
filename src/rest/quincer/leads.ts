import { z } from "zod";
import { getLead, listLeads, updateLead } from "../../services/leads.ts";
import { parseLeadFilters, TAGS_MAX } from "../../services/leads-input.ts";
import { LEAD_SOURCES, leadView, TEMPERATURES } from "../../services/leads-view.ts";
import { PaginationQuery, parsePagination } from "../../services/pagination.ts";
import type { RouteDef } from "../route.ts";
import { developerLimit, QuincerError, quincerErrors as errors } from "./shared.ts";

// The leads endpoints (scopes leads:read / leads:write). Rules live in src/services/leads.ts,
// shared with GraphQL.

const Params = z.object({ id: z.string() });
const idOf = (params: unknown) => (params as { id: string }).id;
const queryOf = (query: unknown) => (query ?? {}) as Record<string, unknown>;

const Nullable = z.string().nullable();
const Bant = z.object({ budget: Nullable, authority: Nullable, need: Nullable, timeline: Nullable });
const Lead = z.object({
  id: z.string(),
  widgetId: z.string().nullable().describe("The widget (assistant) the lead came through"),
  name: Nullable,
  email: Nullable,
  phone: Nullable,
  company: Nullable,
  stage: z.string().describe("A stage key of the workspace's pipeline (default: new, contacted, qualified, proposal, won, lost)"),
  temperature: z.enum(TEMPERATURES),
  tags: z.array(z.string()),
  score: z.number().int().min(0).max(100),
  assignedTo: z.string().nullable().describe("The assigned team member's id"),
  assignee: z.object({ id: z.string(), name: z.string(), kind: z.string(), avatarUrl: z.string().nullable() }).nullable(),
  bant: Bant,
  source: z.enum(LEAD_SOURCES).describe("How the lead was captured"),
  conversationIds: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const Task = z.object({
  id: z.string(),
  type: z.string(),
  status: z.enum(["scheduled", "running", "completed", "failed"]),
  conversationId: z.string().nullable(),
  assignedTo: z.string().nullable(),
  scheduledAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  result: z.unknown(),
  error: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const ListQuery = PaginationQuery.extend({
  widgetId: z.string().optional(),
  stage: z.string().optional(),
  temperature: z.enum(TEMPERATURES).optional(),
  assignedTo: z.string().optional().describe('A team member id, or "unassigned"'),
  updatedSince: z.string().optional().describe("ISO 8601 date-time with a time zone; inclusive. The list is then oldest change first"),
});

const Patch = z
  .object({
    stage: z.string(),
    temperature: z.enum(TEMPERATURES),
    tags: z.array(z.string()).max(TAGS_MAX),
    score: z.number().int().min(0).max(100),
    assignedTo: z.string().nullable().describe("A team member of the workspace, or null to unassign"),
    name: Nullable,
    email: Nullable,
    phone: Nullable,
    company: Nullable,
    bant: Bant.partial(),
  })
  .partial()
  .strict();

export const leadRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/leads",
    summary: "List leads, most recently changed first (oldest change first with updatedSince); filters widgetId, stage, temperature, assignedTo, updatedSince (scope leads:read)",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    query: ListQuery,
    responses: {
      200: {
        description: "One page: items, offset, limit, count (all matching)",
        schema: z.object({ items: z.array(Lead), offset: z.number().int(), limit: z.number().int(), count: z.number().int() }),
      },
      400: { description: "Malformed updatedSince, limit or offset", schema: QuincerError },
      ...errors,
      422: { description: "Unknown stage or temperature", schema: QuincerError },
    },
    handler: (ctx, req) => listLeads(ctx, parseLeadFilters(queryOf(req.query)), parsePagination(queryOf(req.query))),
  },
  {
    method: "GET",
    path: "/api/v1/leads/:id",
    summary: "Full lead record: contact details, BANT, tags, conversations and the task history (scope leads:read)",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    params: Params,
    responses: { 200: { description: "The lead", schema: Lead.extend({ activities: z.array(Task) }) }, ...errors },
    handler: (ctx, req) => getLead(ctx, idOf(req.params)),
  },
  {
    method: "PATCH",
    path: "/api/v1/leads/:id",
    summary: "Update stage, temperature, tags, score, assignment, contact info or BANT; only the fields sent change (scope leads:write)",
    auth: ["developer"],
    rateLimit: developerLimit("write"),
    params: Params,
    body: Patch,
    responses: {
      200: { description: "The updated lead", schema: Lead },
      ...errors,
      409: { description: "Another lead of the workspace has this email address or phone number", schema: QuincerError },
      422: { description: "Unknown field or stage, bad temperature, score outside 0–100, invalid email or phone, assignee not in the workspace", schema: QuincerError },
    },
    handler: async (ctx, req) => leadView(await updateLead(ctx, idOf(req.params), req.body)),
  },
];
