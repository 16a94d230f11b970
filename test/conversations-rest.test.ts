import { Ajv2020 } from "ajv/dist/2020.js";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { appendEvent } from "../src/services/conversation-log.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError } from "./helpers/http.ts";

// The Quickchat conversation routes: GET /v1/api_core/conversations (every filter), details, events.

const LIST = "/v1/api_core/conversations";
const LIST_KEYS = [
  "id", "ord", "created_at", "last_message_at", "title", "source", "terminated", "resolution_status",
  "has_unread_messages", "supports_inbox_control", "last_message_content", "most_frequent_language", "assignee",
  "visitor_name", "visitor_email", "visitor_phone_number", "visitor_label",
];
const DETAIL_KEYS = [
  ...LIST_KEYS.slice(0, 13), "url", "client_metadata", "last_visitor_message_at", "unified_analysis", ...LIST_KEYS.slice(13),
];
const EVENT_DATA_KEYS = [
  "id", "ord", "created_at", "content", "author", "handoff_state", "message_insights", "feedback",
  "client_metadata", "sources_generated", "is_welcome", "attachments",
];

let server: TestServer;
let a: Tenant;
/** Tokens per area: Quickchat reads are limited to 120 per minute per token and endpoint. */
let listToken: string;
let filterToken: string;
let readToken: string;
let c1: string, c2: string, c3: string, c4: string;
let sibling: string;
let foreign: string;

const { call, callJson } = http(() => server);
const db = () => server.app.runtime.db;

beforeAll(async () => {
  server = await startServer();
  a = await seed(server.app).workspace("Alpha");
  [listToken, filterToken, readToken] = await Promise.all([a.token("read_all"), a.token("read_all"), a.token("read_all")]).then((t) => t.map((x) => x.secret));

  const one = await a.conversation(
    [
      { author: "visitor", content: "What is your RETURN policy?" },
      { author: "ai_assistant", content: "You can return items within 30 days." },
    ],
    { source: "widget", title: "Return policy question", visitorName: "John", visitorEmail: "john@example.com", at: new Date("2026-01-10T09:00:00Z") },
  );
  const two = await a.conversation([{ author: "visitor", content: "Wo ist meine Bestellung?" }], { source: "slack", at: new Date("2026-01-12T12:00:00Z") });
  const three = await a.conversation([], { source: "widget", at: new Date("2026-01-15T10:30:00Z") });
  const four = await a.conversation([{ author: "visitor", content: "Do you ship to Poland?" }], { source: "whatsapp", at: new Date("2026-01-20T08:00:00Z") });
  [c1, c2, c3, c4] = [one.id, two.id, three.id, four.id];
  // Fields only the chat flow, analysis and operator actions write.
  await db().conversation.update({ where: { id: c1 }, data: { mostFrequentLanguage: "en", visitorPhone: "+48 600 000 000", visitorLabel: "VIP" } });
  await db().conversation.update({ where: { id: c2 }, data: { mostFrequentLanguage: "de", assigneeType: "human_operator", resolutionStatus: "resolved", hasUnreadMessages: false } });
  await db().conversation.update({ where: { id: c3 }, data: { assigneeType: "unassigned", terminated: true } });
  await db().conversation.update({ where: { id: c4 }, data: { mostFrequentLanguage: "en", lastMessageAt: new Date("2026-01-25T18:00:00Z") } });

  // The same words elsewhere: another scenario of the workspace, another workspace.
  const s2 = await a.scenario("Alpha second");
  sibling = (await s2.conversation([{ author: "visitor", content: "What is your return policy?" }])).id;
  const b = await seed(server.app).workspace("Beta");
  foreign = (await b.conversation([{ author: "visitor", content: "What is your return policy?" }])).id;
});
afterAll(() => server?.stop());

/** The body validates against the response schema the route publishes in /openapi.json. */
let openapi: { paths: Record<string, Record<string, { responses: Record<string, { content: { "application/json": { schema: object } } }> }>> };
async function expectDocumented(method: string, docPath: string, status: number, body: unknown) {
  openapi ??= await (await fetch(`${server.url}/openapi.json`)).json();
  const schema = openapi.paths[docPath]![method]!.responses[String(status)]!.content["application/json"].schema;
  const validate = new Ajv2020({ strict: false }).compile(schema);
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
}

const ids = (page: { items: { id: string }[] }) => page.items.map((i) => i.id);
async function list(query: string, token = filterToken) {
  const res = await callJson(`${LIST}?${query}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe("GET /v1/api_core/conversations", () => {
  it("the documented example (limit=10&resolution_status=open) answers the documented shape", async () => {
    const res = await callJson(`${LIST}?limit=10&resolution_status=open`, { token: listToken });
    expect(res.status).toBe(200);
    await expectDocumented("get", LIST, 200, res.body);
    expect(Object.keys(res.body)).toEqual(["items", "offset", "limit", "count"]);
    expect(res.body).toMatchObject({ offset: 0, limit: 10, count: 3 });
    expect(ids(res.body)).toEqual([c4, c3, c1]);
    for (const item of res.body.items) {
      expect(Object.keys(item)).toEqual(LIST_KEYS);
      expect(Object.keys(item.assignee)).toEqual(["type"]);
    }
    expect(res.body.items[2]).toEqual({
      id: c1,
      ord: 1,
      created_at: "2026-01-10T09:00:00.000Z",
      last_message_at: "2026-01-10T09:00:00.000Z",
      title: "Return policy question",
      source: "widget",
      terminated: false,
      resolution_status: "open",
      has_unread_messages: true,
      supports_inbox_control: true,
      last_message_content: "You can return items within 30 days.",
      most_frequent_language: "en",
      assignee: { type: "ai_assistant" },
      visitor_name: "John",
      visitor_email: "john@example.com",
      visitor_phone_number: "+48 600 000 000",
      visitor_label: "VIP",
    });
    // No messages yet: last_message_at is the creation time, last_message_content null.
    expect(res.body.items[1]).toMatchObject({ id: c3, last_message_at: "2026-01-15T10:30:00.000Z", last_message_content: null, terminated: true });
  });

  it("newest first, paginated; the scenario's own conversations only", async () => {
    expect(ids(await list("", listToken))).toEqual([c4, c3, c2, c1]);
    const page = await list("limit=2&offset=1", listToken);
    expect(page).toMatchObject({ offset: 1, limit: 2, count: 4 });
    expect(ids(page)).toEqual([c3, c2]);
    expect(JSON.stringify(await list("limit=100", listToken))).not.toMatch(new RegExp(`${sibling}|${foreign}`));
  });

  it.each([
    ["query=return", () => [c1]],
    ["query=RETURN%20POLICY", () => [c1]],
    ["query=bestellung", () => [c2]],
    ["query=3", () => [c3, c1]], // ord 3, and "30 days" in c1's text
    ["query=%233", () => [c3]], // "#3": an ord only
    ["query=4", () => [c4]],
    ["query=%25", () => []], // LIKE wildcards are literal characters
    ["query=_", () => []],
    ["query=nothing%20like%20this", () => []],
    ["assignee_type=ai_assistant", () => [c4, c1]],
    ["assignee_type=human_operator", () => [c2]],
    ["assignee_type=unassigned", () => [c3]],
    ["source=widget", () => [c3, c1]],
    ["source=slack", () => [c2]],
    ["source=telegram", () => []],
    ["resolution_status=resolved", () => [c2]],
    ["most_frequent_language=en", () => [c4, c1]],
    ["most_frequent_language=de", () => [c2]],
    ["created_timestamp_start_date=2026-01-12T12:00:00Z", () => [c4, c3, c2]],
    ["created_timestamp_end_date=2026-01-12T12:00:00Z", () => [c2, c1]],
    ["created_timestamp_start_date=2026-01-11&created_timestamp_end_date=2026-01-15", () => [c3, c2]], // a bare end date covers its day
    ["created_timestamp_start_date=2026-01-15T11:30:00%2B01:00", () => [c4, c3]], // 10:30Z
    ["created_timestamp_start_date=2026-01-15T10:30:00.001Z", () => [c4]],
    ["created_timestamp_end_date=2026-01-10T09:00:00", () => [c1]], // no offset: UTC
    ["last_message_at_start_date=2026-01-21T00:00:00Z", () => [c4]], // c4's last message came later than its creation
    ["last_message_at_start_date=2026-01-14&last_message_at_end_date=2026-01-16", () => [c3]], // no messages: created_at counts
    ["last_message_at_end_date=2026-01-20T23:59:59Z", () => [c3, c2, c1]],
    ["source=widget&resolution_status=open&most_frequent_language=en", () => [c1]],
    ["query=&source=&assignee_type=", () => [c4, c3, c2, c1]], // empty values filter nothing
  ])("%s", async (query, expected) => {
    const page = await list(query);
    expect(ids(page)).toEqual(expected());
    expect(page.count).toBe(expected().length);
  });

  it("query matches the conversation UUID (any case) and never another scenario's", async () => {
    expect(ids(await list(`query=${c2}`))).toEqual([c2]);
    expect(ids(await list(`query=${c2.toUpperCase()}`))).toEqual([c2]);
    expect(ids(await list(`query=${sibling}`))).toEqual([]);
    expect(ids(await list(`query=${foreign}`))).toEqual([]);
  });

  it("count follows the filters while items follow the page", async () => {
    const page = await list("assignee_type=ai_assistant&limit=1&offset=1");
    expect(page).toMatchObject({ count: 2, offset: 1, limit: 1 });
    expect(ids(page)).toEqual([c1]);
  });

  it.each([
    ["created_timestamp_start_date=yesterday", "created_timestamp_start_date"],
    ["created_timestamp_end_date=2026-02-30", "created_timestamp_end_date"],
    ["last_message_at_start_date=2026-01-15T25:00:00Z", "last_message_at_start_date"],
    ["last_message_at_end_date=15%2F01%2F2026", "last_message_at_end_date"],
    ["created_timestamp_start_date=2026-01-15T10:30:00%2B2", "created_timestamp_start_date"],
    ["created_timestamp_start_date=2026-01-16&created_timestamp_end_date=2026-01-15T00:00:00Z", "created_timestamp_end_date"],
    ["last_message_at_start_date=2026-01-16&last_message_at_end_date=2026-01-14", "last_message_at_end_date"],
    ["resolution_status=closed", "resolution_status"],
    ["assignee_type=bot", "assignee_type"],
    ["source=widget&source=slack", "source"],
    [`query=${"x".repeat(201)}`, "query"],
    ["limit=0", "limit"],
  ])("%s → 400 BAD_REQUEST naming the parameter", async (query, param) => {
    const res = await callJson(`${LIST}?${query}`, { token: readToken });
    expect(res.status).toBe(400);
    await expectDocumented("get", LIST, 400, res.body);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST", new RegExp(`^${param}: `)));
  });

  it("names the expected date format", async () => {
    const res = await callJson(`${LIST}?created_timestamp_start_date=yesterday`, { token: readToken });
    expect(res.body.errors.root[0].message).toBe("created_timestamp_start_date: must be an ISO-8601 date or date-time, e.g. 2026-01-15T10:30:00Z");
  });
});

describe("GET /v1/api_core/conversations/{conversation_id}/", () => {
  beforeAll(async () => {
    await db().conversation.update({
      where: { id: c1 },
      data: {
        url: "https://shop.example.com/returns",
        clientMetadata: { userId: 12 },
        unifiedAnalysis: { sentiment: "neutral", resolution_status: "open", topic: "Return policy", is_flagged: false, flag_reason: null },
      },
    });
  });

  it("the documented example (trailing slash) answers every list field plus the detail fields", async () => {
    const res = await callJson(`${LIST}/${c1}/`, { token: readToken });
    expect(res.status).toBe(200);
    await expectDocumented("get", `${LIST}/{conversation_id}/`, 200, res.body);
    expect(Object.keys(res.body)).toEqual(DETAIL_KEYS);
    expect(res.body).toMatchObject({
      id: c1,
      ord: 1,
      title: "Return policy question",
      assignee: { type: "ai_assistant" },
      url: "https://shop.example.com/returns",
      client_metadata: { userId: 12 },
      last_visitor_message_at: "2026-01-10T09:00:00.000Z",
      unified_analysis: { sentiment: "neutral", resolution_status: "open", topic: "Return policy", is_flagged: false, flag_reason: null },
      visitor_name: "John",
    });
    // The detail response includes all fields from the list response, with the same values.
    const item = (await list("limit=100", readToken)).items.find((i: { id: string }) => i.id === c1);
    for (const key of LIST_KEYS) expect(res.body[key], key).toEqual(item[key]);
  });

  it("answers without the trailing slash too; empty detail fields are null", async () => {
    const res = await callJson(`${LIST}/${c3}`, { token: readToken });
    expect(res.status).toBe(200);
    await expectDocumented("get", `${LIST}/{conversation_id}/`, 200, res.body);
    expect(res.body).toMatchObject({ id: c3, url: null, client_metadata: null, last_visitor_message_at: null, unified_analysis: null, assignee: { type: "unassigned" } });
  });

  it.each([
    ["an unknown UUID", () => "00000000-0000-4000-8000-000000000000"],
    ["a malformed id", () => "conv-uuid-1234"],
    ["another scenario's conversation", () => sibling],
    ["another workspace's conversation", () => foreign],
  ])("%s → 404 NOT_FOUND", async (_what, id) => {
    for (const path of [`${LIST}/${id()}/`, `${LIST}/${id()}/events/`]) {
      const res = await callJson(path, { token: readToken });
      expect(res.status, path).toBe(404);
      await expectDocumented("get", `${LIST}/{conversation_id}/`, 404, res.body);
      expect(res.body).toEqual(quickchatError("NOT_FOUND", "Conversation not found"));
      expect(JSON.stringify(res.body)).not.toContain("return policy");
    }
  });
});

describe("GET /v1/api_core/conversations/{conversation_id}/events/", () => {
  let conv: string;
  beforeAll(async () => {
    const at = new Date("2026-01-15T10:30:00Z");
    const c = await a.conversation([], { source: "widget", at });
    conv = c.id;
    const file = await db().storedFile.create({
      data: { scenarioId: a.scenarioId, purpose: "attachment", contentType: "image/png", size: 3, sha256: "abc", data: Buffer.from("png") },
    });
    await server.app.runtime.sql.transaction(async (tx) => {
      await appendEvent(tx, conv, { author: "ai_assistant", content: "Hello! How can I help you today?", isWelcome: true }, at);
      await appendEvent(
        tx,
        conv,
        { author: "visitor", content: "What is your return policy?", clientMetadata: { page: "/returns" }, attachments: [{ fileId: file.id, filename: "receipt.png", contentType: "image/png", size: 3 }] },
        new Date(at.getTime() + 60_000),
      );
      await appendEvent(
        tx,
        conv,
        { author: "ai_assistant", content: "30 days.", sourcesGenerated: [{ article_id: 7, title: "Returns", url: null }], messageInsights: { answered: true } },
        new Date(at.getTime() + 120_000),
      );
      await appendEvent(tx, conv, { type: "tracked_link", author: "visitor", content: "https://shop.example.com/returns" }, new Date(at.getTime() + 180_000));
      await appendEvent(tx, conv, { type: "log", author: "human_operator", content: "Assigned to Ann", handoffState: "human_active" }, new Date(at.getTime() + 240_000));
    });
  });

  it("the documented example (?limit=20) answers {items: [{type, data}], offset, limit, count} in ord order", async () => {
    const res = await callJson(`${LIST}/${conv}/events/?limit=20`, { token: readToken });
    expect(res.status).toBe(200);
    await expectDocumented("get", `${LIST}/{conversation_id}/events/`, 200, res.body);
    expect(Object.keys(res.body)).toEqual(["items", "offset", "limit", "count"]);
    expect(res.body).toMatchObject({ offset: 0, limit: 20, count: 5 });
    for (const item of res.body.items) {
      expect(Object.keys(item)).toEqual(["type", "data"]);
      expect(Object.keys(item.data)).toEqual(EVENT_DATA_KEYS);
    }
    expect(res.body.items.map((i: { type: string; data: { ord: number } }) => [i.type, i.data.ord])).toEqual([
      ["message", 1], ["message", 2], ["message", 3], ["tracked_link", 4], ["log", 5],
    ]);
    expect(res.body.items[0]).toEqual({
      type: "message",
      data: {
        id: expect.any(String),
        ord: 1,
        created_at: "2026-01-15T10:30:00.000Z",
        content: "Hello! How can I help you today?",
        author: "ai_assistant",
        handoff_state: null,
        message_insights: null,
        feedback: null,
        client_metadata: null,
        sources_generated: [],
        is_welcome: true,
        attachments: [],
      },
    });
    expect(res.body.items[1].data).toMatchObject({
      author: "visitor",
      is_welcome: false,
      client_metadata: { page: "/returns" },
      attachments: [{ id: expect.any(Number), filename: "receipt.png", content_type: "image/png", size: 3 }],
    });
    expect(res.body.items[2].data).toMatchObject({ sources_generated: [{ article_id: 7, title: "Returns", url: null }], message_insights: { answered: true } });
    expect(res.body.items[4].data).toMatchObject({ author: "human_operator", handoff_state: "human_active" });
  });

  it("paginates with limit/offset (default limit 10), with or without the trailing slash", async () => {
    const page = await callJson(`${LIST}/${conv}/events?limit=2&offset=2`, { token: readToken });
    expect(page.body).toMatchObject({ offset: 2, limit: 2, count: 5 });
    expect(page.body.items.map((i: { data: { ord: number } }) => i.data.ord)).toEqual([3, 4]);
    const all = await callJson(`${LIST}/${conv}/events`, { token: readToken });
    expect(all.body).toMatchObject({ offset: 0, limit: 10, count: 5 });
    const past = await callJson(`${LIST}/${conv}/events/?offset=9`, { token: readToken });
    expect(past.body).toEqual({ items: [], offset: 9, limit: 10, count: 5 });
  });

  it.each(["limit=101", "limit=abc", "offset=-1"])("%s → 400", async (query) => {
    const res = await callJson(`${LIST}/${conv}/events/?${query}`, { token: readToken });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST"));
  });
});

describe("credentials", () => {
  it("missing, wrong, widget, developer and legacy credentials → 401 on every route", async () => {
    const keys = [undefined, "garbage", (await a.widgetKey()).secret, (await a.developerKey()).secret, (await a.legacyKey()).secret];
    for (const token of keys) {
      for (const path of [LIST, `${LIST}/${c1}/`, `${LIST}/${c1}/events/`]) {
        const res = await callJson(path, { token });
        expect(res.status, `${path} ${token}`).toBe(401);
        await expectDocumented("get", LIST, 401, res.body);
        expect(res.body).toEqual(quickchatError("PERMISSION_DENIED"));
      }
    }
    const siteKeyHeader = await call(LIST, { headers: { "x-site-key": (await a.widgetKey()).secret } });
    expect(siteKeyHeader.status).toBe(401);
  });

  it("a write_all token reads too", async () => {
    const write = (await a.token("write_all")).secret;
    expect((await call(`${LIST}/${c1}/`, { token: write })).status).toBe(200);
  });
});

describe("SQL statements per request", () => {
  // The same number of statements for a page of 1 and a page of 50: no per-row queries.
  async function statementsFor(path: string, token: string) {
    const sqlite = server.app.database.provider === "sqlite";
    const spy = sqlite ? vi.spyOn(Database.prototype, "prepare") : vi.spyOn(pg.Client.prototype, "query");
    try {
      const res = await callJson(path, { token });
      expect(res.status).toBe(200);
      const text = (arg: unknown) => (typeof arg === "string" ? arg : String((arg as { text?: string })?.text ?? ""));
      // The background job runner polls the Job table on its own schedule: not this request's work.
      const sql = spy.mock.calls.map((c) => text(c[0])).filter((q) => q && !/[`"]Job[`"]/.test(q));
      return { sql, body: res.body };
    } finally {
      spy.mockRestore();
    }
  }

  it("listing conversations and events costs the same for 1 and 50 rows", async () => {
    const t = await seed(server.app).workspace("Many");
    const token = (await t.token("read_all")).secret;
    const file = await db().storedFile.create({
      data: { scenarioId: t.scenarioId, purpose: "attachment", contentType: "text/plain", size: 1, sha256: "x", data: Buffer.from("x") },
    });
    let busy = "";
    for (let i = 0; i < 55; i++) {
      busy = (await t.conversation([{ author: "visitor", content: `hello ${i}` }, { author: "ai_assistant", content: `hi ${i}` }])).id;
    }
    await server.app.runtime.sql.transaction(async (tx) => {
      for (let i = 0; i < 55; i++) {
        const attachments = [{ fileId: file.id, filename: `f${i}.txt`, contentType: "text/plain", size: 1 }];
        await appendEvent(tx, busy, { author: "visitor", content: `more ${i}`, attachments }, new Date());
      }
    });
    for (const [path, filter] of [
      [LIST, ""],
      [LIST, "&query=hello&source=api&resolution_status=open&created_timestamp_start_date=2020-01-01"],
      [`${LIST}/${busy}/events/`, ""],
    ] as const) {
      await statementsFor(`${path}?limit=1${filter}`, token); // warm-up
      const one = await statementsFor(`${path}?limit=1${filter}`, token);
      const fifty = await statementsFor(`${path}?limit=50${filter}`, token);
      expect(one.body.items).toHaveLength(1);
      expect(fifty.body.items).toHaveLength(50);
      expect(one.sql.length).toBeGreaterThan(0);
      expect(fifty.sql.length, fifty.sql.join("\n")).toBe(one.sql.length);
    }
  });
});
