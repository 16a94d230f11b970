import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { until } from "./helpers/wait.ts";
import { appendEvent } from "../src/services/conversation-log.ts";

// The widget on GraphQL with its widget key: the site-key API's rules, errors and budgets.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let server: TestServer;
let t: Tenant;
let other: Tenant;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  t = await seed(server.app).workspace("Widget GraphQL");
  other = await seed(server.app).workspace("Widget GraphQL other");
  await t.knowledgeBase([{ title: "Opening hours", content: "Our support team is available Monday to Friday, 9 to 17." }]);
});
afterAll(() => server?.stop());

const { callJson, gql, graphql } = http(() => server);
const db = () => server.app.runtime.db;

const START = `mutation ($input: StartConversationInput!) {
  startConversation(input: $input) { conversationToken autoReply conversation { id status resolutionStatus terminated visitorName messages { ord author content isWelcome } } }
}`;
const SEND = `mutation ($token: String!, $message: String!) { sendMessage(visitorToken: $token, message: $message) { id ord author content type } }`;
const VIEW = `query ($token: String!, $after: Int) {
  visitorConversation(visitorToken: $token) { id messages(afterOrd: $after) { ord author content authorName member { id } } }
}`;

const input = (over: Record<string, unknown> = {}) => ({
  name: "Jane Doe",
  email: "jane@example.com",
  message: "When is your support team available?",
  visitorToken: `vt-${randomUUID()}`,
  ...over,
});

/** The site-key API's answer to the same create body, for comparing errors. */
async function restCreate(site: string, i: Record<string, unknown>) {
  return callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: i.name, email: i.email, message: i.message, visitor_token: i.visitorToken },
  });
}

describe("startConversation", () => {
  it("starts the visitor's conversation and answers its first message", async () => {
    const site = (await t.widgetKey()).secret;
    const i = input();
    const r = await gql(site, START, { input: { ...i, url: "https://shop.example/contact" } });
    expect(r.errors).toBeUndefined();
    const started = r.data.startConversation;
    expect(started.conversationToken).toBe(started.conversation.id);
    expect(started.autoReply).toContain("Monday to Friday");
    expect(started.conversation).toMatchObject({ status: "active", resolutionStatus: "open", terminated: false, visitorName: "Jane Doe" });
    expect(started.conversation.messages.map((m: any) => [m.ord, m.author, m.isWelcome])).toEqual([
      [1, "ai_assistant", true],
      [2, "visitor", false],
      [3, "ai_assistant", false],
    ]);
    const row = await db().conversation.findUniqueOrThrow({ where: { id: started.conversationToken } });
    expect(row).toMatchObject({ scenarioId: t.scenarioId, source: "widget", visitorEmail: "jane@example.com", url: "https://shop.example/contact" });
  });

  it("answers the site-key API's errors, with its messages, and creates nothing", async () => {
    const site = (await t.widgetKey()).secret;
    const taken = input();
    expect((await restCreate(site, taken)).status).toBe(201);
    const cases: [Record<string, unknown>, string, number, string][] = [
      [input({ name: " " }), "VALIDATION_ERROR", 422, "Name, email, message, and visitor_token are required"],
      [input({ email: "not-an-email" }), "VALIDATION_ERROR", 422, "Invalid email address"],
      [input({ message: "x".repeat(10_001) }), "VALIDATION_ERROR", 422, "Message is too long (maximum 10000 characters)"],
      [{ ...input(), visitorToken: taken.visitorToken }, "CONFLICT", 409, "A conversation with this visitor token already exists"],
    ];
    const restSite = (await t.widgetKey()).secret; // the REST comparisons spend another key's budget
    for (const [i, code, status, message] of cases) {
      const before = await db().conversation.count();
      const r = await gql(site, START, { input: i });
      expect(errorCodes(r), message).toEqual([code]);
      expect(r.errors![0]!.message).toBe(message);
      const rest = await restCreate(restSite, i);
      expect(rest.status, message).toBe(status);
      expect(rest.body).toEqual({ error: message });
      expect(await db().conversation.count(), message).toBe(before);
    }
  });

  it("shares the create budget (5 per minute per key and address) with the site-key API", async () => {
    const site = (await t.widgetKey()).secret;
    for (let i = 0; i < 3; i++) expect((await restCreate(site, input())).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await gql(site, START, { input: input() })).errors).toBeUndefined();
    const before = await db().conversation.count();
    const refused = await gql(site, START, { input: input() });
    expect(errorCodes(refused)).toEqual(["TOO_MANY_REQUESTS"]);
    expect(refused.errors![0]!.message).toBe("Rate limit exceeded. Please try again later.");
    expect((await restCreate(site, input())).status).toBe(429);
    expect(await db().conversation.count()).toBe(before);
    // Another key has its own budget.
    expect((await gql((await t.widgetKey()).secret, START, { input: input() })).errors).toBeUndefined();
  });
});

describe("the widget key as X-Site-Key", () => {
  it("works on /graphql as on the site-key API; other keys must use Authorization", async () => {
    const site = (await t.widgetKey()).secret;
    const i = input();
    const post = (headers: Record<string, string>) =>
      fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: START, variables: { input: i } }),
      }).then((r) => r.json());
    const viaHeader = await post({ "x-site-key": site });
    expect(viaHeader.errors).toBeUndefined();
    expect(viaHeader.data.startConversation.conversationToken).toBeTruthy();
    const reader = (await t.token("read_all")).secret;
    const notAWidgetKey = await post({ "x-site-key": reader });
    expect(notAWidgetKey.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    expect(notAWidgetKey.data?.startConversation ?? null).toBeNull();
  });
});

describe("sendMessage and visitorConversation", () => {
  async function started(site: string) {
    const i = input();
    const r = await gql(site, START, { input: i });
    expect(r.errors).toBeUndefined();
    return { token: i.visitorToken as string, id: r.data.startConversation.conversationToken as string };
  }

  it("stores the message, reopens a closed conversation, and the answer follows", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await started(site);
    await db().conversation.update({ where: { id: v.id }, data: { resolutionStatus: "resolved", terminated: true } });
    const r = await gql(site, SEND, { token: v.token, message: "Are you open on Saturday?" });
    expect(r.errors).toBeUndefined();
    expect(r.data.sendMessage).toMatchObject({ ord: 4, author: "visitor", content: "Are you open on Saturday?", type: "message" });
    expect(await db().conversation.findUniqueOrThrow({ where: { id: v.id } })).toMatchObject({ resolutionStatus: "open", terminated: false });
    const view = await until("the answer", async () => {
      const q = await gql(site, VIEW, { token: v.token, after: 3 });
      return q.data.visitorConversation.messages.length >= 2 ? q.data.visitorConversation : null;
    });
    expect(view.id).toBe(v.id);
    expect(view.messages.map((m: any) => [m.ord, m.author])).toEqual([
      [4, "visitor"],
      [5, "ai_assistant"],
    ]);
  });

  it("a visitor sees operator names, never team member records", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await started(site);
    const member = await t.member("Olga Operator");
    await server.app.runtime.sql.transaction((tx) => appendEvent(tx, v.id, { author: "human_operator", memberId: member.id, content: "Olga here" }, new Date()));
    const q = await gql(site, VIEW, { token: v.token, after: 3 });
    expect(q.data.visitorConversation.messages).toEqual([{ ord: 4, author: "human_operator", content: "Olga here", authorName: "Olga Operator", member: null }]);
    // Operator-only data is not part of the visitor's type at all.
    const leak = await gql(site, `query ($token: String!) { visitorConversation(visitorToken: $token) { unifiedAnalysis { sentiment } } }`, { token: v.token });
    expect(errorCodes(leak)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
  });

  it("refuses what the site-key API refuses, with the same messages", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await started(site);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ token: v.token, message: "x".repeat(10_001) }, "VALIDATION_ERROR", "Message is too long (maximum 10000 characters)"],
      [{ token: v.token, message: " " }, "VALIDATION_ERROR", "Message is required"],
      [{ token: "vt-no-such-visitor", message: "hello" }, "NOT_FOUND", ""],
    ];
    for (const [vars, code, message] of cases) {
      const r = await gql(site, SEND, vars);
      expect(errorCodes(r)).toEqual([code]);
      if (message) expect(r.errors![0]!.message).toBe(message);
      const rest = await callJson(`/api/v1/chat/conversations/${vars.token}/messages`, { method: "POST", token: site, body: { message: vars.message } });
      expect(rest.body.error).toBe(r.errors![0]!.message);
    }
    expect((await db().conversation.findUniqueOrThrow({ where: { id: v.id } })).eventCount).toBe(3);
    const otherSite = (await other.widgetKey()).secret;
    expect(errorCodes(await gql(otherSite, SEND, { token: v.token, message: "hello" }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(otherSite, VIEW, { token: v.token }))).toEqual(["NOT_FOUND"]);
  });

  it("shares the reply budget (20 per minute per key and address) with the site-key API", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await started(site);
    for (let i = 0; i < 10; i++) {
      const rest = await callJson(`/api/v1/chat/conversations/${v.token}/messages`, { method: "POST", token: site, body: { message: `rest ${i}` } });
      expect(rest.status).toBe(201);
    }
    for (let i = 0; i < 10; i++) expect((await gql(site, SEND, { token: v.token, message: `gql ${i}` })).errors).toBeUndefined();
    const refused = await gql(site, SEND, { token: v.token, message: "one too many" });
    expect(errorCodes(refused)).toEqual(["TOO_MANY_REQUESTS"]);
    expect(await db().conversationEvent.count({ where: { conversationId: v.id, content: "one too many" } })).toBe(0);
  });
});

describe("credentials", () => {
  it("a widget key reaches visitor operations only; operator credentials do not reach them", async () => {
    const site = (await t.widgetKey()).secret;
    for (const q of ["{ viewer { kind } }", "{ workspace { id } }", `{ scenario(id: "${t.scenarioId}") { id name } }`]) {
      const r = await gql(site, q);
      expect(errorCodes(r), q).toEqual(["PERMISSION_DENIED"]);
      expect(r.errors![0]!.message).toBe("A widget key can only be used for visitor operations");
    }
    const token = (await t.token("write_all")).secret;
    const r = await gql(token, START, { input: input() });
    expect(errorCodes(r)).toEqual(["PERMISSION_DENIED"]);
    expect(r.errors![0]!.message).toBe("Visitor operations need a widget key");
    const anonymous = await graphql(START, { variables: { input: input() } });
    expect(errorCodes(anonymous.body)).toEqual(["PERMISSION_DENIED"]);
    const revoked = await graphql(START, { auth: "cw_live_not-a-real-key", variables: { input: input() } });
    expect(revoked.status).toBe(401);
    expect(errorCodes(revoked.body)).toEqual(["PERMISSION_DENIED"]);
  });
});
