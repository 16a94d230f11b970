import { z } from "zod";
import { ACTIVITY_STATUSES, ACTIVITY_TYPES, getActivity, listActivities, type ActivityFilters } from "../../services/activities.ts";
import { parseDateTime } from "../../services/leads-input.ts";
import { parsePagination, PaginationQuery } from "../../services/pagination.ts";
import { badRequest } from "../../errors.ts";
import type { RouteDef } from "../route.ts";
import { developerLimit, QuincerError, quincerErrors as errors } from "./shared.ts";

// The agent task log (scope tasks:read). Rules in src/services/activities.ts, shared with GraphQL.

const single = (name: string, v: unknown): string | undefined => {
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string") throw badRequest(`${name} must be given once`);
  return v;
};

function parseFilters(query: Record<string, unknown>): ActivityFilters {
  return {
    leadId: single("leadId", query.leadId),
    status: single("status", query.status),
    type: single("type", query.type),
    updatedSince: parseDateTime("updatedSince", single("updatedSince", query.updatedSince)),
  };
}

const Activity = z.object({
  id: z.string(),
  type: z.enum(ACTIVITY_TYPES),
  status: z.enum(ACTIVITY_STATUSES),
  leadId: z.string().nullable(),
  conversationId: z.string().nullable(),
  assignedTo: z.string().nullable().describe("The team member who scheduled the task"),
  scheduledAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  input: z.unknown().describe("What the task was asked to do (per type)"),
  result: z.unknown().describe("What it produced: a draft's emailId, the new score and BANT, what a CRM sync would export…"),
  error: z.string().nullable().describe("Why the last try failed"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const ActivityDetail = Activity.extend({
  lead: z.object({ id: z.string(), name: z.string().nullable(), email: z.string().nullable(), company: z.string().nullable(), stage: z.string() }).nullable(),
  execution: z.object({
    jobId: z.string().nullable(),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastError: z.string().nullable(),
    durationMs: z.number().int().nullable(),
  }),
});

const ListQuery = PaginationQuery.extend({
  leadId: z.string().optional(),
  status: z.enum(ACTIVITY_STATUSES).optional(),
  type: z.enum(ACTIVITY_TYPES).optional(),
  updatedSince: z.string().optional().describe("ISO 8601 date-time with a time zone; inclusive. Lists oldest change first when given"),
});

export const activityRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/activities",
    summary: "Agent task log, newest change first (scope tasks:read). Filters: leadId, status, type, updatedSince",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    query: ListQuery,
    responses: {
      200: {
        description: "One page of tasks",
        schema: z.object({ items: z.array(Activity), offset: z.number().int(), limit: z.number().int(), count: z.number().int() }),
      },
      400: { description: "Malformed filter or pagination (updatedSince not ISO 8601, limit out of range)", schema: QuincerError },
      401: errors[401],
      403: errors[403],
      422: { description: "Unknown status or type", schema: QuincerError },
      429: errors[429],
    },
    handler: async (ctx, req) => {
      const query = req.query as Record<string, unknown>;
      // Parsing first: a bad query string is a 400 whatever the credential may do.
      const filters = parseFilters(query);
      return listActivities(ctx, filters, parsePagination(query));
    },
  },
  {
    method: "GET",
    path: "/api/v1/activities/:id",
    summary: "Full activity record with execution and result data (scope tasks:read)",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    params: z.object({ id: z.string() }),
    responses: { 200: { description: "The task", schema: ActivityDetail }, ...errors },
    handler: (ctx, req) => getActivity(ctx, (req.params as { id: string }).id),
  },
];
