import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAKEOVER_SCOPES } from "../src/services/external-agents.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// Takeover from GraphQL (the operators' mutations, sharing the REST service and its rules) and the
// audit trail every takeover, reply, handback and assignment leaves, read back through GraphQL.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let agentA: { id: string; name: string };
let agentB: { id: string; name: string };

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Takeover GraphQL");
  other = await seed(server.app).workspace("Takeover GraphQL other");
  agentA = await t.member("Agent Ada", "external_agent");
  agentB = await t.member("Agent Bob", "external_agent");
});
afterAll(() => server?.stop());

const { callJson, gql } = http(() => server);

const keyOf = async (memberId?: string, scopes: readonly string[] = TAKEOVER_SCOPES) =>
  (await t.developerKey(scopes as Parameters<Tenant["developerKey"]>[0], memberId)).secret;

const post = (key: string, id: string, action: "takeover" | "reply" | "handback", body?: unknown) =>
  callJson(`/api/v1/conversations/${id}/${action}`, { method: "POST", token: key, body });

describe("GraphQL operators", () => {
  const TAKEOVER = `mutation ($id: ID!) { takeoverConversation(conversationId: $id) { id status assignee { type member { name } } takeover { member { name } heldByYou credentialId takenOverAt } } }`;
  const REPLY = `mutation ($id: ID!, $m: String!) { replyToConversation(conversationId: $id, message: $m) { ord author content authorName member { name } messageInsights } }`;
  const HANDBACK = `mutation ($id: ID!) { handBackConversation(conversationId: $id) { id status assignee { type } takeover { heldByYou } } }`;

  it("take over, reply and hand back with a member's key, sharing the REST rules", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const key = await keyOf(agentB.id);
    const taken = await gql(key, TAKEOVER, { id: c.id });
    expect(taken.errors).toBeUndefined();
    expect(taken.data.takeoverConversation).toMatchObject({
      status: "human_active",
      assignee: { type: "human_operator", member: { name: "Agent Bob" } },
      takeover: { member: { name: "Agent Bob" }, heldByYou: true },
    });
    // The REST holder check sees the same takeover.
    expect((await post(await keyOf(agentA.id), c.id, "takeover")).status).toBe(409);
    const replied = await gql(key, REPLY, { id: c.id, m: "Hello from GraphQL" });
    expect(replied.data.replyToConversation).toMatchObject({ ord: 3, author: "human_operator", content: "Hello from GraphQL", authorName: "Agent Bob", member: { name: "Agent Bob" } });
    const back = await gql(key, HANDBACK, { id: c.id });
    expect(back.data.handBackConversation).toEqual({ id: c.id, status: "active", assignee: { type: "ai_assistant" }, takeover: null });
  });

  it("a write_all token holds as itself; read_all may not; CONFLICT / PERMISSION_DENIED / NOT_FOUND as on REST", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const writer = (await t.token("write_all")).secret;
    const otherWriter = (await t.token("write_all")).secret;
    const reader = (await t.token("read_all")).secret;
    expect(errorCodes(await gql(reader, TAKEOVER, { id: c.id }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(writer, REPLY, { id: c.id, m: "x" }))).toEqual(["CONFLICT"]);
    expect((await gql(writer, TAKEOVER, { id: c.id })).data.takeoverConversation.takeover).toMatchObject({ member: null, heldByYou: true });
    expect(errorCodes(await gql(otherWriter, TAKEOVER, { id: c.id }))).toEqual(["CONFLICT"]);
    expect(errorCodes(await gql(otherWriter, HANDBACK, { id: c.id }))).toEqual(["PERMISSION_DENIED"]);
    // The other token reads the conversation; the takeover is not its own.
    const seen = await gql(reader, `query ($id: ID!) { conversation(id: $id) { status takeover { heldByYou member { name } } } }`, { id: c.id });
    expect(seen.data.conversation).toEqual({ status: "human_active", takeover: { heldByYou: false, member: null } });
    const theirs = await other.conversation([{ author: "visitor", content: "x" }]);
    expect(errorCodes(await gql(writer, TAKEOVER, { id: theirs.id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(await keyOf(agentA.id), TAKEOVER, { id: theirs.id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(await keyOf(agentA.id, ["conversations:read"]), TAKEOVER, { id: c.id }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(writer, REPLY, { id: c.id, m: " " }))).toEqual(["VALIDATION_ERROR"]);
    const site = (await t.widgetKey()).secret;
    expect(errorCodes(await gql(site, TAKEOVER, { id: c.id }))).toEqual(["PERMISSION_DENIED"]);
    expect((await gql(writer, HANDBACK, { id: c.id })).data.handBackConversation.status).toBe("active");
  });
});

describe("audit trail", () => {
  const TRAIL = `query ($id: ID!) { auditTrail(first: 20, conversationId: $id) { totalCount edges { node { action memberId member { name kind } credentialId details createdAt } } } }`;

  it("records who took over, replied, handed back and assigned, with the credential, readable in GraphQL", async () => {
    const c = await t.conversation([{ author: "visitor", content: "Hi" }]);
    const ada = await t.developerKey(TAKEOVER_SCOPES as unknown as Parameters<Tenant["developerKey"]>[0], agentA.id);
    await post(ada.secret, c.id, "takeover");
    const reply = await post(ada.secret, c.id, "reply", { message: "Checking" });
    await post(ada.secret, c.id, "handback");
    const writer = await t.token("write_all");
    const assigned = await gql(writer.secret, `mutation ($id: ID!, $m: ID) { assignConversation(conversationId: $id, memberId: $m) { assignee { type } } }`, {
      id: c.id,
      m: agentB.id,
    });
    expect(assigned.errors).toBeUndefined();

    const reader = (await t.developerKey(["conversations:read"])).secret;
    const res = await gql(reader, TRAIL, { id: c.id });
    expect(res.errors).toBeUndefined();
    const entries = res.data.auditTrail.edges.map((e: { node: Record<string, unknown> }) => e.node).reverse();
    expect(entries.map((e: { action: string }) => e.action)).toEqual([
      "conversation.taken_over",
      "conversation.replied",
      "conversation.handed_back",
      "conversation.assigned",
    ]);
    for (const e of entries.slice(0, 3)) {
      expect(e).toMatchObject({ memberId: agentA.id, member: { name: "Agent Ada", kind: "external_agent" }, credentialId: ada.id });
    }
    expect(entries[1].details).toMatchObject({ eventId: reply.body.id, ord: reply.body.ord, translated: false });
    expect(entries[3]).toMatchObject({
      memberId: null,
      credentialId: writer.id,
      details: { assigneeType: "human_operator", assigneeMemberId: agentB.id, previousAssigneeType: "ai_assistant", previousAssigneeMemberId: null },
    });
    // A refused action leaves no entry.
    await post(await keyOf(agentB.id), c.id, "handback");
    expect((await gql(reader, TRAIL, { id: c.id })).data.auditTrail.totalCount).toBe(4);
  });
});
