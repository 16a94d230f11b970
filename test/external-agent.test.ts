import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashVisitorToken } from "../src/services/conversation-access.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// Connecting an external agent (OpenClaw): a member of its own with a name and avatar, a key bound
// to it with the takeover and lead scopes, its actions recorded under that member, and the SKILL.md
// that tells the agent how to use this server.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let admin: string;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Agents");
  other = await seed(server.app).workspace("Agents other");
  admin = (await t.developerKey()).secret;
});
afterAll(() => server?.stop());

const { call, callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;

const CONNECT = `mutation ($name: String!, $avatar: String) {
  connectExternalAgent(name: $name, avatarUrl: $avatar) {
    secret skillPath
    member { id name kind avatarUrl email userId }
    credential { id kind scopes active member { id } scenario { id } }
  }
}`;
const AVATAR = "https://cdn.example.com/openclaw.png";
const EXPECTED_SCOPES = [
  "conversations:read",
  "conversations:takeover",
  "conversations:reply",
  "conversations:handback",
  "leads:read",
  "leads:write",
  "tasks:read",
];

async function connect(name = "OpenClaw", avatar: string | null = AVATAR, as = admin) {
  const res = await gql(as, CONNECT, { name, avatar });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.connectExternalAgent;
}

describe("connectExternalAgent", () => {
  it("creates an external_agent member and a key bound to it with the takeover and lead scopes; the secret once", async () => {
    const c = await connect();
    expect(c.secret).toMatch(/^cw_dev_/);
    expect(c.skillPath).toBe("/api/v1/integrations/openclaw/skill");
    expect(c.member).toMatchObject({ name: "OpenClaw", kind: "external_agent", avatarUrl: AVATAR, email: null, userId: expect.any(Number) });
    expect(c.credential).toEqual({ id: expect.any(String), kind: "developer", scopes: EXPECTED_SCOPES, active: true, member: { id: c.member.id }, scenario: null });
    // Stored hashed: the secret appears nowhere in the database row.
    const row = await db().credential.findUniqueOrThrow({ where: { id: c.credential.id } });
    expect(JSON.stringify(row)).not.toContain(c.secret);
    // The key works right away, as that member.
    const me = await gql(c.secret, `{ workspace { members(first: 50) { edges { node { id name kind avatarUrl } } } } }`);
    expect(me.data.workspace.members.edges.map((e: { node: { id: string } }) => e.node)).toContainEqual({ id: c.member.id, name: "OpenClaw", kind: "external_agent", avatarUrl: AVATAR });
  });

  it("audits the connection in the workspace trail, under the admin's key", async () => {
    const adminKey = await t.developerKey();
    const c = await connect("Audited agent", null, adminKey.secret);
    const trail = await gql(adminKey.secret, `{ auditTrail(first: 50) { edges { node { action credentialId memberId details } } } }`);
    const entry = trail.data.auditTrail.edges.map((e: { node: Record<string, unknown> }) => e.node).find((n: { action: string }) => n.action === "external_agent.connected");
    expect(entry).toMatchObject({
      credentialId: adminKey.id,
      memberId: null,
      details: { agentMemberId: c.member.id, agentCredentialId: c.credential.id, name: "Audited agent", avatarUrl: null, scopes: EXPECTED_SCOPES },
    });
  });

  it("bad input → VALIDATION_ERROR and nothing is created", async () => {
    const before = await db().teamMember.count({ where: { workspaceId: t.workspaceId } });
    for (const [name, avatar, field] of [
      ["   ", null, "name"],
      ["x".repeat(201), null, "name"],
      ["Bot", "ftp://example.com/a.png", "avatarUrl"],
      ["Bot", "not a url", "avatarUrl"],
      ["Bot", `https://example.com/${"a".repeat(2048)}`, "avatarUrl"],
    ] as const) {
      const res = await gql(admin, CONNECT, { name, avatar });
      expect(errorCodes(res), `${name.slice(0, 10)} ${avatar}`).toEqual(["VALIDATION_ERROR"]);
      expect(res.errors![0]!.message).toMatch(new RegExp(`^${field}: `));
    }
    expect(await db().teamMember.count({ where: { workspaceId: t.workspaceId } })).toBe(before);
  });

  it("needs workspace:admin and the scopes it grants; tokens and widget keys are refused", async () => {
    const noAdmin = (await t.developerKey(["conversations:read", "conversations:takeover"])).secret;
    expect(errorCodes(await gql(noAdmin, CONNECT, { name: "Bot" }))).toEqual(["PERMISSION_DENIED"]);
    const adminWithoutLeads = (await t.developerKey(["workspace:admin", "conversations:read", "conversations:takeover"])).secret;
    const partial = await gql(adminWithoutLeads, CONNECT, { name: "Bot" });
    expect(errorCodes(partial)).toEqual(["PERMISSION_DENIED"]);
    expect(partial.errors![0]!.message).toContain("Cannot grant scopes the caller lacks: conversations:reply");
    expect(errorCodes(await gql((await t.token("write_all")).secret, CONNECT, { name: "Bot" }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql((await t.widgetKey()).secret, CONNECT, { name: "Bot" }))).toEqual(["PERMISSION_DENIED"]);
    expect(await db().teamMember.count({ where: { name: "Bot" } })).toBe(0);
  });
});

describe("the agent's actions appear under its member", () => {
  it("in events, the visitor's messages, GraphQL authors and the audit trail", async () => {
    const agent = await connect("OpenClaw", AVATAR);
    const visitorToken = `vt-${randomUUID()}`;
    const c = await t.conversation([{ author: "visitor", content: "Is anybody there?" }], { visitorTokenHash: hashVisitorToken(visitorToken), visitorName: "Jane" });
    const post = (action: string, body?: unknown) => callJson(`/api/v1/conversations/${c.id}/${action}`, { method: "POST", token: agent.secret, body });

    const taken = await post("takeover");
    expect(taken.body.takeover.member).toEqual({ id: agent.member.id, name: "OpenClaw", kind: "external_agent", avatarUrl: AVATAR });
    const replied = await post("reply", { message: "Hi Jane, OpenClaw here." });
    expect(replied.status).toBe(201);
    expect(replied.body.member).toEqual({ id: agent.member.id, name: "OpenClaw", kind: "external_agent", avatarUrl: AVATAR });
    expect((await post("handback")).status).toBe(200);

    const events = await db().conversationEvent.findMany({ where: { conversationId: c.id, author: "human_operator" }, orderBy: { ord: "asc" } });
    expect(events.map((e) => [e.type, e.memberId, e.content])).toEqual([
      ["log", agent.member.id, "OpenClaw took over the conversation"],
      ["message", agent.member.id, "Hi Jane, OpenClaw here."],
      ["log", agent.member.id, "OpenClaw handed the conversation back to the assistant"],
    ]);

    const site = (await t.widgetKey()).secret;
    const messages = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, { token: site });
    expect(messages.body.at(-1)).toMatchObject({ direction: "outbound", body: "Hi Jane, OpenClaw here.", author: "OpenClaw" });

    const reader = (await t.token("read_all")).secret;
    const gqlEvents = await gql(reader, `query ($id: ID!) { conversation(id: $id) { events(first: 10) { nodes { ord author authorName authorAvatarUrl member { name kind avatarUrl } } } } }`, { id: c.id });
    expect(gqlEvents.data.conversation.events.nodes[2]).toEqual({
      ord: 3,
      author: "human_operator",
      authorName: "OpenClaw",
      authorAvatarUrl: AVATAR,
      member: { name: "OpenClaw", kind: "external_agent", avatarUrl: AVATAR },
    });

    const trail = await gql(reader, `query ($id: ID!) { auditTrail(first: 10, conversationId: $id) { nodes: edges { node { action credentialId member { name kind avatarUrl } } } } }`, { id: c.id });
    expect(trail.data.auditTrail.nodes.map((e: { node: unknown }) => e.node).reverse()).toEqual(
      ["conversation.taken_over", "conversation.replied", "conversation.handed_back"].map((action) => ({
        action,
        credentialId: agent.credential.id,
        member: { name: "OpenClaw", kind: "external_agent", avatarUrl: AVATAR },
      })),
    );
  });

  it("the agent's key reaches only its own workspace", async () => {
    const agent = await connect("Scoped agent", null);
    const theirs = await other.conversation([{ author: "visitor", content: "private" }]);
    const res = await callJson(`/api/v1/conversations/${theirs.id}/takeover`, { method: "POST", token: agent.secret });
    expect(res).toMatchObject({ status: 404, body: { error: "Conversation not found" } });
  });
});

describe("GET /api/v1/integrations/openclaw/skill", () => {
  it("returns SKILL.md with this server's base URL, the takeover and lead endpoints", async () => {
    const agent = await connect("OpenClaw", AVATAR);
    const res = await call("/api/v1/integrations/openclaw/skill", { token: agent.secret });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    const md = await res.text();
    const front = /^---\n([\s\S]*?)\n---\n/.exec(md);
    expect(front).not.toBeNull();
    expect(front![1]).toContain("name: quincer");
    expect(front![1]).toMatch(/^description: .+/m);
    const metadata = JSON.parse(/^metadata: (.*)$/m.exec(front![1]!)![1]!);
    expect(metadata).toEqual({ openclaw: { requires: { env: ["QUINCER_API_KEY"], bins: ["curl"] }, primaryEnv: "QUINCER_API_KEY" } });

    expect(md).toContain(`Base URL: \`${server.url}\``);
    for (const path of ["/api/v1/conversations/$CONVERSATION_ID/takeover", "/api/v1/conversations/$CONVERSATION_ID/reply", "/api/v1/conversations/$CONVERSATION_ID/handback"]) {
      expect(md).toContain(`${server.url}${path}`);
    }
    for (const [path, scope] of [
      ["/api/v1/conversations/:id", "conversations:read"],
      ["/api/v1/conversations/:id/takeover", "conversations:takeover"],
      ["/api/v1/conversations/:id/reply", "conversations:reply"],
      ["/api/v1/conversations/:id/handback", "conversations:handback"],
      ["/api/v1/leads", "leads:read"],
      ["/api/v1/leads/:id", "leads:write"],
      ["/api/v1/activities", "tasks:read"],
      ["/api/v1/activities/:id", "tasks:read"],
    ]) {
      expect(md).toContain(`| \`${path}\` | ${scope} |`);
    }
    expect(md).toContain("Authorization: Bearer $QUINCER_API_KEY");
    expect(md).toContain("**OpenClaw**");
    // The secret itself is never in the file.
    expect(md).not.toContain(agent.secret);
  });

  it("ignores X-Forwarded-* unless TRUST_PROXY is on; then the public URL comes from them", async () => {
    const agent = await connect("Proxy agent", null);
    const forwarded = { "x-forwarded-host": "chat.example.com", "x-forwarded-proto": "https" };
    const direct = await (await call("/api/v1/integrations/openclaw/skill", { token: agent.secret, headers: forwarded })).text();
    expect(direct).toContain(`Base URL: \`${server.url}\``);
    expect(direct).not.toContain("chat.example.com");

    const proxied = await startServer({ trustProxy: true });
    try {
      const p = await seed(proxied.app).workspace("Behind a proxy");
      const key = (await p.developerKey(["conversations:takeover"])).secret;
      const res = await call("/api/v1/integrations/openclaw/skill", { token: key, headers: forwarded, url: proxied.url });
      const md = await res.text();
      expect(md).toContain("Base URL: `https://chat.example.com`");
      expect(md).toContain("https://chat.example.com/api/v1/conversations/$CONVERSATION_ID/takeover");
      expect(md).toContain("not bound to a team member");
    } finally {
      await proxied.stop();
    }
  });

  it("needs a developer key: none, a wrong one or another kind → 401 {error}", async () => {
    const site = (await t.widgetKey()).secret;
    const token = (await t.token("read_all")).secret;
    for (const secret of [null, "cw_dev_wrong-key-000000000000000000000", site, token]) {
      const res = await callJson("/api/v1/integrations/openclaw/skill", { token: secret });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: expect.any(String) });
    }
  });
});
