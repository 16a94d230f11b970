import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { graphqlWsClients } from "./helpers/ws.ts";
import { sseSubscription, untilLive, wsSubscription, type LiveSubscription } from "./helpers/live.ts";
import { until } from "./helpers/wait.ts";
import { appendEvent } from "../src/services/conversation-log.ts";

// Live chat: a visitor on the site-key REST API (and on GraphQL with its widget key) and operators
// on GraphQL subscriptions, over graphql-ws and SSE.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let server: TestServer;
let t: Tenant;
let other: Tenant;
let reader: string;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  t = await seed(server.app).workspace("Live");
  other = await seed(server.app).workspace("Live other");
  reader = (await t.token("read_all")).secret;
  await t.knowledgeBase([{ title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." }]);
});
afterAll(() => server?.stop());

const wsClient = graphqlWsClients(() => server.wsUrl);
const { callJson, gql } = http(() => server);

const EVENT = "id ord type author content isWelcome messageInsights";
const MESSAGE_ADDED = `subscription ($id: ID!, $after: Int, $token: String) {
  messageAdded(conversationId: $id, afterOrd: $after, visitorToken: $token) { ${EVENT} }
}`;
const TYPING = `subscription ($id: ID!, $token: String) {
  typing(conversationId: $id, visitorToken: $token) { conversationId author name isTyping at member { id name } }
}`;
const SET_TYPING = `mutation ($id: ID!, $on: Boolean!, $token: String) {
  setTyping(conversationId: $id, isTyping: $on, visitorToken: $token) { author name isTyping }
}`;
const INBOX = `subscription ($s: ID!) {
  inboxUpdated(scenarioId: $s) { reason conversation { id ord status resolutionStatus hasUnreadMessages assignee { type member { id name } } visitor { name email } } }
}`;

/** A visitor of `tenant` starting a conversation through the site-key API. */
async function visitorStarts(site: string, message = "Hi, how long does shipping take?") {
  const visitorToken = `vt-${randomUUID()}`;
  const res = await callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Jane Doe", email: "jane@example.com", message, visitor_token: visitorToken },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { visitorToken, conversationId: res.body.conversation_token as string, autoReply: res.body.auto_reply as string };
}

async function visitorSends(site: string, visitorToken: string, message: string) {
  const res = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, { method: "POST", token: site, body: { message } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** Waits until the conversation has at least `min` events and the assistant had the last word; answers the last ord. */
const settled = (conversationId: string, min: number) =>
  until("the assistant's answers", async () => {
    const last = await server.app.runtime.db.conversationEvent.findFirst({ where: { conversationId }, orderBy: { ord: "desc" } });
    return last && last.ord >= min && last.author === "ai_assistant" ? last.ord : null;
  });
const ords = (sub: LiveSubscription) => sub.items.map((e) => e.ord);
const consecutive = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("messageAdded", () => {
  it("a visitor on the site-key API and an operator on a GraphQL subscription hold a live conversation", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    expect(v.autoReply).toContain("3 to 5 days");

    // The operator replays the start (greeting, question, answer) and stays live.
    const operator = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: v.conversationId, after: 0 });
    const start = await operator.count(3);
    expect(start.map((e) => [e.ord, e.author, e.isWelcome])).toEqual([
      [1, "ai_assistant", true],
      [2, "visitor", false],
      [3, "ai_assistant", false],
    ]);
    expect(start[2].content).toBe(v.autoReply);

    // The visitor watches its own conversation over GraphQL with the widget key and its token.
    const visitor = wsSubscription(wsClient(site), MESSAGE_ADDED, { id: v.conversationId, after: 3, token: v.visitorToken });

    await visitorSends(site, v.visitorToken, "Do you ship to the UK?");
    const reply = await operator.next((e) => e.ord === 5);
    expect(reply.author).toBe("ai_assistant");
    expect(reply.messageInsights).toMatchObject({ in_reply_to: [4] });
    expect((await operator.next((e) => e.ord === 4)).content).toBe("Do you ship to the UK?");
    await visitor.next((e) => e.ord === 5);
    expect(ords(operator)).toEqual([1, 2, 3, 4, 5]);
    expect(ords(visitor)).toEqual([4, 5]);
    expect(visitor.items[1]).toEqual(reply);
    expect(operator.errors).toEqual([]);
    expect(visitor.errors).toEqual([]);
  });

  it("a client that reconnects with the last ord it saw gets exactly what it missed, then live events", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const first = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: v.conversationId, after: 0 });
    await first.count(3);
    first.stop();
    await first.done();

    // Missed while away: two messages and their answers.
    await visitorSends(site, v.visitorToken, "First question while away");
    await visitorSends(site, v.visitorToken, "Second question while away");
    const missedUpTo = await settled(v.conversationId, 6);

    const again = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: v.conversationId, after: 3 });
    await again.count(missedUpTo - 3);
    expect(ords(again)).toEqual(consecutive(4, missedUpTo));

    // Then live, several writers at once: still each ord once, in order.
    await Promise.all([1, 2, 3].map((i) => visitorSends(site, v.visitorToken, `Parallel ${i}`)));
    const last = await settled(v.conversationId, missedUpTo + 4);
    await again.count(last - 3);
    expect(ords(again)).toEqual(consecutive(4, last));
    const stored = await server.app.runtime.db.conversationEvent.findMany({ where: { conversationId: v.conversationId, ord: { gt: 3 } }, orderBy: { ord: "asc" } });
    expect(again.items.map((e) => e.id)).toEqual(stored.map((e) => e.id));
  });

  it("without afterOrd a subscriber gets live events only", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const sub = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: v.conversationId });
    await untilLive(sub, () => visitorSends(site, v.visitorToken, "ping"));
    expect(sub.items[0].ord).toBeGreaterThan(3);
    expect(ords(sub)).toEqual(consecutive(sub.items[0].ord, sub.items[0].ord + sub.items.length - 1));
  });

  it("an afterOrd beyond the last event, or negative, is BAD_REQUEST", async () => {
    const c = await t.conversation([{ author: "visitor", content: "hello" }]);
    for (const after of [5, -1]) {
      const sub = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: c.id, after });
      await sub.done();
      expect(errorCodes(sub)).toEqual(["BAD_REQUEST"]);
    }
  });

  it("a visitor can subscribe only to its own conversation; operators only within their tenant", async () => {
    const site = (await t.widgetKey()).secret;
    const mine = await visitorStarts(site);
    const theirs = await visitorStarts(site);
    const otherSite = (await other.widgetKey()).secret;
    const cases: [string, string, Record<string, unknown>, string][] = [
      ["wrong visitor token", site, { id: mine.conversationId, token: "vt-not-mine-at-all" }, "NOT_FOUND"],
      ["another visitor's conversation", site, { id: theirs.conversationId, token: mine.visitorToken }, "NOT_FOUND"],
      ["another scenario's widget key", otherSite, { id: mine.conversationId, token: mine.visitorToken }, "NOT_FOUND"],
      ["no visitor token", site, { id: mine.conversationId }, "PERMISSION_DENIED"],
      ["another tenant's token", (await other.token("read_all")).secret, { id: mine.conversationId }, "NOT_FOUND"],
      ["a developer key without conversations:read", (await t.developerKey(["assistant:read"])).secret, { id: mine.conversationId }, "PERMISSION_DENIED"],
      ["an unknown id", reader, { id: randomUUID() }, "NOT_FOUND"],
    ];
    for (const [name, key, variables, code] of cases) {
      const sub = wsSubscription(wsClient(key), MESSAGE_ADDED, { after: 0, ...variables });
      await sub.done();
      expect(errorCodes(sub), name).toEqual([code]);
      expect(sub.items, name).toEqual([]);
    }
    const own = wsSubscription(wsClient(site), MESSAGE_ADDED, { id: mine.conversationId, after: 0, token: mine.visitorToken });
    expect((await own.count(3)).map((e) => e.ord)).toEqual([1, 2, 3]);
  });

  it("visitors receive messages only; operators also log lines", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    // A log line (the handoff issue writes them; here straight through the conversation log).
    await server.app.runtime.sql.transaction((tx) =>
      appendEvent(tx, v.conversationId, { type: "log", author: "human_operator", content: "internal note" }, new Date()),
    );
    const operator = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: v.conversationId, after: 3 });
    const visitor = wsSubscription(wsClient(site), MESSAGE_ADDED, { id: v.conversationId, after: 3, token: v.visitorToken });
    await visitorSends(site, v.visitorToken, "after the note");
    await operator.next((e) => e.ord === 6);
    await visitor.next((e) => e.ord === 6);
    expect(operator.items.map((e) => [e.ord, e.type])).toEqual([
      [4, "log"],
      [5, "message"],
      [6, "message"],
    ]);
    expect(visitor.items.map((e) => [e.ord, e.type])).toEqual([
      [5, "message"],
      [6, "message"],
    ]);
  });

  it("works over SSE too: replay, then live", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const sub = sseSubscription(server.url, reader, MESSAGE_ADDED, { id: v.conversationId, after: 1 });
    expect((await sub.count(2)).map((e) => e.ord)).toEqual([2, 3]);
    await visitorSends(site, v.visitorToken, "over SSE");
    await sub.next((e) => e.ord === 5);
    expect(ords(sub)).toEqual([2, 3, 4, 5]);
    sub.stop();
  });
});

describe("replyChunks", () => {
  it("streams the assistant's reply to the visitor; the final message carries the stream id", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const chunks = wsSubscription(wsClient(site), `subscription ($id: ID!, $token: String) {
      replyChunks(conversationId: $id, visitorToken: $token) { conversationId streamId index delta }
    }`, { id: v.conversationId, token: v.visitorToken });
    const messages = wsSubscription(wsClient(site), MESSAGE_ADDED, { id: v.conversationId, after: 3, token: v.visitorToken });
    // Live once a reply streams to it; each question gets a streamed answer.
    await untilLive(chunks, () => visitorSends(site, v.visitorToken, "How long does shipping take?"));
    const streamId = chunks.items.at(-1).streamId;
    const final = await messages.next((e) => e.author === "ai_assistant" && e.messageInsights?.stream_id === streamId);
    // The chunks travel on their own subscription: the last ones may arrive just after the message.
    const streamed = () => chunks.items.filter((c) => c.streamId === streamId);
    await until("every chunk", async () => streamed().map((c) => c.delta).join("") === final.content);
    const mine = streamed();
    expect(mine.map((c) => c.index)).toEqual(consecutive(0, mine.length - 1));
    expect(mine.every((c) => c.conversationId === v.conversationId)).toBe(true);
  });

  it("another visitor's conversation is NOT_FOUND", async () => {
    const site = (await t.widgetKey()).secret;
    const mine = await visitorStarts(site);
    const theirs = await visitorStarts(site);
    const sub = wsSubscription(wsClient(site), `subscription ($id: ID!, $token: String) { replyChunks(conversationId: $id, visitorToken: $token) { delta } }`, {
      id: theirs.conversationId,
      token: mine.visitorToken,
    });
    await sub.done();
    expect(errorCodes(sub)).toEqual(["NOT_FOUND"]);
  });
});

describe("inboxUpdated", () => {
  it("tells operators of new conversations, resolution and assignee changes", async () => {
    const dev = (await t.developerKey(["conversations:read", "conversations:write"])).secret;
    const member = await t.member("Olivia Operator");
    const warm = await t.conversation([{ author: "visitor", content: "warm up" }]);
    const sub = wsSubscription(wsClient(dev), INBOX, { s: t.scenarioId });
    let resolved = false;
    await untilLive(sub, async () => {
      resolved = !resolved;
      const r = await gql(dev, `mutation ($id: ID!) { ${resolved ? "resolveConversation" : "reopenConversation"}(conversationId: $id) { id } }`, { id: warm.id });
      expect(r.errors).toBeUndefined();
    });

    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const created = await sub.next((u) => u.reason === "created" && u.conversation.id === v.conversationId);
    expect(created.conversation).toMatchObject({ visitor: { name: "Jane Doe", email: "jane@example.com" }, resolutionStatus: "open" });

    const r = await gql(dev, `mutation ($id: ID!) { resolveConversation(conversationId: $id) { resolutionStatus } }`, { id: v.conversationId });
    expect(r.data.resolveConversation.resolutionStatus).toBe("resolved");
    await sub.next((u) => u.reason === "resolution" && u.conversation.id === v.conversationId && u.conversation.resolutionStatus === "resolved");

    const a = await gql(dev, `mutation ($id: ID!, $m: ID) { assignConversation(conversationId: $id, memberId: $m) { assignee { type } } }`, {
      id: v.conversationId,
      m: member.id,
    });
    expect(a.errors).toBeUndefined();
    const assigned = await sub.next((u) => u.reason === "assignee" && u.conversation.id === v.conversationId);
    expect(assigned.conversation.assignee).toEqual({ type: "human_operator", member: { id: member.id, name: "Olivia Operator" } });

    // A visitor message: a message update with the unread flag.
    await visitorSends(site, v.visitorToken, "anyone there?");
    const msg = await sub.next((u) => u.reason === "message" && u.conversation.id === v.conversationId);
    expect(msg.conversation.hasUnreadMessages).toBe(true);
    // The reply reopened it (the site-key API reopens a closed conversation).
    expect(msg.conversation.resolutionStatus).toBe("open");
  });

  it("another tenant's scenario is NOT_FOUND; a widget key is refused; a token only sees its scenario", async () => {
    const cases: [string, string, string][] = [
      ["another tenant's scenario", reader, other.scenarioId],
      ["a developer key naming another workspace's scenario", (await t.developerKey(["conversations:read"])).secret, other.scenarioId],
    ];
    for (const [name, key, scenarioId] of cases) {
      const sub = wsSubscription(wsClient(key), INBOX, { s: scenarioId });
      await sub.done();
      expect(errorCodes(sub), name).toEqual(["NOT_FOUND"]);
    }
    const widget = wsSubscription(wsClient((await t.widgetKey()).secret), INBOX, { s: t.scenarioId });
    await widget.done();
    expect(errorCodes(widget)).toEqual(["PERMISSION_DENIED"]);
    const noScope = wsSubscription(wsClient((await t.developerKey(["assistant:read"])).secret), INBOX, { s: t.scenarioId });
    await noScope.done();
    expect(errorCodes(noScope)).toEqual(["PERMISSION_DENIED"]);
  });
});

describe("typing", () => {
  it("goes both ways: the visitor sees operators typing, operators see the visitor", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const member = await t.member("Tina Typist");
    const operatorKey = (await t.developerKey(["conversations:read", "conversations:write"], member.id)).secret;
    const opSub = wsSubscription(wsClient(operatorKey), TYPING, { id: v.conversationId });
    const visitorSub = wsSubscription(wsClient(site), TYPING, { id: v.conversationId, token: v.visitorToken });

    await untilLive(opSub, async () => {
      const r = await gql(site, SET_TYPING, { id: v.conversationId, on: true, token: v.visitorToken });
      expect(r.data.setTyping).toEqual({ author: "visitor", name: "Jane Doe", isTyping: true });
    });
    expect(opSub.items[0]).toMatchObject({ conversationId: v.conversationId, author: "visitor", name: "Jane Doe", isTyping: true, member: null });

    await untilLive(visitorSub, async () => {
      const r = await gql(operatorKey, SET_TYPING, { id: v.conversationId, on: true });
      expect(r.data.setTyping).toEqual({ author: "human_operator", name: "Tina Typist", isTyping: true });
    });
    // Visitors get the operator's name, not the member record.
    expect(visitorSub.items[0]).toMatchObject({ author: "human_operator", name: "Tina Typist", member: null, isTyping: true });
    await gql(operatorKey, SET_TYPING, { id: v.conversationId, on: false });
    await visitorSub.next((i) => i.isTyping === false);
    const fromOperator = await opSub.next((i) => i.author === "human_operator");
    expect(fromOperator.member).toEqual({ id: member.id, name: "Tina Typist" });
    // A visitor does not hear its own typing.
    expect(visitorSub.items.every((i) => i.author === "human_operator")).toBe(true);
    expect(await server.app.runtime.db.domainEvent.count({ where: { type: { contains: "typing" } } })).toBe(0);
  });

  it("setTyping needs write access, the visitor's own conversation, and a budget", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const theirs = await visitorStarts(site);
    expect(errorCodes(await gql(reader, SET_TYPING, { id: v.conversationId, on: true }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql((await other.token("write_all")).secret, SET_TYPING, { id: v.conversationId, on: true }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(site, SET_TYPING, { id: theirs.conversationId, on: true, token: v.visitorToken }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(site, SET_TYPING, { id: v.conversationId, on: true }))).toEqual(["PERMISSION_DENIED"]);
    const writer = (await t.token("write_all")).secret;
    const results = [];
    for (let i = 0; i < 61; i++) results.push(errorCodes(await gql(writer, SET_TYPING, { id: v.conversationId, on: i % 2 === 0 })));
    expect(results.slice(0, 60).every((c) => c.length === 0)).toBe(true);
    expect(results[60]).toEqual(["TOO_MANY_REQUESTS"]);
  });
});
