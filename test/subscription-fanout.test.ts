import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { graphqlWsClients } from "./helpers/ws.ts";
import { untilLive, wsSubscription, type LiveSubscription } from "./helpers/live.ts";

// Many subscribers on one topic: each receives every update, rendered for its own credential (one
// execution serves the subscribers that share document, variables and credential), and a busy topic
// is not taken for a listener leak.

let server: TestServer;
let t: Tenant;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Fan-out");
});
afterAll(() => server?.stop());

const wsClient = graphqlWsClients(() => server.wsUrl);
const { callJson, gql } = http(() => server);

const TYPING = `subscription ($id: ID!, $token: String) {
  typing(conversationId: $id, visitorToken: $token) { author name isTyping member { id name } }
}`;
const SET_TYPING = `mutation ($id: ID!, $on: Boolean!, $token: String) { setTyping(conversationId: $id, isTyping: $on, visitorToken: $token) { isTyping } }`;
const INBOX = `subscription ($s: ID!) { inboxUpdated(scenarioId: $s) { reason conversation { id resolutionStatus lastMessageContent } } }`;

async function visitorStarts(site: string) {
  const visitorToken = `vt-${randomUUID()}`;
  const res = await callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Jane Doe", email: "jane@example.com", message: "Hello", visitor_token: visitorToken },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { visitorToken, conversationId: res.body.conversation_token as string };
}

let warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
beforeEach(() => {
  warnings = [];
  process.on("warning", onWarning);
});
afterEach(() => {
  process.off("warning", onWarning);
});

const subscribers = (n: number, make: () => LiveSubscription) => Array.from({ length: n }, make);

describe("one topic, many subscribers", () => {
  it("the same document and variables under different credentials: each subscriber gets what its credential shows", async () => {
    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const member = await t.member("Tina Typist");
    const typist = (await t.developerKey(["conversations:read", "conversations:write"], member.id)).secret;
    const reader = (await t.token("read_all")).secret;
    // Operators ignore visitorToken, so all of them send exactly the visitor's document and variables.
    const vars = { id: v.conversationId, token: v.visitorToken };
    const readerClient = wsClient(reader);
    const visitorClient = wsClient(site);
    const readers = subscribers(6, () => wsSubscription(readerClient, TYPING, vars));
    const visitors = subscribers(6, () => wsSubscription(visitorClient, TYPING, vars));

    let on = false;
    for (const sub of [...readers, ...visitors]) {
      await untilLive(sub, async () => {
        on = !on;
        const r = await gql(typist, SET_TYPING, { id: v.conversationId, on });
        expect(r.errors).toBeUndefined();
      });
    }
    await gql(typist, SET_TYPING, { id: v.conversationId, on: true });
    for (const sub of readers) {
      const last = await sub.next((i) => i.isTyping === true && sub.items.indexOf(i) === sub.items.length - 1);
      expect(last).toEqual({ author: "human_operator", name: "Tina Typist", isTyping: true, member: { id: member.id, name: "Tina Typist" } });
      expect(sub.errors).toEqual([]);
    }
    for (const sub of visitors) {
      expect(sub.items.length).toBeGreaterThan(0);
      // Visitors get the operator's name, never the member record.
      expect(sub.items.every((i) => i.member === null && i.name === "Tina Typist")).toBe(true);
      expect(sub.errors).toEqual([]);
    }
    expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
  });

  it("a dozen inbox subscribers with one token each receive every update", async () => {
    const writer = (await t.developerKey(["conversations:read", "conversations:write"])).secret;
    const reader = (await t.token("read_all")).secret;
    const warm = await t.conversation([{ author: "visitor", content: "warm up" }]);
    const client = wsClient(reader);
    const subs = subscribers(12, () => wsSubscription(client, INBOX, { s: t.scenarioId }));
    let resolved = false;
    for (const sub of subs) {
      await untilLive(sub, async () => {
        resolved = !resolved;
        const r = await gql(writer, `mutation ($id: ID!) { ${resolved ? "resolveConversation" : "reopenConversation"}(conversationId: $id) { id } }`, { id: warm.id });
        expect(r.errors).toBeUndefined();
      });
    }

    const site = (await t.widgetKey()).secret;
    const v = await visitorStarts(site);
    const res = await callJson(`/api/v1/chat/conversations/${v.visitorToken}/messages`, { method: "POST", token: site, body: { message: "fan me out" } });
    expect(res.status).toBe(201);
    for (const sub of subs) {
      const u = await sub.next((i) => i.reason === "message" && i.conversation.lastMessageContent === "fan me out");
      expect(u.conversation).toEqual({ id: v.conversationId, resolutionStatus: "open", lastMessageContent: "fan me out" });
      expect(sub.errors).toEqual([]);
    }
    expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
  });
});
