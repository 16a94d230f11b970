import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAKEOVER_SCOPES } from "../src/services/external-agents.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// Agents racing for the same conversation, over real HTTP requests sent at once: the claim is one
// conditional UPDATE, so exactly one wins and everything it writes (log line, audit entry, domain
// event) exists once. Run on SQLite and PostgreSQL (npm run test:postgres -- test/takeover-races.test.ts).

let server: TestServer;
let t: Tenant;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Races");
});
afterAll(() => server?.stop());

const { callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;
type Scopes = Parameters<Tenant["developerKey"]>[0];

async function agents(n: number) {
  const out: { memberId: string; key: string }[] = [];
  for (let i = 0; i < n; i++) {
    const m = await t.member(`Racer ${out.length + 1}-${Math.random().toString(36).slice(2, 6)}`, "external_agent");
    out.push({ memberId: m.id, key: (await t.developerKey(TAKEOVER_SCOPES as unknown as Scopes, m.id)).secret });
  }
  return out;
}

const takeover = (key: string, id: string) => callJson(`/api/v1/conversations/${id}/takeover`, { method: "POST", token: key });

async function writesOf(conversationId: string) {
  const [logs, audit, domain] = await Promise.all([
    db().conversationEvent.count({ where: { conversationId, type: "log", handoffState: "taken_over" } }),
    db().auditEntry.count({ where: { conversationId, action: "conversation.taken_over" } }),
    db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: "conversation.taken_over" } }),
  ]);
  return { logs, audit, domain: domain.filter((d) => (d.payload as { conversationId?: string }).conversationId === conversationId).length };
}

describe("two agents taking over at once", () => {
  it("exactly one wins (200), the other gets 409, and the winner's claim is the one stored", async () => {
    const racers = await agents(2);
    for (let round = 0; round < 8; round++) {
      const c = await t.conversation([{ author: "visitor", content: `Race ${round}` }]);
      const results = await Promise.all(racers.map((r) => takeover(r.key, c.id)));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses, JSON.stringify(results.map((r) => r.body))).toEqual([200, 409]);
      const winner = racers[results.findIndex((r) => r.status === 200)]!;
      const loser = results.find((r) => r.status === 409)!;
      expect(loser.body.error).toMatch(/^Conversation is already taken over by Racer /);
      const row = await db().conversation.findUniqueOrThrow({ where: { id: c.id } });
      expect(row).toMatchObject({ status: "human_active", takeoverMemberId: winner.memberId, assigneeMemberId: winner.memberId });
      expect(await writesOf(c.id)).toEqual({ logs: 1, audit: 1, domain: 1 });
    }
  });

  it("five agents at once, REST and GraphQL mixed: one winner", async () => {
    const racers = await agents(5);
    const c = await t.conversation([{ author: "visitor", content: "Crowded" }]);
    const results = await Promise.all(
      racers.map(async (r, i) => {
        if (i % 2 === 0) return (await takeover(r.key, c.id)).status === 200 ? "won" : "lost";
        const res = await gql(r.key, `mutation ($id: ID!) { takeoverConversation(conversationId: $id) { status } }`, { id: c.id });
        if (res.errors) expect(errorCodes(res)).toEqual(["CONFLICT"]);
        return res.errors ? "lost" : "won";
      }),
    );
    expect(results.filter((r) => r === "won")).toHaveLength(1);
    expect(await writesOf(c.id)).toEqual({ logs: 1, audit: 1, domain: 1 });
    const row = await db().conversation.findUniqueOrThrow({ where: { id: c.id } });
    expect(row.takeoverMemberId).toBe(racers[results.indexOf("won")]!.memberId);
  });

  it("a reply racing the holder's own handback lands before it or is refused, never after it", async () => {
    const [holder] = await agents(1);
    for (let round = 0; round < 6; round++) {
      const c = await t.conversation([{ author: "visitor", content: `Reply race ${round}` }]);
      expect((await takeover(holder!.key, c.id)).status).toBe(200);
      const [reply, back] = await Promise.all([
        callJson(`/api/v1/conversations/${c.id}/reply`, { method: "POST", token: holder!.key, body: { message: "Last words" } }),
        callJson(`/api/v1/conversations/${c.id}/handback`, { method: "POST", token: holder!.key }),
      ]);
      expect(back.status).toBe(200);
      const events = await db().conversationEvent.findMany({ where: { conversationId: c.id }, orderBy: { ord: "asc" } });
      const handedBack = events.find((e) => e.handoffState === "handed_back")!;
      if (reply.status === 201) {
        expect(reply.body.ord).toBeLessThan(handedBack.ord);
      } else {
        expect(reply).toMatchObject({ status: 409, body: { error: "Conversation is not taken over: take it over before replying" } });
        expect(events.filter((e) => e.author === "human_operator" && e.type === "message")).toEqual([]);
      }
    }
  });
});
