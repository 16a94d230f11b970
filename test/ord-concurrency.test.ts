import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { postVisitorMessage, startConversation } from "../src/services/chat.ts";
import { createServiceContext } from "../src/services/context.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";

// Conversation ords (per scenario) and event ords (per conversation) come from counters bumped in
// the writing transaction. Under concurrent writers they must stay unique and gap-free, on SQLite
// and on PostgreSQL (npm run test:postgres -- test/ord-concurrency.test.ts).

let server: TestServer;
let t: Tenant;
/** Several keys, so the parallel requests stay inside each key's WRITE budget. */
let keys: string[];

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Concurrency");
  await t.knowledgeBase([{ title: "Delivery", content: "Parcels arrive within 3 working days." }]);
  keys = [];
  for (let i = 0; i < 4; i++) keys.push((await t.legacyKey()).secret);
});
afterAll(() => server?.stop());

const { callJson } = http(() => server);
const db = () => server.app.runtime.db;
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);

async function eventOrds(conversationId: string) {
  const rows = await db().conversationEvent.findMany({ where: { conversationId }, select: { ord: true, author: true } });
  return { ords: sorted(rows.map((r) => r.ord)), rows };
}

describe("ord numbers under concurrent writers", () => {
  it("40 parallel POST /chat starting conversations: conversation ords are exactly 1..40", async () => {
    const scenario = await t.scenario("Parallel starts");
    const scenarioKeys = await Promise.all(range(4).map(async () => (await scenario.legacyKey()).secret));
    const responses = await Promise.all(
      range(40).map((i) =>
        callJson("/chat", { method: "POST", body: { api_key: scenarioKeys[i % 4], scenario_id: scenario.scenarioId, text: `Question ${i}` } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(range(40).map(() => 200));
    const ids = responses.map((r) => r.body.conv_id as string);
    expect(new Set(ids).size).toBe(40);

    const rows = await db().conversation.findMany({ where: { scenarioId: scenario.scenarioId }, select: { id: true, ord: true, eventCount: true } });
    expect(sorted(rows.map((r) => r.ord))).toEqual(range(40));
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    const counter = await db().scenario.findUniqueOrThrow({ where: { id: scenario.scenarioId }, select: { conversationCount: true } });
    expect(counter.conversationCount).toBe(40);
    // Each conversation: the visitor message (1) and the reply (2), as the responses said.
    for (const r of responses) expect(r.body.ord_number).toBe(2);
    for (const row of rows) {
      expect(row.eventCount).toBe(2);
      expect((await eventOrds(row.id)).ords).toEqual([1, 2]);
    }
  });

  it("30 parallel messages into one conversation (chat service, no replies): event ords are exactly 1..30", async () => {
    const ctx = () => createServiceContext(server.app.runtime, SYSTEM);
    const { conversation } = await startConversation(
      ctx(),
      { workspaceId: t.workspaceId, scenarioId: t.scenarioId, source: "api", welcome: false },
      null,
      "none",
    );
    const results = await Promise.all(
      range(30).map((i) => postVisitorMessage(ctx(), t.workspaceId, conversation.id, { content: `Message ${i}` }, { mode: "none", reopen: false })),
    );
    expect(sorted(results.map((r) => r.message.ord))).toEqual(range(30));
    const { ords, rows } = await eventOrds(conversation.id);
    expect(ords).toEqual(range(30));
    expect(rows.every((r) => r.author === "visitor")).toBe(true);
    const after = await db().conversation.findUniqueOrThrow({ where: { id: conversation.id } });
    expect(after.eventCount).toBe(30);
  });

  it("30 parallel POST /chat into one conversation, replies interleaved: ords contiguous, every message stored once", async () => {
    const first = await callJson("/chat", { method: "POST", body: { api_key: keys[0], scenario_id: t.scenarioId, text: "Hello" } });
    expect(first.status).toBe(200);
    const convId = first.body.conv_id as string;
    const responses = await Promise.all(
      range(30).map((i) =>
        callJson("/chat", { method: "POST", body: { api_key: keys[i % 4], scenario_id: t.scenarioId, text: `Parallel ${i}`, conv_id: convId } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(range(30).map(() => 200));

    const { ords, rows } = await eventOrds(convId);
    expect(ords).toEqual(range(rows.length));
    const visitorMessages = await db().conversationEvent.findMany({ where: { conversationId: convId, author: "visitor" }, select: { content: true } });
    expect(visitorMessages.map((m) => m.content).sort()).toEqual(["Hello", ...range(30).map((i) => `Parallel ${i}`)].sort());
    // Messages sent together may share one answer (the others get their own message's ord), but
    // every ord a response names is a stored event, and no reply is handed to two callers.
    const authorOf = new Map(rows.map((r) => [r.ord, r.author]));
    const named = responses.map((r) => r.body.ord_number as number);
    for (const o of named) expect(authorOf.has(o)).toBe(true);
    const replies = named.filter((o) => authorOf.get(o) === "ai_assistant");
    expect(new Set(replies).size).toBe(replies.length);
    const after = await db().conversation.findUniqueOrThrow({ where: { id: convId } });
    expect(after.eventCount).toBe(rows.length);
  });

  it("parallel starts in two scenarios number each scenario on its own", async () => {
    const one = await t.scenario("Numbering one");
    const two = await t.scenario("Numbering two");
    const ctx = () => createServiceContext(server.app.runtime, SYSTEM);
    const start = (scenarioId: string) =>
      startConversation(ctx(), { workspaceId: t.workspaceId, scenarioId, source: "api", welcome: false }, { content: "Hi" }, "none");
    const results = await Promise.all(range(40).map((i) => start(i % 2 ? one.scenarioId : two.scenarioId)));
    const ordsOf = (scenarioId: string) => sorted(results.filter((r) => r.conversation.scenarioId === scenarioId).map((r) => r.conversation.ord));
    expect(ordsOf(one.scenarioId)).toEqual(range(20));
    expect(ordsOf(two.scenarioId)).toEqual(range(20));
    for (const r of results) expect(r.message!.ord).toBe(1);
  });
});
