import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { hashVisitorToken } from "../src/services/conversation-access.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// Operators on GraphQL: reading conversations, resolve/reopen, mark read, assign, terminate; and
// the visitor's feedback and rating. Each refusal leaves the conversation as it was.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let writer: string;
let reader: string;
let dev: string;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Ops");
  other = await seed(server.app).workspace("Ops other");
  writer = (await t.token("write_all")).secret;
  reader = (await t.token("read_all")).secret;
  dev = (await t.developerKey(["conversations:read", "conversations:write"])).secret;
});
afterAll(() => server?.stop());

const { gql, graphql } = http(() => server);
const db = () => server.app.runtime.db;

const CONVERSATION = `id ord title source status terminated resolutionStatus hasUnreadMessages supportsInboxControl
  lastMessageContent lastMessageAt mostFrequentLanguage assignee { type member { id name } }
  visitor { name email phoneNumber label } url clientMetadata lastVisitorMessageAt
  unifiedAnalysis { sentiment resolutionStatus topic isFlagged flagReason } rating eventCount createdAt scenarioId`;

const ACT = (name: string) => `mutation ($id: ID!) { ${name}(conversationId: $id) { id resolutionStatus terminated hasUnreadMessages } }`;
const ASSIGN = `mutation ($id: ID!, $m: ID, $type: AssigneeType) {
  assignConversation(conversationId: $id, memberId: $m, type: $type) { assignee { type member { id name } } }
}`;

const row = (id: string) => db().conversation.findUniqueOrThrow({ where: { id } });
const domainEvents = (conversationId: string) =>
  db().domainEvent.findMany({ where: { type: { startsWith: "conversation." } }, orderBy: { createdAt: "asc" } }).then((rows) =>
    rows.filter((r) => (r.payload as { conversationId?: string }).conversationId === conversationId).map((r) => r.type),
  );

describe("reading conversations", () => {
  it("conversation(id) answers every field", async () => {
    const c = await t.conversation(
      [
        { author: "visitor", content: "Hello there" },
        { author: "ai_assistant", content: "Hi! How can I help?" },
      ],
      { visitorName: "Ann", visitorEmail: "ann@example.com", url: "https://shop.example/help", clientMetadata: { plan: "pro" } },
    );
    const r = await gql(reader, `query ($id: ID!) { conversation(id: $id) { ${CONVERSATION} } }`, { id: c.id });
    expect(r.errors).toBeUndefined();
    expect(r.data.conversation).toMatchObject({
      id: c.id,
      ord: c.ord,
      source: "api",
      status: "active",
      terminated: false,
      resolutionStatus: "open",
      hasUnreadMessages: true,
      supportsInboxControl: true,
      lastMessageContent: "Hi! How can I help?",
      assignee: { type: "ai_assistant", member: null },
      visitor: { name: "Ann", email: "ann@example.com", phoneNumber: null, label: null },
      url: "https://shop.example/help",
      clientMetadata: { plan: "pro" },
      unifiedAnalysis: null,
      rating: null,
      eventCount: 2,
      scenarioId: t.scenarioId,
    });
    expect(new Date(r.data.conversation.lastVisitorMessageAt).getTime()).not.toBeNaN();
  });

  it("events page in ord order by cursor, afterOrd, or from the end", async () => {
    const c = await t.conversation(Array.from({ length: 7 }, (_, i) => ({ author: i % 2 ? "ai_assistant" : "visitor", content: `m${i + 1}` }) as const));
    const Q = `query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $afterOrd: Int) {
      conversation(id: $id) { events(first: $first, after: $after, last: $last, before: $before, afterOrd: $afterOrd) {
        edges { cursor node { ord content author } } pageInfo { hasNextPage endCursor } } } }`;
    const page1 = await gql(reader, Q, { id: c.id, first: 3 });
    expect(page1.data.conversation.events.edges.map((e: any) => e.node.ord)).toEqual([1, 2, 3]);
    expect(page1.data.conversation.events.pageInfo).toEqual({ hasNextPage: true, endCursor: "3" });
    const page2 = await gql(reader, Q, { id: c.id, first: 3, after: "3" });
    expect(page2.data.conversation.events.edges.map((e: any) => e.node.content)).toEqual(["m4", "m5", "m6"]);
    const byOrd = await gql(reader, Q, { id: c.id, afterOrd: 5 });
    expect(byOrd.data.conversation.events.edges.map((e: any) => e.node.ord)).toEqual([6, 7]);
    const tail = await gql(reader, Q, { id: c.id, last: 2 });
    expect(tail.data.conversation.events.edges.map((e: any) => e.node.ord)).toEqual([6, 7]);
    const before = await gql(reader, Q, { id: c.id, last: 2, before: "3" });
    expect(before.data.conversation.events.edges.map((e: any) => e.node.ord)).toEqual([1, 2]);
    expect(errorCodes(await gql(reader, Q, { id: c.id, after: "not-an-ord" }))).toEqual(["BAD_REQUEST"]);
    expect(errorCodes(await gql(reader, Q, { id: c.id, afterOrd: -2 }))).toEqual(["BAD_REQUEST"]);
  });

  it("lists a scenario's conversations with the Quickchat filters, newest first", async () => {
    const s = await t.scenario("Listing");
    const token = (await s.token("read_all")).secret;
    const a = await s.conversation([{ author: "visitor", content: "Where is my parcel?" }], { source: "widget", at: new Date("2026-01-01T10:00:00Z") });
    const b = await s.conversation([{ author: "visitor", content: "Refund please" }], { source: "api", at: new Date("2026-01-02T10:00:00Z") });
    const c = await s.conversation([{ author: "visitor", content: "Another parcel question" }], { source: "widget", at: new Date("2026-01-03T10:00:00Z") });
    await db().conversation.update({ where: { id: b.id }, data: { resolutionStatus: "resolved" } });
    const L = `query ($s: ID, $f: ConversationFilter, $first: Int, $after: String) {
      conversations(scenarioId: $s, filter: $f, first: $first, after: $after) { totalCount edges { cursor node { id ord } } pageInfo { hasNextPage endCursor } } }`;
    const ids = (r: any) => r.data.conversations.edges.map((e: any) => e.node.id);
    const all = await gql(token, L, {});
    expect(ids(all)).toEqual([c.id, b.id, a.id]);
    expect(all.data.conversations.totalCount).toBe(3);
    const paged = await gql(token, L, { first: 2 });
    expect(ids(paged)).toEqual([c.id, b.id]);
    expect(ids(await gql(token, L, { first: 2, after: paged.data.conversations.pageInfo.endCursor }))).toEqual([a.id]);
    expect(ids(await gql(token, L, { f: { resolutionStatus: "resolved" } }))).toEqual([b.id]);
    expect(ids(await gql(token, L, { f: { source: "widget" } }))).toEqual([c.id, a.id]);
    expect(ids(await gql(token, L, { f: { query: "parcel" } }))).toEqual([c.id, a.id]);
    expect(ids(await gql(token, L, { f: { query: String(b.ord) } }))).toEqual([b.id]);
    expect(ids(await gql(token, L, { f: { assigneeType: "unassigned" } }))).toEqual([]);
    expect(ids(await gql(token, L, { f: { createdTimestampStartDate: "2026-01-02T00:00:00Z" } }))).toEqual([c.id, b.id]);
    const filtered = await gql(token, L, { f: { query: "parcel" } });
    expect(filtered.data.conversations.totalCount).toBe(2);
    // Also through the scenario, with a developer key naming it.
    const viaScenario = await gql(dev, `query ($s: ID!) { scenario(id: $s) { conversations(first: 10) { totalCount nodes { id } } } }`, { s: s.scenarioId });
    expect(viaScenario.data.scenario.conversations.nodes.map((n: any) => n.id)).toEqual([c.id, b.id, a.id]);
    const bad = await gql(token, L, { f: { createdTimestampStartDate: "2026-01-03T00:00:00Z", createdTimestampEndDate: "2026-01-01T00:00:00Z" } });
    expect(errorCodes(bad)).toEqual(["VALIDATION_ERROR"]);
    // A developer key must name the scenario; another workspace's is NOT_FOUND.
    expect(errorCodes(await gql(dev, L, {}))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(dev, L, { s: other.scenarioId }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(token, L, { s: t.scenarioId }))).toEqual(["NOT_FOUND"]);
  });

  it("the list costs the same number of statements for 1 and 10 conversations (assignees included)", async (ctx) => {
    if (server.app.database.provider !== "sqlite") ctx.skip();
    const L = `{ conversations(first: 20) { totalCount nodes { id title assignee { type member { name } } visitor { name } } } }`;
    async function statements(count: number) {
      const s = await t.scenario(`Counted ${count}`);
      const member = await s.member(`Member ${count}`);
      for (let i = 0; i < count; i++) {
        const c = await s.conversation([{ author: "visitor", content: `hello ${i}` }]);
        await db().conversation.update({ where: { id: c.id }, data: { assigneeType: "human_operator", assigneeMemberId: member.id } });
      }
      const token = (await s.token("read_all")).secret;
      await gql(token, L); // warm up: credential lookups, prepared state
      const spy = vi.spyOn(Database.prototype, "prepare");
      try {
        const r = await gql(token, L);
        expect(r.errors).toBeUndefined();
        expect(r.data.conversations.nodes).toHaveLength(count);
        expect(r.data.conversations.nodes.every((n: any) => n.assignee.member.name === `Member ${count}`)).toBe(true);
        return spy.mock.calls.map((c) => String(c[0])).filter((q) => !/[`"]Job[`"]/.test(q));
      } finally {
        spy.mockRestore();
      }
    }
    const one = await statements(1);
    const ten = await statements(10);
    expect(one.length).toBeGreaterThan(0);
    expect(ten.length, ten.join("\n")).toBe(one.length);
  });

  it("another tenant's conversation, an unknown id and a widget key get nothing", async () => {
    const theirs = await other.conversation([{ author: "visitor", content: "secret" }]);
    const Q = `query ($id: ID!) { conversation(id: $id) { id lastMessageContent } }`;
    for (const id of [theirs.id, randomUUID(), "not-a-uuid"]) {
      const r = await graphql(Q, { auth: reader, variables: { id } });
      expect(errorCodes(r.body)).toEqual(["NOT_FOUND"]);
      expect(r.text).not.toContain("secret");
    }
    const widget = await gql((await t.widgetKey()).secret, Q, { id: theirs.id });
    expect(errorCodes(widget)).toEqual(["PERMISSION_DENIED"]);
    expect(widget.errors![0]!.message).toBe("A widget key can only be used for visitor operations");
  });
});

describe("operator actions", () => {
  it("resolve and reopen: one domain event per change, none for a no-op; reopening lifts a termination", async () => {
    const c = await t.conversation([{ author: "visitor", content: "help" }]);
    const r = await gql(writer, ACT("resolveConversation"), { id: c.id });
    expect(r.data.resolveConversation).toMatchObject({ id: c.id, resolutionStatus: "resolved" });
    expect((await row(c.id)).resolutionStatus).toBe("resolved");
    await gql(writer, ACT("resolveConversation"), { id: c.id });
    expect(await domainEvents(c.id)).toEqual(["conversation.resolved"]);

    await gql(writer, ACT("terminateConversation"), { id: c.id });
    const reopened = await gql(dev, ACT("reopenConversation"), { id: c.id });
    expect(reopened.data.reopenConversation).toMatchObject({ resolutionStatus: "open", terminated: false });
    expect(await domainEvents(c.id)).toEqual(["conversation.resolved", "conversation.terminated", "conversation.reopened"]);
  });

  it("markConversationRead clears the unread flag; terminate ends the conversation", async () => {
    const c = await t.conversation([{ author: "visitor", content: "unread" }]);
    expect((await row(c.id)).hasUnreadMessages).toBe(true);
    const r = await gql(writer, ACT("markConversationRead"), { id: c.id });
    expect(r.data.markConversationRead.hasUnreadMessages).toBe(false);
    expect((await row(c.id)).hasUnreadMessages).toBe(false);
    const x = await gql(writer, ACT("terminateConversation"), { id: c.id });
    expect(x.data.terminateConversation.terminated).toBe(true);
    expect((await row(c.id)).terminated).toBe(true);
    expect(await domainEvents(c.id)).toEqual(["conversation.read", "conversation.terminated"]);
  });

  it("assigns to a member of the workspace, to nobody or back to the assistant", async () => {
    const c = await t.conversation([{ author: "visitor", content: "assign me" }]);
    const member = await t.member("Max Operator");
    const r = await gql(writer, ASSIGN, { id: c.id, m: member.id });
    expect(r.data.assignConversation.assignee).toEqual({ type: "human_operator", member: { id: member.id, name: "Max Operator" } });
    expect(await row(c.id)).toMatchObject({ assigneeType: "human_operator", assigneeMemberId: member.id, status: "active" });

    const none = await gql(writer, ASSIGN, { id: c.id });
    expect(none.data.assignConversation.assignee).toEqual({ type: "unassigned", member: null });
    const ai = await gql(writer, ASSIGN, { id: c.id, m: null, type: "ai_assistant" });
    expect(ai.data.assignConversation.assignee).toEqual({ type: "ai_assistant", member: null });
    expect(await row(c.id)).toMatchObject({ assigneeType: "ai_assistant", assigneeMemberId: null });
  });

  it("refuses another workspace's member (NOT_FOUND) and inconsistent types (VALIDATION_ERROR), changing nothing", async () => {
    const c = await t.conversation([{ author: "visitor", content: "stay" }]);
    const foreign = await other.member("Not yours");
    const mine = await t.member("Mine");
    const cases: [Record<string, unknown>, string][] = [
      [{ m: foreign.id }, "NOT_FOUND"],
      [{ m: randomUUID() }, "NOT_FOUND"],
      [{ m: mine.id, type: "unassigned" }, "VALIDATION_ERROR"],
      [{ type: "human_operator" }, "VALIDATION_ERROR"],
    ];
    for (const [vars, code] of cases) {
      expect(errorCodes(await gql(writer, ASSIGN, { id: c.id, ...vars })), JSON.stringify(vars)).toEqual([code]);
    }
    expect(await row(c.id)).toMatchObject({ assigneeType: "ai_assistant", assigneeMemberId: null });
    expect(await domainEvents(c.id)).toEqual([]);
  });

  it("needs write access: read_all, conversations:read only, another tenant, a widget key or no key change nothing", async () => {
    const c = await t.conversation([{ author: "visitor", content: "untouched" }]);
    const before = await row(c.id);
    const readDev = (await t.developerKey(["conversations:read"])).secret;
    const theirWriter = (await other.token("write_all")).secret;
    const theirDev = (await other.developerKey(["conversations:write"])).secret;
    const site = (await t.widgetKey()).secret;
    for (const name of ["resolveConversation", "reopenConversation", "markConversationRead", "terminateConversation"]) {
      const denied = await gql(reader, ACT(name), { id: c.id });
      expect(errorCodes(denied), name).toEqual(["PERMISSION_DENIED"]);
      expect(denied.errors![0]!.message).toBe("Insufficient token scope. Required: write_all");
      expect(errorCodes(await gql(readDev, ACT(name), { id: c.id })), name).toEqual(["PERMISSION_DENIED"]);
      expect(errorCodes(await gql(theirWriter, ACT(name), { id: c.id })), name).toEqual(["NOT_FOUND"]);
      expect(errorCodes(await gql(theirDev, ACT(name), { id: c.id })), name).toEqual(["NOT_FOUND"]);
      expect(errorCodes(await gql(site, ACT(name), { id: c.id })), name).toEqual(["PERMISSION_DENIED"]);
      const anonymous = await graphql(ACT(name), { variables: { id: c.id } });
      expect(errorCodes(anonymous.body), name).toEqual(["PERMISSION_DENIED"]);
    }
    expect(errorCodes(await gql(reader, ASSIGN, { id: c.id }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(site, ASSIGN, { id: c.id }))).toEqual(["PERMISSION_DENIED"]);
    expect(await row(c.id)).toEqual(before);
    expect(await domainEvents(c.id)).toEqual([]);
  });
});

describe("visitor feedback and rating", () => {
  const FEEDBACK = `mutation ($token: String!, $eventId: ID, $ord: Int, $rating: FeedbackRating!, $comment: String) {
    giveMessageFeedback(visitorToken: $token, eventId: $eventId, ord: $ord, rating: $rating, comment: $comment) { id ord feedback }
  }`;
  const RATE = `mutation ($token: String!, $score: Int!, $comment: String, $answers: [RatingAnswerInput!]) {
    rateConversation(visitorToken: $token, score: $score, comment: $comment, answers: $answers) { id rating }
  }`;

  async function visitorConversation(tenant: Tenant = t) {
    const token = `vt-${randomUUID()}`;
    const c = await tenant.conversation(
      [
        { author: "visitor", content: "Question" },
        { author: "ai_assistant", content: "Answer" },
        { author: "human_operator", content: "Operator here" },
      ],
      { visitorTokenHash: hashVisitorToken(token), visitorName: "Vera" },
    );
    return { token, c };
  }

  it("stores thumbs on the assistant's and operators' messages, by ord or event id", async () => {
    const site = (await t.widgetKey()).secret;
    const { token, c } = await visitorConversation();
    const up = await gql(site, FEEDBACK, { token, ord: 2, rating: "THUMBS_UP", comment: "Spot on" });
    expect(up.errors).toBeUndefined();
    expect(up.data.giveMessageFeedback).toMatchObject({ ord: 2, feedback: { rating: "thumbs_up", comment: "Spot on" } });
    const down = await gql(site, FEEDBACK, { token, eventId: c.events[2]!.id, rating: "THUMBS_DOWN" });
    expect(down.data.giveMessageFeedback).toMatchObject({ ord: 3, feedback: { rating: "thumbs_down", comment: null } });
    // Operators see it on the event.
    const seen = await gql(reader, `query ($id: ID!) { conversation(id: $id) { events { nodes { ord feedback } } } }`, { id: c.id });
    expect(seen.data.conversation.events.nodes.map((e: any) => e.feedback?.rating ?? null)).toEqual([null, "thumbs_up", "thumbs_down"]);
    expect(await domainEvents(c.id)).toEqual(["conversation.message_feedback", "conversation.message_feedback"]);
  });

  it("refuses feedback on the visitor's own message, unknown or foreign messages, and bad input", async () => {
    const site = (await t.widgetKey()).secret;
    const { token, c: mine } = await visitorConversation();
    const { c: another } = await visitorConversation();
    const cases: [Record<string, unknown>, string][] = [
      [{ ord: 1 }, "VALIDATION_ERROR"],
      [{ ord: 99 }, "NOT_FOUND"],
      [{ eventId: another.events[1]!.id }, "NOT_FOUND"],
      [{ ord: 2, eventId: another.events[1]!.id }, "VALIDATION_ERROR"],
      [{}, "VALIDATION_ERROR"],
      [{ ord: 2, comment: "x".repeat(2001) }, "VALIDATION_ERROR"],
    ];
    for (const [vars, code] of cases) {
      expect(errorCodes(await gql(site, FEEDBACK, { token, rating: "THUMBS_UP", ...vars })), JSON.stringify(vars).slice(0, 80)).toEqual([code]);
    }
    expect(errorCodes(await gql(site, FEEDBACK, { token: "vt-unknown-token", ord: 2, rating: "THUMBS_UP" }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(writer, FEEDBACK, { token, ord: 2, rating: "THUMBS_UP" }))).toEqual(["PERMISSION_DENIED"]);
    const otherSite = (await other.widgetKey()).secret;
    expect(errorCodes(await gql(otherSite, FEEDBACK, { token, ord: 2, rating: "THUMBS_UP" }))).toEqual(["NOT_FOUND"]);
    const stored = await db().conversationEvent.findMany({ where: { conversationId: { in: [mine.id, another.id] } } });
    expect(stored.map((e) => e.feedback)).toEqual(stored.map(() => null));
  });

  it("rating honours the rating configuration", async () => {
    const s = await t.scenario("Rated");
    const site = (await s.widgetKey()).secret;
    const admin = (await s.token("write_all")).secret;
    const { token, c } = await visitorConversation(s);

    const off = await gql(site, RATE, { token, score: 5 });
    expect(errorCodes(off)).toEqual(["BAD_REQUEST"]);
    expect(off.errors![0]!.message).toMatch(/rating is turned off/);

    const on = await gql(admin, `mutation ($s: ID!) { updateRatingConfiguration(scenarioId: $s, input: {
      convRatingActive: true, convRatingPopupActive: true, convRatingQuestionCodes: [HELPFUL_THUMBS, NPS_0_10] }) { convRatingActive } }`, { s: s.scenarioId });
    expect(on.errors).toBeUndefined();

    const rated = await gql(site, RATE, {
      token,
      score: 4,
      comment: "Quick and friendly",
      answers: [
        { code: "HELPFUL_THUMBS", value: "up" },
        { code: "NPS_0_10", value: 9 },
      ],
    });
    expect(rated.errors).toBeUndefined();
    expect(rated.data.rateConversation.rating).toMatchObject({ score: 4, comment: "Quick and friendly", answers: { HELPFUL_THUMBS: "up", NPS_0_10: 9 } });
    expect((await row(c.id)).rating).toMatchObject({ score: 4 });
    const seen = await gql(admin, `query ($id: ID!) { conversation(id: $id) { rating } }`, { id: c.id });
    expect(seen.data.conversation.rating).toMatchObject({ score: 4, answers: { NPS_0_10: 9 } });

    const bad: [Record<string, unknown>, RegExp][] = [
      [{ score: 0 }, /score/],
      [{ score: 6 }, /score/],
      [{ score: 3, answers: [{ code: "SATISFACTION_STARS", value: 5 }] }, /SATISFACTION_STARS is not one of this assistant's rating questions/],
      [{ score: 3, answers: [{ code: "HELPFUL_THUMBS", value: "sideways" }] }, /answers\.0\.value/],
      [{ score: 3, answers: [{ code: "NPS_0_10", value: 11 }] }, /answers\.0\.value/],
      [{ score: 3, answers: [{ code: "HELPFUL_THUMBS", value: "up" }, { code: "HELPFUL_THUMBS", value: "down" }] }, /twice/],
      [{ score: 3, comment: "x".repeat(2001) }, /comment/],
    ];
    for (const [vars, message] of bad) {
      const r = await gql(site, RATE, { token, ...vars });
      expect(errorCodes(r), JSON.stringify(vars).slice(0, 80)).toEqual(["VALIDATION_ERROR"]);
      expect(r.errors![0]!.message).toMatch(message);
    }
    expect((await row(c.id)).rating).toMatchObject({ score: 4, comment: "Quick and friendly" });
    expect(errorCodes(await gql(writer, RATE, { token, score: 3 }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(site, RATE, { token: "vt-nobody-has-this", score: 3 }))).toEqual(["NOT_FOUND"]);
  });
});
