import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { recordAudit } from "../src/services/audit.ts";

const PATH = "/v1/api/human_handoff/configuration";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aAdmin: string;
let bAdmin: string;

const { call, gql } = http(() => server);

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aAdmin = (await a.developerKey()).secret;
  bAdmin = (await b.developerKey()).secret;
});
afterAll(() => server?.stop());

const TRAIL = `query ($first: Int, $after: String, $conversationId: ID) {
  auditTrail(first: $first, after: $after, conversationId: $conversationId) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id action details scenarioId conversationId memberId credentialId member { id name } createdAt } }
  } }`;

type Entry = { id: string; action: string; details: any; scenarioId: string | null; conversationId: string | null; memberId: string | null; credentialId: string | null; member: { id: string; name: string } | null };
async function trail(auth: string, variables: Record<string, unknown> = {}) {
  const res = await gql(auth, TRAIL, { first: 50, ...variables });
  expect(res.errors).toBeUndefined();
  return { total: res.data.auditTrail.totalCount as number, entries: res.data.auditTrail.edges.map((e: { node: Entry }) => e.node) as Entry[], pageInfo: res.data.auditTrail.pageInfo };
}

describe("audit trail of configuration changes", () => {
  it("a REST change records the token's credential (no member: tokens are not bound to one)", async () => {
    const token = await a.token("write_all");
    const res = await call(PATH, { method: "PUT", token: token.secret, body: { settings: { is_active: true, emails: ["ops@example.com"] } } });
    expect(res.status).toBe(200);
    const { entries } = await trail(aAdmin);
    expect(entries[0]).toMatchObject({
      action: "handoff_configuration.updated",
      scenarioId: a.scenarioId,
      conversationId: null,
      memberId: null,
      member: null,
      credentialId: token.id,
      details: { settings: expect.arrayContaining(["is_active", "emails"]) },
    });
  });

  it("a GraphQL change through a member's key records the member and the key; the list changes are described", async () => {
    const member = await a.member("Morgan");
    const key = await a.developerKey(["assistant:read", "assistant:write"], member.id);
    const m = await gql(key.secret, `mutation ($id: ID!) { updateHandoffConfiguration(scenarioId: $id, input: {
        customGuidelines: [{ name: "VIP", description: "A VIP customer writes" }] }) { customGuidelines { id } } }`, { id: a.scenarioId });
    expect(m.errors).toBeUndefined();
    const created = m.data.updateHandoffConfiguration.customGuidelines[0].id;
    const { entries } = await trail(aAdmin);
    expect(entries[0]).toMatchObject({
      action: "handoff_configuration.updated",
      memberId: member.id,
      member: { id: member.id, name: "Morgan" },
      credentialId: key.id,
      details: { custom_guidelines: { created: [created] } },
    });
  });

  it("a PUT that changes nothing records nothing; a rejected one neither", async () => {
    const before = (await trail(aAdmin)).total;
    const token = (await a.token("write_all")).secret;
    const current = await (await call(PATH, { token })).json();
    expect((await call(PATH, { method: "PUT", token, body: current })).status).toBe(200);
    expect((await call(PATH, { method: "PUT", token, body: { settings: { timezone: "Nowhere/Land" } } })).status).toBe(422);
    expect((await trail(aAdmin)).total).toBe(before);
  });

  it("pages newest first", async () => {
    const token = (await a.token("write_all")).secret;
    for (const q of ["One?", "Two?", "Three?"]) {
      expect((await call(PATH, { method: "PUT", token, body: { settings: { question_message: q } } })).status).toBe(200);
    }
    const all = await trail(aAdmin);
    const page1 = await trail(aAdmin, { first: 2 });
    expect(page1.entries.map((e) => e.id)).toEqual(all.entries.slice(0, 2).map((e) => e.id));
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = await trail(aAdmin, { first: 2, after: page1.pageInfo.endCursor });
    expect(page2.entries.map((e) => e.id)).toEqual(all.entries.slice(2, 4).map((e) => e.id));
    expect(page1.total).toBe(all.total);
  });
});

describe("who may read it", () => {
  it("a scenario token reads its own scenario's entries only", async () => {
    const second = await a.scenario("Second");
    const w = (await second.token("write_all")).secret;
    expect((await call(PATH, { method: "PUT", token: w, body: { settings: { is_active: true } } })).status).toBe(200);
    const own = await trail((await second.token("read_all")).secret);
    expect(own.total).toBe(1);
    expect(own.entries[0]!.scenarioId).toBe(second.scenarioId);
    const first = await trail((await a.token("read_all")).secret);
    expect(first.entries.every((e) => e.scenarioId === a.scenarioId)).toBe(true);
    // The admin key sees both scenarios.
    const all = await trail(aAdmin);
    expect(new Set(all.entries.map((e) => e.scenarioId))).toEqual(new Set([a.scenarioId, second.scenarioId]));
  });

  it("another workspace never sees the entries, nor a conversation's trail", async () => {
    const conversation = await a.conversation([{ author: "visitor", content: "Hello" }]);
    await server.app.runtime.db.$transaction((tx) =>
      recordAudit(tx, { workspaceId: a.workspaceId, scenarioId: a.scenarioId, conversationId: conversation.id, action: "conversation.assigned", details: { to: "someone" } }),
    );
    expect((await trail(bAdmin)).total).toBe(0);
    expect(errorCodes(await gql(bAdmin, TRAIL, { conversationId: conversation.id }))).toEqual(["NOT_FOUND"]);
    const bToken = (await b.token("read_all")).secret;
    expect((await trail(bToken)).total).toBe(0);
    expect(errorCodes(await gql(bToken, TRAIL, { conversationId: conversation.id }))).toEqual(["NOT_FOUND"]);
  });

  it("a conversation's trail: through Conversation.auditTrail and auditTrail(conversationId)", async () => {
    const conversation = await a.conversation([{ author: "visitor", content: "I need a person" }]);
    const other = await a.conversation([{ author: "visitor", content: "Other" }]);
    await server.app.runtime.db.$transaction(async (tx) => {
      await recordAudit(tx, { workspaceId: a.workspaceId, scenarioId: a.scenarioId, conversationId: conversation.id, action: "conversation.taken_over", details: {} });
      await recordAudit(tx, { workspaceId: a.workspaceId, scenarioId: a.scenarioId, conversationId: other.id, action: "conversation.taken_over", details: {} });
    });
    const reader = (await a.developerKey(["conversations:read"])).secret;
    const byArg = await trail(reader, { conversationId: conversation.id });
    expect(byArg.entries.map((e) => [e.action, e.conversationId])).toEqual([["conversation.taken_over", conversation.id]]);
    const nested = await gql(reader, `query ($id: ID!) { conversation(id: $id) { auditTrail(first: 10) { totalCount edges { node { action conversationId } } } } }`, {
      id: conversation.id,
    });
    expect(nested.errors).toBeUndefined();
    expect(nested.data.conversation.auditTrail).toEqual({ totalCount: 1, edges: [{ node: { action: "conversation.taken_over", conversationId: conversation.id } }] });
  });

  it("the workspace trail needs workspace:admin on a developer key; a widget key gets nothing", async () => {
    const reader = (await a.developerKey(["conversations:read", "assistant:read"])).secret;
    expect(errorCodes(await gql(reader, TRAIL))).toEqual(["PERMISSION_DENIED"]);
    const widget = (await a.widgetKey()).secret;
    expect(errorCodes(await gql(widget, TRAIL))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql("", TRAIL))).toEqual(["PERMISSION_DENIED"]);
  });
});
