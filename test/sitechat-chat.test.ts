import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { hashVisitorToken } from "../src/services/conversation-access.ts";
import { appendEvent, insertConversation } from "../src/services/conversation-log.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { until } from "./helpers/wait.ts";

// The site-key widget chat API (/api/v1/chat/…): the documented examples and errors verbatim.
// Creates are limited to 5/min per key and visitor address, replies to 20: most tests take a
// fresh widget key.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const CONVERSATIONS = "/api/v1/chat/conversations";
const REQUIRED = { error: "Name, email, message, and visitor_token are required" };
const TOO_LONG = { error: "Message is too long (maximum 10000 characters)" };
const TAKEN = { error: "A conversation with this visitor token already exists" };
const NOT_FOUND = { error: "Conversation not found" };

let server: TestServer;
let a: Tenant;
let a2: Tenant;
let b: Tenant;
const { call, callJson } = http(() => server);

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  a2 = await a.scenario("Alpha second");
  b = await s.workspace("Beta");
  await a.knowledgeBase([
    { title: "Billing", content: "Invoices are sent on the first day of each month. You can download them from the billing page." },
    { title: "Return policy", content: "You can return any item within 30 days of delivery." },
  ]);
});
afterAll(() => server?.stop());

let tokenSeq = 0;
const visitorToken = (label = "v") => `${label}-${Date.now().toString(36)}-${(tokenSeq++).toString(36)}-visitor`;
const key = async (t: Tenant = a) => (await t.widgetKey()).secret;
const site = (k: string) => ({ authorization: `Bearer ${k}` });

function create(k: string, body: unknown, headers: Record<string, string> = site(k)) {
  return callJson(CONVERSATIONS, { method: "POST", headers, ...(typeof body === "string" ? { raw: body } : { body }) });
}
const messages = (k: string, token: string, query = "") =>
  callJson(`${CONVERSATIONS}/${encodeURIComponent(token)}/messages${query}`, { headers: site(k) });
const reply = (k: string, token: string, body: unknown) =>
  callJson(`${CONVERSATIONS}/${encodeURIComponent(token)}/messages`, { method: "POST", headers: site(k), body });

/** A conversation started through the API; answers its visitor token and key. */
async function started(t: Tenant = a, message = "Hi, I need help with billing.") {
  const k = await key(t);
  const token = visitorToken();
  const res = await create(k, { name: "Jane Doe", email: "jane@example.com", message, visitor_token: token });
  expect(res.status).toBe(201);
  return { key: k, token, id: res.body.conversation_token as string, autoReply: res.body.auto_reply as string };
}

const db = () => server.app.runtime.db;
const conversationCount = (t: Tenant = a) => db().conversation.count({ where: { scenarioId: t.scenarioId } });
const byToken = (t: Tenant, token: string) =>
  db().conversation.findUnique({ where: { scenarioId_visitorTokenHash: { scenarioId: t.scenarioId, visitorTokenHash: hashVisitorToken(token) } } });

describe("POST /api/v1/chat/conversations", () => {
  it("the documented example: 201 {conversation_token, auto_reply}, answered from the knowledge base", async () => {
    const k = await key();
    const token = visitorToken();
    const res = await create(k, { name: "Jane Doe", email: "jane@example.com", message: "When are invoices sent?", visitor_token: token });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ conversation_token: expect.any(String), auto_reply: expect.any(String) });
    expect(res.body.auto_reply).toContain("Invoices are sent on the first day of each month");
    const row = await byToken(a, token);
    expect(row).toMatchObject({ id: res.body.conversation_token, source: "widget", visitorName: "Jane Doe", visitorEmail: "jane@example.com" });
    // The token itself is never stored.
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it("takes the key as X-Site-Key too, and an optional page url", async () => {
    const k = await key();
    const token = visitorToken();
    const res = await create(
      k,
      { name: "Jane", email: "jane@example.com", message: "Hello", visitor_token: token, url: "https://shop.example.com/cart" },
      { "x-site-key": k },
    );
    expect(res.status).toBe(201);
    expect((await byToken(a, token))?.url).toBe("https://shop.example.com/cart");
  });

  it("says it doesn't know when nothing matches (auto_reply is still the assistant's reply)", async () => {
    const c = await started(a, "Do you sell quantum bicycles?");
    expect(c.autoReply).toMatch(/don't have information/);
  });

  it("422: the documented messages, and nothing is created", async () => {
    const before = await conversationCount();
    const ok = { name: "Jane", email: "jane@example.com", message: "Hello", visitor_token: visitorToken() };
    const cases: [unknown, unknown][] = [
      [{ ...ok, name: undefined }, REQUIRED],
      [{ ...ok, email: undefined }, REQUIRED],
      [{ ...ok, message: undefined }, REQUIRED],
      [{ ...ok, visitor_token: undefined }, REQUIRED],
      [{ ...ok, name: "" }, REQUIRED],
      [{ ...ok, message: "   \n" }, REQUIRED],
      [{ ...ok, email: null }, REQUIRED],
      [{}, REQUIRED],
      [[ok], REQUIRED],
      [{ ...ok, email: "not-an-email" }, { error: "Invalid email address" }],
      [{ ...ok, email: "jane@" }, { error: "Invalid email address" }],
      [{ ...ok, email: "jane doe@example.com" }, { error: "Invalid email address" }],
      [{ ...ok, email: `${"j".repeat(250)}@example.com` }, { error: "Invalid email address" }],
      [{ ...ok, message: "x".repeat(10_001) }, TOO_LONG],
      [{ ...ok, message: "😀".repeat(10_001) }, TOO_LONG],
      [{ ...ok, name: "n".repeat(201) }, { error: "Name is too long (maximum 200 characters)" }],
      [{ ...ok, name: 42 }, { error: "name must be a string" }],
      [{ ...ok, message: ["Hello"] }, { error: "message must be a string" }],
    ];
    const badTokens = ["short", "x".repeat(201), "has spaces in it", "slash/inside/token", "ünïcödé-token"];
    for (const t of badTokens) {
      cases.push([{ ...ok, visitor_token: t }, { error: "visitor_token must be 8 to 200 characters: letters, digits, '-', '_', '.' or '~'" }]);
    }
    for (const url of ["not a url", "javascript:alert(1)", `https://example.com/${"p".repeat(2050)}`, 7]) {
      cases.push([{ ...ok, url }, { error: "url must be an http(s) URL of at most 2048 characters" }]);
    }
    for (const [body, expected] of cases) {
      const res = await create(await key(), body);
      expect([res.status, res.body], JSON.stringify(body).slice(0, 120)).toEqual([422, expected]);
    }
    expect(await conversationCount()).toBe(before);
  });

  it("a body that is no JSON → 400 {error}; an empty body → the documented 422", async () => {
    const k = await key();
    const bad = await create(k, "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: expect.any(String) });
    const empty = await callJson(CONVERSATIONS, { method: "POST", headers: site(k) });
    expect([empty.status, empty.body]).toEqual([422, REQUIRED]);
  });

  it("accepts exactly 10,000 characters (counted as characters, not UTF-16 units)", async () => {
    for (const message of ["x".repeat(10_000), "😀".repeat(10_000)]) {
      const res = await create(await key(), { name: "Jane", email: "jane@example.com", message, visitor_token: visitorToken() });
      expect(res.status).toBe(201);
    }
  });

  it("409 for a visitor token already used in the scenario; the same token is fine in another scenario", async () => {
    const c = await started();
    const again = await create(await key(), { name: "Other", email: "other@example.com", message: "Hi", visitor_token: c.token });
    expect([again.status, again.body]).toEqual([409, TAKEN]);
    const elsewhere = await create(await key(a2), { name: "Other", email: "other@example.com", message: "Hi", visitor_token: c.token });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.conversation_token).not.toBe(c.id);
  });

  it("409 under concurrency: parallel creates with one token give exactly one 201", async () => {
    const token = visitorToken("race");
    const before = await db().scenario.findUniqueOrThrow({ where: { id: a.scenarioId } });
    const keys = await Promise.all(Array.from({ length: 8 }, () => key()));
    const results = await Promise.all(
      keys.map((k, i) => create(k, { name: `Racer ${i}`, email: "race@example.com", message: "Who wins?", visitor_token: token })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    for (const r of results.filter((r) => r.status === 409)) expect(r.body).toEqual(TAKEN);
    const rows = await db().conversation.findMany({ where: { scenarioId: a.scenarioId, visitorTokenHash: hashVisitorToken(token) } });
    expect(rows.map((r) => r.id)).toEqual([results.find((r) => r.status === 201)!.body.conversation_token]);
    // The losers gave their conversation numbers back: numbering stays gap-free.
    const after = await db().scenario.findUniqueOrThrow({ where: { id: a.scenarioId } });
    expect(after.conversationCount).toBe(before.conversationCount + 1);
    expect(rows[0]!.ord).toBe(after.conversationCount);
  });
});

describe("GET /api/v1/chat/conversations/:visitor_token/messages", () => {
  it("the documented shape: greeting, the visitor's message, the reply, with authors", async () => {
    const c = await started();
    const res = await messages(c.key, c.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { direction: "outbound", body: "Hello! How can I help you today?", timestamp: expect.any(String), author: "Support" },
      { direction: "inbound", body: "Hi, I need help with billing.", timestamp: expect.any(String), author: "Jane Doe" },
      { direction: "outbound", body: c.autoReply, timestamp: expect.any(String), author: "Support" },
    ]);
    for (const m of res.body) expect(m.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("names the assistant after the widget header and operators by name; log events are no messages", async () => {
    const t = await seed(server.app).workspace("Named");
    const write = (await t.token("write_all")).secret;
    expect((await call("/v1/api/widget/configuration", { method: "PATCH", token: write, body: { header: "Acme Help" } })).status).toBe(200);
    const c = await started(t, "Hello?");
    const member = await t.member("Olivia Operator");
    const conv = await byToken(t, c.token);
    await server.app.runtime.sql.transaction(async (tx) => {
      await appendEvent(tx, conv!.id, { type: "log", author: "human_operator", content: "assigned", memberId: member.id }, new Date());
      await appendEvent(tx, conv!.id, { author: "human_operator", content: "Olivia here, happy to help.", memberId: member.id }, new Date());
    });
    const res = await messages(c.key, c.token);
    expect(res.body.map((m: { direction: string; author: string; body: string }) => [m.direction, m.author, m.body])).toEqual([
      ["outbound", "Acme Help", "Hello! How can I help you today?"],
      ["inbound", "Jane Doe", "Hello?"],
      ["outbound", "Acme Help", c.autoReply],
      ["outbound", "Olivia Operator", "Olivia here, happy to help."],
    ]);
  });

  describe("since", () => {
    const times = ["2025-01-15T10:30:00.000Z", "2025-01-15T10:30:00.500Z", "2025-01-15T10:31:00.000Z", "2025-01-15T10:35:00.000Z"];
    let k: string;
    const token = visitorToken("since");

    beforeAll(async () => {
      k = await key();
      await server.app.runtime.sql.transaction(async (tx) => {
        const conv = await insertConversation(
          tx,
          { scenarioId: a.scenarioId, source: "widget", visitorName: "Jane Doe", visitorTokenHash: hashVisitorToken(token) },
          new Date(times[0]!),
        );
        for (const [i, at] of times.entries()) {
          await appendEvent(tx, conv.id, { author: i % 2 ? "ai_assistant" : "visitor", content: `m${i}` }, new Date(at));
        }
      });
    });
    const bodies = async (query: string) => {
      const res = await messages(k, token, query);
      expect(res.status, query).toBe(200);
      return res.body.map((m: { body: string }) => m.body);
    };

    it("returns everything without since, with the stored timestamps", async () => {
      const res = await messages(k, token);
      expect(res.body.map((m: { timestamp: string }) => m.timestamp)).toEqual(times);
    });

    it("returns only messages created strictly after since (the last timestamp seen gives exactly what is new)", async () => {
      expect(await bodies("?since=2025-01-15T10:30:00Z")).toEqual(["m1", "m2", "m3"]);
      expect(await bodies("?since=2025-01-15T10:30:00.500Z")).toEqual(["m2", "m3"]);
      expect(await bodies("?since=2025-01-15T10:30:00.4999Z")).toEqual(["m1", "m2", "m3"]);
      expect(await bodies(`?since=${encodeURIComponent("2025-01-15T12:30:00+02:00")}`)).toEqual(["m1", "m2", "m3"]);
      expect(await bodies("?since=2025-01-15T10:34:59Z")).toEqual(["m3"]);
      expect(await bodies("?since=2025-01-15T10:35:00Z")).toEqual([]);
      expect(await bodies("?since=2020-01-01T00:00:00Z")).toEqual(["m0", "m1", "m2", "m3"]);
    });

    it("malformed since → 400 {error}", async () => {
      const bad = ["yesterday", "2025-01-15", "2025-01-15T10:30:00", "2025-02-30T10:00:00Z", "2025-01-15T25:00:00Z", "", "1736937000"];
      const queries = [...bad.map((s) => `?since=${encodeURIComponent(s)}`), "?since=2025-01-15T10:30:00Z&since=2025-01-15T10:31:00Z"];
      for (const q of queries) {
        const res = await messages(k, token, q);
        expect([res.status, res.body], q).toEqual([
          400,
          { error: "since must be an ISO 8601 date-time with a time zone, e.g. 2025-01-15T10:30:00Z" },
        ]);
      }
    });
  });

  it("unknown visitor token, another scenario's or workspace's key → 404 Conversation not found", async () => {
    const c = await started();
    for (const k of [c.key, await key(a2), await key(b)]) {
      const token = k === c.key ? "no-such-visitor-token" : c.token;
      expect(await messages(k, token)).toMatchObject({ status: 404, body: NOT_FOUND });
    }
  });
});

describe("POST /api/v1/chat/conversations/:visitor_token/messages", () => {
  it("201 {status: ok}; the assistant's answer appears in the messages shortly after", async () => {
    const c = await started(a, "Hello");
    const res = await reply(c.key, c.token, { message: "What is your return policy?" });
    expect([res.status, res.body]).toEqual([201, { status: "ok" }]);
    const answered = await until("the assistant's answer", async () => {
      const list = (await messages(await key(), c.token)).body as { direction: string; body: string }[];
      const last = list[list.length - 1]!;
      return list.length === 5 && last.direction === "outbound" ? list : null;
    });
    expect(answered[3]).toMatchObject({ direction: "inbound", body: "What is your return policy?", author: "Jane Doe" });
    expect(answered[4]!.body).toContain("return any item within 30 days");
  });

  it("reopens a resolved or terminated conversation", async () => {
    const c = await started(a, "Hello");
    await db().conversation.update({ where: { id: c.id }, data: { resolutionStatus: "resolved", terminated: true } });
    expect((await reply(c.key, c.token, { message: "One more thing" })).status).toBe(201);
    expect(await db().conversation.findUnique({ where: { id: c.id } })).toMatchObject({ resolutionStatus: "open", terminated: false });
  });

  it("422 with clear messages, and nothing is stored", async () => {
    const c = await started();
    const count = () => db().conversationEvent.count({ where: { conversationId: c.id } });
    const before = await count();
    const cases: [unknown, unknown][] = [
      [{}, { error: "Message is required" }],
      [{ message: "" }, { error: "Message is required" }],
      [{ message: "  " }, { error: "Message is required" }],
      [{ message: null }, { error: "Message is required" }],
      [{ message: 12 }, { error: "Message must be a string" }],
      [{ message: "x".repeat(10_001) }, TOO_LONG],
    ];
    for (const [body, expected] of cases) {
      const res = await reply(c.key, c.token, body);
      expect([res.status, res.body], JSON.stringify(body).slice(0, 80)).toEqual([422, expected]);
    }
    const empty = await callJson(`${CONVERSATIONS}/${c.token}/messages`, { method: "POST", headers: site(c.key) });
    expect([empty.status, empty.body]).toEqual([422, { error: "Message is required" }]);
    expect(await count()).toBe(before);
  });

  it("unknown visitor token or another scenario's key → 404", async () => {
    const c = await started();
    expect(await reply(c.key, "no-such-visitor-token", { message: "Hi" })).toMatchObject({ status: 404, body: NOT_FOUND });
    expect(await reply(await key(a2), c.token, { message: "Hi" })).toMatchObject({ status: 404, body: NOT_FOUND });
    expect(await reply(await key(b), c.token, { message: "Hi" })).toMatchObject({ status: 404, body: NOT_FOUND });
  });
});

describe("credentials and limits", () => {
  it("a missing key → 401; operator and other credentials → 401 {error} on every route", async () => {
    const c = await started();
    const routes: [string, string, unknown?][] = [
      ["POST", CONVERSATIONS, { name: "J", email: "j@example.com", message: "Hi", visitor_token: visitorToken() }],
      ["GET", `${CONVERSATIONS}/${c.token}/messages`],
      ["POST", `${CONVERSATIONS}/${c.token}/messages`, { message: "Hi" }],
      ["GET", `${CONVERSATIONS}/${c.token}/files/1/1`],
    ];
    const others = [(await a.token("write_all")).secret, (await a.token("read_all")).secret, (await a.developerKey()).secret, (await a.legacyKey()).secret];
    const headerSets: Record<string, string>[] = [{}, { authorization: "Bearer cw_live_doesNotExist0123456789" }, { authorization: c.key }];
    for (const o of others) headerSets.push({ authorization: `Bearer ${o}` }, { "x-site-key": o });
    for (const [method, path, body] of routes) {
      for (const headers of headerSets) {
        const res = await callJson(path, { method, headers, body });
        expect([res.status, typeof res.body?.error], `${method} ${path} ${JSON.stringify(headers)}`).toEqual([401, "string"]);
      }
    }
  });

  it("each route announces its documented budget", async () => {
    const c = await started();
    const k = await key();
    const policy = async (res: Promise<Response>) => (await res).headers.get("ratelimit-policy");
    expect(await policy(call("/api/v1/chat/config", { headers: site(k) }))).toBe("60;w=60");
    expect(await policy(call(CONVERSATIONS, { method: "POST", headers: site(k), body: {} }))).toBe("5;w=60");
    expect(await policy(call(`${CONVERSATIONS}/${c.token}/messages`, { headers: site(k) }))).toBe("60;w=60");
    expect(await policy(call(`${CONVERSATIONS}/${c.token}/messages`, { method: "POST", headers: site(k), body: {} }))).toBe("20;w=60");
    expect(await policy(call(`${CONVERSATIONS}/${c.token}/files/1/1`, { headers: site(k) }))).toBe("60;w=60");
  });

  it("the sixth create within a minute → 429 {error} with Retry-After; another key is unaffected", async () => {
    const k = await key();
    for (let i = 0; i < 5; i++) {
      const res = await create(k, { name: "Jane", email: "jane@example.com", message: "Hi", visitor_token: visitorToken() });
      expect(res.status).toBe(201);
    }
    const limited = await create(k, { name: "Jane", email: "jane@example.com", message: "Hi", visitor_token: visitorToken() });
    expect([limited.status, limited.body]).toEqual([429, { error: "Rate limit exceeded. Please try again later." }]);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    const other = await create(await key(), { name: "Jane", email: "jane@example.com", message: "Hi", visitor_token: visitorToken() });
    expect(other.status).toBe(201);
  });

  it("the 21st reply within a minute → 429", async () => {
    const c = await started();
    for (let i = 0; i < 20; i++) expect((await reply(c.key, c.token, { message: `m${i}` })).status).toBe(201);
    expect(await reply(c.key, c.token, { message: "one too many" })).toMatchObject({
      status: 429,
      body: { error: "Rate limit exceeded. Please try again later." },
    });
  });
});

describe("CORS", () => {
  const preflight = (path: string, origin = "https://shop.example.com", base?: string) =>
    call(path, {
      method: "OPTIONS",
      url: base,
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,x-site-key,content-type" },
    });

  it("answers preflights for the site-key routes and /graphql from any origin, without credentials", async () => {
    for (const path of [CONVERSATIONS, `${CONVERSATIONS}/tok/messages`, "/api/v1/chat/config", "/graphql"]) {
      const res = await preflight(path);
      expect(res.status, path).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST, OPTIONS");
      expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toMatch(/authorization.*x-site-key.*content-type/);
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("actual responses carry Access-Control-Allow-Origin, errors included, and expose the rate-limit headers", async () => {
    const k = await key();
    const ok = await call("/api/v1/chat/config", { headers: { ...site(k), origin: "https://shop.example.com" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    expect(ok.headers.get("access-control-expose-headers")).toMatch(/RateLimit/);
    const denied = await call("/api/v1/chat/config", { headers: { origin: "https://shop.example.com" } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe("*");
    const gql = await call("/graphql", { method: "POST", headers: { origin: "https://shop.example.com" }, body: { query: "{ __typename }" } });
    expect(gql.headers.get("access-control-allow-origin")).toBe("*");
    expect(gql.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("operator routes stay same-origin", async () => {
    const res = await preflight("/v1/api/chatbot_settings");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const get = await call("/v1/api/chatbot_settings", { headers: { origin: "https://shop.example.com" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("CORS_ORIGINS restricts the allowed origins", async () => {
    const other = await startServer({}, { CORS_ORIGINS: "https://shop.example.com, https://help.example.org" });
    try {
      const allowed = await preflight(CONVERSATIONS, "https://help.example.org", other.url);
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://help.example.org");
      expect(allowed.headers.get("vary")).toMatch(/Origin/);
      const refused = await preflight(CONVERSATIONS, "https://evil.example.net", other.url);
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await other.stop();
    }
  });

  it("CORS_ORIGINS is validated", () => {
    expect(loadConfig({}).corsOrigins).toBe("*");
    expect(loadConfig({ CORS_ORIGINS: "https://a.example, http://b.example:8080" }).corsOrigins).toEqual(["https://a.example", "http://b.example:8080"]);
    expect(() => loadConfig({ CORS_ORIGINS: "a.example" })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: "https://a.example/path" })).toThrow(/CORS_ORIGINS/);
  });
});
