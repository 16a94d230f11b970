import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAKEOVER_SCOPES } from "../src/services/external-agents.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { bearer, http } from "./helpers/http.ts";
import { graphqlWsClients } from "./helpers/ws.ts";
import { wsSubscription } from "./helpers/live.ts";
import { until } from "./helpers/wait.ts";

// External-agent takeover on the Quincer routes (and the same service through GraphQL): take over,
// reply as a human agent, hand back; the visitor hears the reply live; the assistant stays silent
// meanwhile and answers again after the handback.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let server: TestServer;
let t: Tenant;
let other: Tenant;
let agentA: { id: string; name: string };
let agentB: { id: string; name: string };

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  t = await seed(server.app).workspace("Takeover");
  other = await seed(server.app).workspace("Takeover other");
  agentA = await t.member("Agent Ada", "external_agent");
  agentB = await t.member("Agent Bob", "external_agent");
  await t.knowledgeBase([{ title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." }]);
});
afterAll(() => server?.stop());

const wsClient = graphqlWsClients(() => server.wsUrl);
const { call, callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;

/** A fresh key per use keeps every test inside the write budget (30 per minute per key). */
const keyOf = async (memberId?: string, scopes: readonly string[] = TAKEOVER_SCOPES, tenant: Tenant = t) =>
  (await tenant.developerKey(scopes as Parameters<Tenant["developerKey"]>[0], memberId)).secret;

const post = (key: string, id: string, action: "takeover" | "reply" | "handback", body?: unknown) =>
  callJson(`/api/v1/conversations/${id}/${action}`, { method: "POST", token: key, body });

const transcript = async (key: string, id: string) => {
  const res = await callJson(`/api/v1/conversations/${id}`, { token: key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

async function visitorStarts(site: string, message = "Hi, how long does shipping take?") {
  const visitorToken = `vt-${randomUUID()}`;
  const res = await callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Jane Doe", email: "jane@example.com", message, visitor_token: visitorToken },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { visitorToken, conversationId: res.body.conversation_token as string };
}

async function visitorSends(site: string, visitorToken: string, message: string) {
  const res = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, { method: "POST", token: site, body: { message } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** Every reply job of the conversation has run (whatever it decided). */
const repliesSettled = (conversationId: string) =>
  until("the reply jobs", async () => {
    const jobs = await db().job.findMany({ where: { kind: "chat.reply", scenarioId: t.scenarioId } });
    const mine = jobs.filter((j) => (j.payload as { conversationId?: string }).conversationId === conversationId);
    return mine.length > 0 && mine.every((j) => j.status === "succeeded" || j.status === "failed");
  });

const eventCount = async (id: string) => (await db().conversation.findUniqueOrThrow({ where: { id } })).eventCount;

const EVENT_FIELDS = "ord type author content authorName authorAvatarUrl handoffState messageInsights member { id name kind }";
const MESSAGE_ADDED = `subscription ($id: ID!, $after: Int, $token: String) {
  messageAdded(conversationId: $id, afterOrd: $after, visitorToken: $token) { ${EVENT_FIELDS} }
}`;

describe("the whole takeover over REST, with the visitor live", () => {
  it("takes over, silences the assistant, replies live to the visitor, hands back, and the assistant answers again", async () => {
    const site = (await t.widgetKey()).secret;
    const key = await keyOf(agentA.id);
    const v = await visitorStarts(site);
    const id = v.conversationId;
    const start = await eventCount(id);

    const visitor = wsSubscription(wsClient(site), MESSAGE_ADDED, { id, after: start, token: v.visitorToken });

    const taken = await post(key, id, "takeover");
    expect(taken.status).toBe(200);
    expect(taken.body).toEqual({
      id,
      status: "human_active",
      assignee: { type: "human_operator", member: { id: agentA.id, name: "Agent Ada", kind: "external_agent", avatarUrl: null } },
      takeover: {
        member: { id: agentA.id, name: "Agent Ada", kind: "external_agent", avatarUrl: null },
        credentialId: expect.any(String),
        takenOverAt: expect.any(String),
        heldByYou: true,
      },
    });

    // The transcript shows the takeover state and a log line under the agent.
    const after = await transcript(key, id);
    expect(after).toMatchObject({ status: "human_active", takeover: { heldByYou: true, member: { name: "Agent Ada" } }, visitor: { name: "Jane Doe" } });
    expect(after.messages.at(-1)).toMatchObject({
      ord: start + 1,
      type: "log",
      author: "human_operator",
      handoffState: "taken_over",
      member: { id: agentA.id, name: "Agent Ada" },
      content: "Agent Ada took over the conversation",
    });

    // The visitor writes; the assistant stays silent while the agent holds the conversation.
    await visitorSends(site, v.visitorToken, "Do you ship to the UK?");
    await repliesSettled(id);
    const silent = await db().conversationEvent.findMany({ where: { conversationId: id, ord: { gt: start } }, orderBy: { ord: "asc" } });
    expect(silent.map((e) => [e.type, e.author])).toEqual([
      ["log", "human_operator"],
      ["message", "visitor"],
    ]);

    const replied = await post(key, id, "reply", { message: "Yes, we ship to the UK. I am checking your order now." });
    expect(replied.status).toBe(201);
    expect(replied.body).toEqual({
      id: expect.any(String),
      ord: start + 3,
      type: "message",
      author: "human_operator",
      content: "Yes, we ship to the UK. I am checking your order now.",
      createdAt: expect.any(String),
      member: { id: agentA.id, name: "Agent Ada", kind: "external_agent", avatarUrl: null },
      translation: { translated: false, targetLanguage: "en", reason: "translator_not_configured" },
    });

    // Live to the visitor (messages only: the log line is not theirs to see), under the agent's name.
    const live = await visitor.next((e) => e.ord === start + 3);
    expect(live).toMatchObject({ author: "human_operator", authorName: "Agent Ada", member: null, content: replied.body.content });
    expect(live.messageInsights).toMatchObject({ translated: false, reason: "translator_not_configured" });
    expect(visitor.items.map((e) => e.ord)).toEqual([start + 2, start + 3]);

    // The site-key messages route: outbound, with the member's name.
    const messages = await callJson(`/api/v1/chat/conversations/${v.visitorToken}/messages`, { token: site });
    expect(messages.body.at(-1)).toEqual({ direction: "outbound", body: replied.body.content, timestamp: replied.body.createdAt, author: "Agent Ada" });

    const back = await post(key, id, "handback");
    expect(back.status).toBe(200);
    expect(back.body).toEqual({ id, status: "active", assignee: { type: "ai_assistant", member: null }, takeover: null });
    const row = await db().conversation.findUniqueOrThrow({ where: { id } });
    expect([row.takeoverMemberId, row.takeoverCredentialId, row.takenOverAt]).toEqual([null, null, null]);

    // The assistant answers the next question.
    await visitorSends(site, v.visitorToken, "How long does shipping take?");
    const answer = await visitor.next((e) => e.author === "ai_assistant", 10_000);
    expect(answer.ord).toBe(start + 6);
    expect(answer.content).toContain("3 to 5 days");
    expect(visitor.errors).toEqual([]);

    const final = await transcript(key, id);
    expect(final.messages.slice(-4).map((m: { type: string; author: string; handoffState?: string }) => [m.type, m.author, m.handoffState])).toEqual([
      ["message", "human_operator", undefined],
      ["log", "human_operator", "handed_back"],
      ["message", "visitor", undefined],
      ["message", "ai_assistant", undefined],
    ]);
  });

  it("operators on the inbox hear every state change", async () => {
    const reader = (await t.token("read_all")).secret;
    const key = await keyOf(agentA.id);
    const c = await t.conversation([{ author: "visitor", content: "Hello" }]);
    const inbox = wsSubscription(
      wsClient(reader),
      `subscription ($s: ID!) { inboxUpdated(scenarioId: $s) { reason conversation { id status assignee { type member { name } } takeover { member { name } heldByYou } } } }`,
      { s: t.scenarioId },
    );
    // Subscriptions go live asynchronously: retry the first change until it is heard.
    const heard = () => inbox.items.filter((u) => u.conversation.id === c.id);
    await until("the inbox subscription", async () => {
      await post(key, c.id, "takeover");
      await post(key, c.id, "handback");
      return heard().length > 0;
    });
    await post(key, c.id, "takeover");
    await post(key, c.id, "reply", { message: "On it." });
    await post(key, c.id, "handback");
    // Only this round has a reply: its update, with the takeover's before it and the handback's after.
    const mine = await until("the handback after the reply", async () => {
      const seen = heard();
      const i = seen.findIndex((u) => u.reason === "message");
      return i > 0 && seen.length > i + 1 ? seen.slice(i - 1, i + 2) : null;
    });
    expect(mine.map((u: { reason: string; conversation: { status: string } }) => [u.reason, u.conversation.status])).toEqual([
      ["status", "human_active"],
      ["message", "human_active"],
      ["status", "active"],
    ]);
    // heldByYou is about the subscriber (a token that holds nothing).
    const held = inbox.items.find((u) => u.conversation.id === c.id && u.conversation.status === "human_active");
    expect(held.conversation.assignee).toEqual({ type: "human_operator", member: { name: "Agent Ada" } });
  });
});

describe("who may do what", () => {
  it("taking over a conversation another agent holds → 409, nothing changes; the holder may claim it again harmlessly", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const a = await keyOf(agentA.id);
    const b = await keyOf(agentB.id);
    expect((await post(a, c.id, "takeover")).status).toBe(200);
    const before = await db().conversation.findUniqueOrThrow({ where: { id: c.id } });
    const lost = await post(b, c.id, "takeover");
    expect(lost).toMatchObject({ status: 409, body: { error: "Conversation is already taken over by Agent Ada" } });
    // Another key of the same member is the same holder.
    const again = await post(await keyOf(agentA.id), c.id, "takeover");
    expect(again.status).toBe(200);
    expect(again.body.takeover).toMatchObject({ heldByYou: true, credentialId: before.takeoverCredentialId });
    expect(await db().conversation.findUniqueOrThrow({ where: { id: c.id } })).toEqual(before);
  });

  it("reply without holding the takeover → 409 and nothing is stored", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const a = await keyOf(agentA.id);
    const b = await keyOf(agentB.id);
    expect(await post(a, c.id, "reply", { message: "Hello" })).toMatchObject({
      status: 409,
      body: { error: "Conversation is not taken over: take it over before replying" },
    });
    await post(a, c.id, "takeover");
    expect(await post(b, c.id, "reply", { message: "Hello" })).toMatchObject({ status: 409, body: { error: "Conversation is taken over by Agent Ada" } });
    expect(await eventCount(c.id)).toBe(2);
  });

  it("handback by a non-holder → 403; of a conversation nobody holds → 409", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const a = await keyOf(agentA.id);
    const b = await keyOf(agentB.id);
    expect(await post(a, c.id, "handback")).toMatchObject({ status: 409, body: { error: "Conversation is not taken over" } });
    await post(a, c.id, "takeover");
    expect(await post(b, c.id, "handback")).toMatchObject({
      status: 403,
      body: { error: "Only the agent holding the takeover (Agent Ada) can hand the conversation back" },
    });
    expect((await db().conversation.findUniqueOrThrow({ where: { id: c.id } })).takeoverMemberId).toBe(agentA.id);
  });

  it("a key without the action's scope → 403 naming the scope", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const readOnly = await keyOf(agentA.id, ["conversations:read", "conversations:write"]);
    for (const [action, scope] of [
      ["takeover", "conversations:takeover"],
      ["reply", "conversations:reply"],
      ["handback", "conversations:handback"],
    ] as const) {
      expect(await post(readOnly, c.id, action, { message: "x" })).toMatchObject({ status: 403, body: { error: `Insufficient scope. Required: ${scope}` } });
    }
    const takeoverOnly = await keyOf(agentA.id, ["conversations:takeover"]);
    expect((await post(takeoverOnly, c.id, "takeover")).status).toBe(200);
    expect(await post(takeoverOnly, c.id, "reply", { message: "x" })).toMatchObject({ status: 403, body: { error: "Insufficient scope. Required: conversations:reply" } });
    const noRead = await callJson(`/api/v1/conversations/${c.id}`, { token: takeoverOnly });
    expect(noRead).toMatchObject({ status: 403, body: { error: "Insufficient scope. Required: conversations:read" } });
  });

  it("a wrong, missing or non-developer credential → 401", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const site = (await t.widgetKey()).secret;
    const writer = (await t.token("write_all")).secret;
    for (const action of ["takeover", "reply", "handback"] as const) {
      expect(await post("cw_dev_not-a-real-key-at-all-000000000", c.id, action, { message: "x" })).toMatchObject({ status: 401, body: { error: "Invalid credential" } });
      expect(await post("", c.id, action, { message: "x" })).toMatchObject({ status: 401, body: { error: "Missing credential" } });
      expect((await post(site, c.id, action, { message: "x" })).status).toBe(401);
      expect((await post(writer, c.id, action, { message: "x" })).status).toBe(401);
    }
    const revoked = await t.developerKey(["conversations:takeover"], agentA.id);
    await gql((await t.developerKey()).secret, `mutation ($id: ID!) { revokeCredential(id: $id) { id } }`, { id: revoked.id });
    expect(await post(revoked.secret, c.id, "takeover")).toMatchObject({ status: 401, body: { error: "Credential has been revoked" } });
    expect((await db().conversation.findUniqueOrThrow({ where: { id: c.id } })).status).toBe("active");
  });

  it("another workspace's conversation (or no such id) → 404, nothing of theirs in the body", async () => {
    const theirs = await other.conversation([{ author: "visitor", content: "other-tenant-secret" }]);
    const key = await keyOf(agentA.id);
    for (const id of [theirs.id, randomUUID(), "not-a-uuid"]) {
      for (const action of ["takeover", "reply", "handback"] as const) {
        const res = await post(key, id, action, { message: "x" });
        expect(res).toMatchObject({ status: 404, body: { error: "Conversation not found" } });
      }
      expect(await callJson(`/api/v1/conversations/${id}`, { token: key })).toMatchObject({ status: 404, body: { error: "Conversation not found" } });
    }
    expect((await db().conversation.findUniqueOrThrow({ where: { id: theirs.id } })).status).toBe("active");
  });

  it("a reply with a missing, blank, non-string or too long message → 422 and nothing is stored", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const key = await keyOf(agentA.id);
    await post(key, c.id, "takeover");
    const count = await eventCount(c.id);
    const cases: [unknown, string][] = [
      [{}, "message: message is required"],
      [{ message: "   " }, "message: message is required"],
      [{ message: 42 }, "message: message must be a string"],
      [{ message: "x".repeat(10_001) }, "message: message is too long (maximum 10000 characters)"],
      [["hello"], "message: message is required"],
    ];
    for (const [body, error] of cases) {
      expect(await post(key, c.id, "reply", body), JSON.stringify(body).slice(0, 40)).toMatchObject({ status: 422, body: { error } });
    }
    const bad = await call(`/api/v1/conversations/${c.id}/reply`, { method: "POST", token: key, raw: "{not json" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "Malformed JSON body" });
    expect(await eventCount(c.id)).toBe(count);
    // `content` is accepted as the message too, and exactly 10,000 characters is fine.
    expect((await post(key, c.id, "reply", { content: "y".repeat(10_000) })).status).toBe(201);
  });

  it("an unbound key holds by itself: another unbound key is refused", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const one = await keyOf();
    const two = await keyOf();
    const taken = await post(one, c.id, "takeover");
    expect(taken.body).toMatchObject({ status: "human_active", assignee: { type: "human_operator", member: null }, takeover: { member: null, heldByYou: true } });
    expect(await post(two, c.id, "takeover")).toMatchObject({ status: 409, body: { error: "Conversation is already taken over by another agent" } });
    expect((await post(two, c.id, "handback")).status).toBe(403);
    expect((await post(one, c.id, "reply", { message: "From a backend" })).status).toBe(201);
    expect((await post(one, c.id, "handback")).status).toBe(200);
  });
});

describe("GET /api/v1/conversations/:id", () => {
  it("returns metadata, handoff and takeover state besides the transcript", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi there" }], { visitorName: "Max", url: "https://shop.example.com/cart", clientMetadata: { plan: "pro" } });
    const key = await keyOf(agentA.id);
    const body = await transcript(key, c.id);
    expect(body).toMatchObject({
      id: c.id,
      widgetId: t.scenarioId,
      status: "active",
      resolutionStatus: "open",
      language: null,
      url: "https://shop.example.com/cart",
      metadata: { plan: "pro" },
      visitor: { name: "Max", email: null, phone: null },
      assignee: { type: "ai_assistant", member: null },
      takeover: null,
      handoff: { phase: "none", trigger: null, offeredAt: null, handedOffAt: null, summary: null },
    });
    expect(body.messages).toEqual([{ id: expect.any(String), ord: 1, type: "message", author: "visitor", content: "Hi there", createdAt: expect.any(String) }]);
    const fromOther = await keyOf(agentB.id);
    await post(key, c.id, "takeover");
    expect((await transcript(fromOther, c.id)).takeover).toMatchObject({ heldByYou: false, member: { name: "Agent Ada" } });
    const res = await call(`/api/v1/conversations/${c.id}`, { headers: bearer(key) });
    expect(res.headers.get("content-type")).toContain("application/json");
  });
});
