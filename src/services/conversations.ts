import { z } from "zod";
import { Prisma } from "../generated/sqlite/client.ts";
import type { ConversationView, EventView } from "../events/live.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation, operatorScenario } from "./conversation-access.ts";
import { conversationView, eventView, type ConversationRow } from "./conversation-view.ts";
import type { Page, Pagination } from "./pagination.ts";
import { parseInput, parseQuery } from "./validation.ts";

// The Quickchat conversation routes (list, details, events) and the Quincer transcript. A list costs
// the same few statements however long the page (ids + count, then the rows by id): its JSON reads
// only conversation rows, whose summary fields (last message, unread, language…) the conversation
// log keeps current as events are appended.

export const ASSIGNEE_TYPES = ["ai_assistant", "human_operator", "unassigned"] as const;
export const RESOLUTION_STATUSES = ["open", "resolved"] as const;
const MAX_QUERY_LENGTH = 200;

/** The list filters as services take them (REST parses query strings into this; GraphQL can too). */
export const ConversationFilters = z
  .object({
    query: z.string().trim().max(MAX_QUERY_LENGTH).optional(),
    assignee_type: z.enum(ASSIGNEE_TYPES).optional(),
    source: z.string().max(100).optional(),
    resolution_status: z.enum(RESOLUTION_STATUSES).optional(),
    created_timestamp_start_date: z.date().optional(),
    created_timestamp_end_date: z.date().optional(),
    last_message_at_start_date: z.date().optional(),
    last_message_at_end_date: z.date().optional(),
    most_frequent_language: z.string().max(35).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    for (const prefix of ["created_timestamp", "last_message_at"] as const) {
      const start = f[`${prefix}_start_date`];
      const end = f[`${prefix}_end_date`];
      if (start && end && end < start) {
        ctx.addIssue({ code: "custom", path: [`${prefix}_end_date`], message: `must not be before ${prefix}_start_date` });
      }
    }
  });
export type ConversationFilters = z.output<typeof ConversationFilters>;

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * An ISO-8601 date or date-time. A time without an offset is UTC. A bare date is that day's
 * start, or, as an end bound, that day's last millisecond, so `…_end_date=2026-01-15` includes
 * the whole of the 15th. Impossible dates (2026-02-30, 25:00) are rejected, not rolled over.
 */
export function parseIsoDateTime(value: string, bound: "start" | "end" = "start"): Date | null {
  const m = ISO_8601.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  if (n(mo) < 1 || n(mo) > 12 || n(d) < 1 || n(h) > 23 || n(mi) > 59 || n(s) > 59 || n(oh) > 23 || n(om) > 59) return null;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const local = Date.UTC(n(y), n(mo) - 1, n(d), n(h), n(mi), n(s), ms);
  const check = new Date(Date.UTC(n(y), n(mo) - 1, n(d)));
  if (check.getUTCFullYear() !== n(y) || check.getUTCMonth() !== n(mo) - 1 || check.getUTCDate() !== n(d)) return null;
  const offset = sign ? (sign === "-" ? -1 : 1) * (n(oh) * 60 + n(om)) * 60_000 : 0;
  const dateOnly = h === undefined;
  return new Date(local - offset + (dateOnly && bound === "end" ? 86_400_000 - 1 : 0));
}

const blankIsAbsent = <S extends z.ZodType>(schema: S) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());
const isoQuery = (bound: "start" | "end") =>
  blankIsAbsent(
    z.string().transform((v, ctx) => {
      const date = parseIsoDateTime(v.trim(), bound);
      if (!date) {
        ctx.addIssue({ code: "custom", message: "must be an ISO-8601 date or date-time, e.g. 2026-01-15T10:30:00Z" });
        return z.NEVER;
      }
      return date;
    }),
  );
const enumQuery = <T extends readonly [string, ...string[]]>(values: T) =>
  blankIsAbsent(z.enum(values, { error: `must be one of ${values.join(", ")}` }));

/** The list filters as REST query strings (an empty value is the same as none). */
export const ConversationFiltersQuery = z.object({
  query: blankIsAbsent(z.string().max(MAX_QUERY_LENGTH)),
  assignee_type: enumQuery(ASSIGNEE_TYPES),
  source: blankIsAbsent(z.string().max(100)),
  resolution_status: enumQuery(RESOLUTION_STATUSES),
  created_timestamp_start_date: isoQuery("start"),
  created_timestamp_end_date: isoQuery("end"),
  last_message_at_start_date: isoQuery("start"),
  last_message_at_end_date: isoQuery("end"),
  most_frequent_language: blankIsAbsent(z.string().max(35)),
});

export function parseConversationFilters(query: Record<string, unknown>): ConversationFilters {
  const picked = Object.fromEntries(Object.keys(ConversationFiltersQuery.shape).map((k) => [k, query[k]]));
  const parsed = parseQuery(ConversationFiltersQuery, picked);
  // Range order is checked on the typed filters, still as a bad query string (400).
  return parseQuery(ConversationFilters, Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The WHERE of a filtered list of one scenario's conversations, as SQL both providers understand.
 * Raw SQL because the text search needs LIKE with an ESCAPE clause: Prisma's `contains` leaves
 * % and _ live, and SQLite has no other way to match them literally.
 */
function filterSql(scenarioId: string, f: ConversationFilters): Prisma.Sql {
  const conds: Prisma.Sql[] = [Prisma.sql`c."scenarioId" = ${scenarioId}`];
  if (f.assignee_type) conds.push(Prisma.sql`c."assigneeType" = ${f.assignee_type}`);
  if (f.source) conds.push(Prisma.sql`c."source" = ${f.source}`);
  if (f.resolution_status) conds.push(Prisma.sql`c."resolutionStatus" = ${f.resolution_status}`);
  if (f.most_frequent_language) conds.push(Prisma.sql`c."mostFrequentLanguage" = ${f.most_frequent_language}`);
  const created = Prisma.sql`c."createdAt"`;
  if (f.created_timestamp_start_date) conds.push(Prisma.sql`${created} >= ${f.created_timestamp_start_date}`);
  if (f.created_timestamp_end_date) conds.push(Prisma.sql`${created} <= ${f.created_timestamp_end_date}`);
  // A conversation without messages shows created_at as its last_message_at; filter it the same way.
  const last = Prisma.sql`COALESCE(c."lastMessageAt", c."createdAt")`;
  if (f.last_message_at_start_date) conds.push(Prisma.sql`${last} >= ${f.last_message_at_start_date}`);
  if (f.last_message_at_end_date) conds.push(Prisma.sql`${last} <= ${f.last_message_at_end_date}`);
  const q = f.query?.trim();
  if (q) {
    const pattern = `%${q.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    const any = [
      Prisma.sql`EXISTS (SELECT 1 FROM "ConversationEvent" e WHERE e."conversationId" = c."id" AND e."type" = 'message' AND lower(e."content") LIKE ${pattern} ESCAPE '\\')`,
    ];
    const ord = /^#?(\d{1,9})$/.exec(q);
    if (ord) any.push(Prisma.sql`c."ord" = ${Number(ord[1])}`);
    if (UUID.test(q)) any.push(Prisma.sql`c."id" = ${q.toLowerCase()}`);
    conds.push(Prisma.sql`(${Prisma.join(any, " OR ")})`);
  }
  return Prisma.join(conds, " AND ");
}

/**
 * One page of a scenario's filtered conversations, newest first: the ids in order and the total
 * (two statements; GraphQL lists can load the rows by id with their own selection).
 */
export async function conversationPage(
  ctx: Pick<ServiceContext, "db">,
  scenarioId: string,
  filters: ConversationFilters,
  page: Pagination,
): Promise<{ ids: string[]; count: number }> {
  const where = filterSql(scenarioId, parseInput(ConversationFilters, filters));
  const [rows, total] = await Promise.all([
    ctx.db.$queryRaw<{ id: string }[]>`SELECT c."id" FROM "Conversation" c WHERE ${where} ORDER BY c."createdAt" DESC, c."ord" DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
    ctx.db.$queryRaw<{ n: number | bigint }[]>`SELECT COUNT(*) AS n FROM "Conversation" c WHERE ${where}`,
  ]);
  return { ids: rows.map((r) => String(r.id)), count: Number(total[0]?.n ?? 0) };
}

/** A page of a scenario's filtered conversation rows, newest first, and the filtered total (three statements). */
export async function conversationRows(
  ctx: Pick<ServiceContext, "db">,
  scenarioId: string,
  filters: ConversationFilters,
  page: Pagination,
): Promise<{ rows: ConversationRow[]; count: number }> {
  const { ids, count } = await conversationPage(ctx, scenarioId, filters, page);
  const byId = new Map(ids.length ? (await ctx.db.conversation.findMany({ where: { id: { in: ids } } })).map((r) => [r.id, r]) : []);
  return { rows: ids.map((id) => byId.get(id)).filter((r) => r !== undefined), count };
}

// The documented JSON, in the documented key order, picked from the shared view.
const LIST_KEYS = [
  "id", "ord", "created_at", "last_message_at", "title", "source", "terminated", "resolution_status",
  "has_unread_messages", "supports_inbox_control", "last_message_content", "most_frequent_language", "assignee",
] as const;
const VISITOR_KEYS = ["visitor_name", "visitor_email", "visitor_phone_number", "visitor_label"] as const;
const DETAIL_KEYS = ["url", "client_metadata", "last_visitor_message_at", "unified_analysis"] as const;
const EVENT_KEYS = [
  "id", "ord", "created_at", "content", "author", "handoff_state", "message_insights", "feedback",
  "client_metadata", "sources_generated", "is_welcome", "attachments",
] as const;

type Assignee = { assignee: { type: ConversationView["assignee"]["type"] } };
export type ConversationListItem = Omit<Pick<ConversationView, (typeof LIST_KEYS)[number] | (typeof VISITOR_KEYS)[number]>, "assignee"> & Assignee;
export type ConversationDetails = ConversationListItem & Pick<ConversationView, (typeof DETAIL_KEYS)[number]>;
export type ConversationEventItem = { type: EventView["type"]; data: Pick<EventView, (typeof EVENT_KEYS)[number]> };

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, from[k]])) as Pick<T, K>;
}

function listItem(v: ConversationView): ConversationListItem {
  return { ...pick(v, LIST_KEYS), assignee: { type: v.assignee.type }, ...pick(v, VISITOR_KEYS) };
}

/** Quickchat list: one scenario's conversations, filtered, newest first. */
export async function listConversations(
  ctx: ServiceContext,
  filters: ConversationFilters,
  page: Pagination,
  forScenario?: string,
): Promise<Page<ConversationListItem>> {
  const { scenarioId } = await operatorScenario(ctx, "read", forScenario);
  const { rows, count } = await conversationRows(ctx, scenarioId, filters, page);
  return { items: rows.map((r) => listItem(conversationView(r))), offset: page.offset, limit: page.limit, count };
}

/** Quickchat details: the list fields plus url, client_metadata, last_visitor_message_at, unified_analysis. */
export async function getConversationDetails(ctx: ServiceContext, id: string): Promise<ConversationDetails> {
  const { conversation } = await operatorConversation(ctx, id, "read");
  const v = conversationView(conversation);
  return { ...pick(v, LIST_KEYS), assignee: { type: v.assignee.type }, ...pick(v, DETAIL_KEYS), ...pick(v, VISITOR_KEYS) };
}

/** Quickchat events: messages, tracked links and log lines in ord order, paginated. */
export async function listConversationEvents(ctx: ServiceContext, id: string, page: Pagination): Promise<Page<ConversationEventItem>> {
  const { conversation } = await operatorConversation(ctx, id, "read");
  const where = { conversationId: conversation.id };
  const [rows, count] = await Promise.all([
    ctx.db.conversationEvent.findMany({
      where,
      orderBy: { ord: "asc" },
      skip: page.offset,
      take: page.limit,
      include: { attachments: { orderBy: { id: "asc" } } },
    }),
    ctx.db.conversationEvent.count({ where }),
  ]);
  const items = rows.map((r) => {
    const v = eventView(r);
    return { type: v.type, data: pick(v, EVENT_KEYS) };
  });
  return { items, offset: page.offset, limit: page.limit, count };
}
