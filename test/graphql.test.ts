import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { GRAPHQL_RESPONSE_JSON, bearer, errorCodes, http, type GraphqlResult } from "./helpers/http.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.stop());

/** gql(query, { variables, auth, authorization, url }) → { status, body, text, requestId }, asking for application/graphql-response+json. */
const { graphql: gql, get } = http(() => server, { accept: GRAPHQL_RESPONSE_JSON });

/** Row counts of everything a rejected mutation must not touch. */
async function snapshot() {
  const db = server.app.runtime.db;
  return {
    credentials: await db.credential.count(),
    revoked: await db.credential.count({ where: { revokedAt: { not: null } } }),
    scenarios: await db.scenario.count(),
    members: await db.teamMember.count(),
    events: await db.domainEvent.count(),
  };
}

async function expectRejected(r: GraphqlResult, code: string, before: Awaited<ReturnType<typeof snapshot>>) {
  expect(errorCodes(r.body)).toEqual([code]);
  expect(r.body.data ?? null).toBeNull();
  expect(await snapshot()).toEqual(before);
}

const CREATE_TOKEN = /* GraphQL */ `
  mutation ($input: CreateApiTokenInput!) {
    createApiToken(input: $input) { secret credential { id kind scopes label active revokedAt expiresAt scenario { id } } }
  }
`;
const CREATE_KEY = /* GraphQL */ `
  mutation ($input: CreateApiKeyInput!) {
    createApiKey(input: $input) { secret credential { id kind scopes label active scenario { id } member { id } } }
  }
`;
const REVOKE = /* GraphQL */ `
  mutation ($id: ID!) { revokeCredential(id: $id) { id active revokedAt } }
`;

const chatbotSettings = (token: string) => get("/v1/api/chatbot_settings", bearer(token));

describe("viewer", () => {
  it("describes a scenario token", async () => {
    const t = await seed(server.app).workspace("Viewer token");
    const token = await t.token("read_all");
    const r = await gql("{ viewer { credentialId kind scopes workspaceId scenarioId memberId } }", { auth: token.secret });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      data: {
        viewer: {
          credentialId: token.id,
          kind: "scenario_token",
          scopes: ["read_all"],
          workspaceId: t.workspaceId,
          scenarioId: t.scenarioId,
          memberId: null,
        },
      },
    });
  });

  it("describes a developer key acting as a team member", async () => {
    const t = await seed(server.app).workspace("Viewer developer");
    const member = await t.member("Alice");
    const key = await t.developerKey(["conversations:read", "leads:read"], member.id);
    const r = await gql("{ viewer { credentialId kind scopes workspaceId scenarioId memberId } }", { auth: key.secret });
    expect(r.body).toEqual({
      data: {
        viewer: {
          credentialId: key.id,
          kind: "developer",
          scopes: ["conversations:read", "leads:read"],
          workspaceId: t.workspaceId,
          scenarioId: null,
          memberId: member.id,
        },
      },
    });
  });
});

describe("workspace connections", () => {
  let t: Tenant;
  let admin: string;
  beforeAll(async () => {
    t = await seed(server.app).workspace("Paged");
    await t.scenario("Second");
    await t.scenario("Third");
    await t.member("M1");
    await t.member("M2");
    await t.member("M3", "external_agent");
    admin = (await t.developerKey()).secret;
    // Another tenant's rows must never show up.
    const other = await seed(server.app).workspace("Other");
    await other.scenario("Foreign");
    await other.member("Foreigner");
  });

  it("pages scenarios with first/after and counts them all", async () => {
    const q = `query ($after: String) { workspace { id name scenarios(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name } } } } }`;
    const p1 = await gql(q, { auth: admin });
    expect(p1.body.errors).toBeUndefined();
    const s1 = p1.body.data.workspace.scenarios;
    expect(p1.body.data.workspace).toMatchObject({ id: t.workspaceId, name: "Paged" });
    expect(s1.totalCount).toBe(3);
    expect(s1.edges.map((e: any) => e.node.name)).toEqual(["Paged assistant", "Second"]);
    expect(s1.pageInfo.hasNextPage).toBe(true);
    const p2 = await gql(q, { auth: admin, variables: { after: s1.pageInfo.endCursor } });
    const s2 = p2.body.data.workspace.scenarios;
    expect(s2.totalCount).toBe(3);
    expect(s2.edges.map((e: any) => e.node.name)).toEqual(["Third"]);
    expect(s2.pageInfo.hasNextPage).toBe(false);
  });

  it("pages members with first/after and counts them all", async () => {
    const q = `query ($after: String) { workspace { members(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } nodes { name kind } } } }`;
    const p1 = await gql(q, { auth: admin });
    const m1 = p1.body.data.workspace.members;
    expect(m1.totalCount).toBe(3);
    expect(m1.nodes).toEqual([
      { name: "M1", kind: "human" },
      { name: "M2", kind: "human" },
    ]);
    expect(m1.pageInfo.hasNextPage).toBe(true);
    const p2 = await gql(q, { auth: admin, variables: { after: m1.pageInfo.endCursor } });
    const m2 = p2.body.data.workspace.members;
    expect(m2.nodes).toEqual([{ name: "M3", kind: "external_agent" }]);
    expect(m2.pageInfo.hasNextPage).toBe(false);
  });

  it("a scenario token sees its workspace too", async () => {
    const token = (await t.token("read_all")).secret;
    const r = await gql("{ workspace { id scenarios(first: 10) { totalCount } } }", { auth: token });
    expect(r.body.data.workspace).toEqual({ id: t.workspaceId, scenarios: { totalCount: 3 } });
  });
});

describe("credential mutations by a workspace:admin developer key", () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await seed(server.app).workspace("Issuer");
  });

  it("createApiToken issues a token that works against REST until revokeCredential", async () => {
    const admin = (await t.developerKey()).secret;
    const created = await gql(CREATE_TOKEN, {
      auth: admin,
      variables: { input: { scenarioId: t.scenarioId, scope: "write_all", label: "ci", expiresInDays: 7 } },
    });
    expect(created.body.errors).toBeUndefined();
    const issued = created.body.data.createApiToken;
    expect(issued.secret.split(".")).toHaveLength(3);
    expect(issued.credential).toMatchObject({
      kind: "scenario_token",
      scopes: ["read_all", "write_all"],
      label: "ci",
      active: true,
      revokedAt: null,
      scenario: { id: t.scenarioId },
    });
    const days = (new Date(issued.credential.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const ok = await chatbotSettings(issued.secret);
    expect(ok.status).toBe(200);

    const revoked = await gql(REVOKE, { auth: admin, variables: { id: issued.credential.id } });
    expect(revoked.body.errors).toBeUndefined();
    expect(revoked.body.data.revokeCredential).toMatchObject({ id: issued.credential.id, active: false });
    expect(revoked.body.data.revokeCredential.revokedAt).toEqual(expect.any(String));

    const denied = await chatbotSettings(issued.secret);
    expect(denied.status).toBe(401);
    const row = await server.app.runtime.db.credential.findUniqueOrThrow({ where: { id: issued.credential.id } });
    expect(row.revokedAt).not.toBeNull();
  });

  it("createApiKey issues a developer key with the requested scopes that GraphQL accepts until revoked", async () => {
    const admin = (await t.developerKey()).secret;
    const member = await t.member("Key owner");
    const r = await gql(CREATE_KEY, {
      auth: admin,
      variables: { input: { kind: "developer", scopes: ["CONVERSATIONS_READ", "LEADS_READ"], memberId: member.id, label: "bot" } },
    });
    expect(r.body.errors).toBeUndefined();
    const issued = r.body.data.createApiKey;
    expect(issued.secret).toMatch(/^cw_dev_/);
    expect(issued.credential).toMatchObject({
      kind: "developer",
      scopes: ["conversations:read", "leads:read"],
      label: "bot",
      active: true,
      scenario: null,
      member: { id: member.id },
    });
    const v = await gql("{ viewer { kind scopes workspaceId memberId } }", { auth: issued.secret });
    expect(v.body.data.viewer).toEqual({
      kind: "developer",
      scopes: ["conversations:read", "leads:read"],
      workspaceId: t.workspaceId,
      memberId: member.id,
    });
    await gql(REVOKE, { auth: admin, variables: { id: issued.credential.id } });
    const after = await gql("{ viewer { kind } }", { auth: issued.secret });
    expect(after.status).toBe(401);
    expect(errorCodes(after.body)).toEqual(["PERMISSION_DENIED"]);
  });

  it("createApiKey issues widget and legacy keys for a scenario", async () => {
    const admin = (await t.developerKey()).secret;
    const widget = await gql(CREATE_KEY, { auth: admin, variables: { input: { kind: "widget", scenarioId: t.scenarioId } } });
    expect(widget.body.errors).toBeUndefined();
    expect(widget.body.data.createApiKey.secret).toMatch(/^cw_live_/);
    expect(widget.body.data.createApiKey.credential).toMatchObject({ kind: "widget", scopes: [], scenario: { id: t.scenarioId } });

    const legacy = await gql(CREATE_KEY, { auth: admin, variables: { input: { kind: "legacy", scenarioId: t.scenarioId } } });
    expect(legacy.body.errors).toBeUndefined();
    expect(legacy.body.data.createApiKey.secret).toMatch(/^[0-9a-f]{40}$/);
    expect(legacy.body.data.createApiKey.credential).toMatchObject({ kind: "legacy", scenario: { id: t.scenarioId } });

    const rows = await server.app.runtime.db.credential.findMany({
      where: { id: { in: [widget.body.data.createApiKey.credential.id, legacy.body.data.createApiKey.credential.id] } },
    });
    expect(rows.map((r) => [r.kind, r.workspaceId, r.scenarioId]).sort()).toEqual([
      ["legacy", t.workspaceId, t.scenarioId],
      ["widget", t.workspaceId, t.scenarioId],
    ]);
    // Only the hash is stored.
    expect(rows.every((r) => !JSON.stringify(r).includes(widget.body.data.createApiKey.secret))).toBe(true);
  });

  it("createApiKey for a widget key without scenarioId is a VALIDATION_ERROR", async () => {
    const admin = (await t.developerKey()).secret;
    const before = await snapshot();
    const r = await gql(CREATE_KEY, { auth: admin, variables: { input: { kind: "widget" } } });
    await expectRejected(r, "VALIDATION_ERROR", before);
  });

  it("cannot grant scopes the key lacks", async () => {
    const limitedAdmin = (await t.developerKey(["workspace:admin", "conversations:read"])).secret;
    const before = await snapshot();
    const r = await gql(CREATE_KEY, {
      auth: limitedAdmin,
      variables: { input: { kind: "developer", scopes: ["CONVERSATIONS_READ", "LEADS_WRITE"] } },
    });
    await expectRejected(r, "PERMISSION_DENIED", before);
    expect(r.body.errors![0]!.message).toContain("leads:write");
  });

  it("a developer key without scopes is rejected", async () => {
    const admin = (await t.developerKey()).secret;
    const before = await snapshot();
    const r = await gql(CREATE_KEY, { auth: admin, variables: { input: { kind: "developer", scopes: [] } } });
    await expectRejected(r, "VALIDATION_ERROR", before);
  });
});

describe("who may manage credentials", () => {
  let t: Tenant;
  let sibling: Tenant;
  beforeAll(async () => {
    t = await seed(server.app).workspace("Managers");
    sibling = await t.scenario("Sibling");
  });

  it("a write_all token creates and revokes tokens for its own scenario", async () => {
    const writer = (await t.token("write_all")).secret;
    const r = await gql(CREATE_TOKEN, { auth: writer, variables: { input: { scenarioId: t.scenarioId, scope: "read_all" } } });
    expect(r.body.errors).toBeUndefined();
    const issued = r.body.data.createApiToken;
    expect(issued.credential).toMatchObject({ kind: "scenario_token", scopes: ["read_all"], scenario: { id: t.scenarioId } });
    expect((await chatbotSettings(issued.secret)).status).toBe(200);
    const revoked = await gql(REVOKE, { auth: writer, variables: { id: issued.credential.id } });
    expect(revoked.body.data.revokeCredential.active).toBe(false);
    expect((await chatbotSettings(issued.secret)).status).toBe(401);
  });

  it("a write_all token cannot create tokens for another scenario (NOT_FOUND)", async () => {
    const writer = (await t.token("write_all")).secret;
    const before = await snapshot();
    const r = await gql(CREATE_TOKEN, { auth: writer, variables: { input: { scenarioId: sibling.scenarioId, scope: "read_all" } } });
    await expectRejected(r, "NOT_FOUND", before);
  });

  it("a write_all token cannot revoke another scenario's credential", async () => {
    const writer = (await t.token("write_all")).secret;
    const victim = await sibling.token("read_all");
    const before = await snapshot();
    const r = await gql(REVOKE, { auth: writer, variables: { id: victim.id } });
    await expectRejected(r, "NOT_FOUND", before);
    expect((await chatbotSettings(victim.secret)).status).toBe(200);
  });

  it("a write_all token cannot create developer keys", async () => {
    const writer = (await t.token("write_all")).secret;
    const before = await snapshot();
    const r = await gql(CREATE_KEY, { auth: writer, variables: { input: { kind: "developer", scopes: ["CONVERSATIONS_READ"] } } });
    await expectRejected(r, "PERMISSION_DENIED", before);
  });

  it("a read_all token cannot create tokens", async () => {
    const reader = (await t.token("read_all")).secret;
    const before = await snapshot();
    const r = await gql(CREATE_TOKEN, { auth: reader, variables: { input: { scenarioId: t.scenarioId, scope: "read_all" } } });
    await expectRejected(r, "PERMISSION_DENIED", before);
  });

  it("a read_all token cannot create widget keys or revoke", async () => {
    const reader = (await t.token("read_all")).secret;
    const victim = await t.token("read_all");
    const before = await snapshot();
    const k = await gql(CREATE_KEY, { auth: reader, variables: { input: { kind: "widget", scenarioId: t.scenarioId } } });
    await expectRejected(k, "PERMISSION_DENIED", before);
    const r = await gql(REVOKE, { auth: reader, variables: { id: victim.id } });
    await expectRejected(r, "PERMISSION_DENIED", before);
  });

  it("a developer key without workspace:admin can do none of it", async () => {
    const dev = (await t.developerKey(["conversations:read", "conversations:reply", "leads:write"])).secret;
    const victim = await t.token("read_all");
    const before = await snapshot();
    await expectRejected(
      await gql(CREATE_TOKEN, { auth: dev, variables: { input: { scenarioId: t.scenarioId, scope: "read_all" } } }),
      "PERMISSION_DENIED",
      before,
    );
    await expectRejected(
      await gql(CREATE_KEY, { auth: dev, variables: { input: { kind: "developer", scopes: ["CONVERSATIONS_READ"] } } }),
      "PERMISSION_DENIED",
      before,
    );
    await expectRejected(
      await gql(CREATE_KEY, { auth: dev, variables: { input: { kind: "widget", scenarioId: t.scenarioId } } }),
      "PERMISSION_DENIED",
      before,
    );
    await expectRejected(await gql(REVOKE, { auth: dev, variables: { id: victim.id } }), "PERMISSION_DENIED", before);
    await expectRejected(
      await gql(`mutation { createScenario(input: { name: "Nope" }) { id } }`, { auth: dev }),
      "PERMISSION_DENIED",
      before,
    );
    await expectRejected(
      await gql(`mutation { createTeamMember(input: { name: "Nope" }) { id } }`, { auth: dev }),
      "PERMISSION_DENIED",
      before,
    );
    const list = await gql("{ credentials(first: 5) { totalCount } }", { auth: dev });
    expect(errorCodes(list.body)).toEqual(["PERMISSION_DENIED"]);
  });
});

describe("tenant isolation", () => {
  let a: Tenant;
  let b: Tenant;
  let adminA: string;
  beforeAll(async () => {
    a = await seed(server.app).workspace("Tenant A");
    b = await seed(server.app).workspace("Tenant B");
    adminA = (await a.developerKey()).secret;
  });

  it("another workspace's scenarioId is NOT_FOUND for createApiToken and createApiKey", async () => {
    const before = await snapshot();
    await expectRejected(
      await gql(CREATE_TOKEN, { auth: adminA, variables: { input: { scenarioId: b.scenarioId, scope: "write_all" } } }),
      "NOT_FOUND",
      before,
    );
    await expectRejected(
      await gql(CREATE_KEY, { auth: adminA, variables: { input: { kind: "widget", scenarioId: b.scenarioId } } }),
      "NOT_FOUND",
      before,
    );
    await expectRejected(
      await gql(CREATE_KEY, { auth: adminA, variables: { input: { kind: "legacy", scenarioId: b.scenarioId } } }),
      "NOT_FOUND",
      before,
    );
  });

  it("another workspace's scenario is NOT_FOUND when read", async () => {
    const r = await gql("query ($id: ID!) { scenario(id: $id) { id name } }", { auth: adminA, variables: { id: b.scenarioId } });
    expect(errorCodes(r.body)).toEqual(["NOT_FOUND"]);
    expect(r.body.data).toBeNull();
    const own = await gql("query ($id: ID!) { scenario(id: $id) { id workspace { id } } }", {
      auth: adminA,
      variables: { id: a.scenarioId },
    });
    expect(own.body.data.scenario).toEqual({ id: a.scenarioId, workspace: { id: a.workspaceId } });
  });

  it("another workspace's credential id is NOT_FOUND for revokeCredential and is not revoked", async () => {
    const victims = [await b.token("read_all"), await b.developerKey(), await b.widgetKey()];
    const before = await snapshot();
    for (const v of victims) {
      await expectRejected(await gql(REVOKE, { auth: adminA, variables: { id: v.id } }), "NOT_FOUND", before);
    }
    const rows = await server.app.runtime.db.credential.findMany({ where: { id: { in: victims.map((v) => v.id) } } });
    expect(rows.map((r) => r.revokedAt)).toEqual([null, null, null]);
    expect((await chatbotSettings(victims[0]!.secret)).status).toBe(200);
  });

  it("an unknown credential id is NOT_FOUND", async () => {
    const before = await snapshot();
    await expectRejected(
      await gql(REVOKE, { auth: adminA, variables: { id: "00000000-0000-0000-0000-000000000000" } }),
      "NOT_FOUND",
      before,
    );
  });

  it("another workspace's memberId is NOT_FOUND for a developer key", async () => {
    const foreigner = await b.member("Foreigner");
    const before = await snapshot();
    await expectRejected(
      await gql(CREATE_KEY, {
        auth: adminA,
        variables: { input: { kind: "developer", scopes: ["CONVERSATIONS_READ"], memberId: foreigner.id } },
      }),
      "NOT_FOUND",
      before,
    );
  });

  it("credentials lists only the caller's workspace", async () => {
    const r = await gql("{ credentials(first: 100) { totalCount nodes { id } } }", { auth: adminA });
    expect(r.body.errors).toBeUndefined();
    const ids: string[] = r.body.data.credentials.nodes.map((n: any) => n.id);
    const rows = await server.app.runtime.db.credential.findMany({ where: { id: { in: ids } } });
    expect(rows.length).toBe(ids.length);
    expect(new Set(rows.map((r) => r.workspaceId))).toEqual(new Set([a.workspaceId]));
    expect(r.body.data.credentials.totalCount).toBe(
      await server.app.runtime.db.credential.count({ where: { workspaceId: a.workspaceId } }),
    );
  });
});

describe("bad input", () => {
  let t: Tenant;
  let admin: string;
  beforeAll(async () => {
    t = await seed(server.app).workspace("Bad input");
    admin = (await t.developerKey()).secret;
  });

  it("an unknown enum value is a validation failure (inline and in variables)", async () => {
    const before = await snapshot();
    const inline = await gql(`mutation { createApiToken(input: { scenarioId: "${t.scenarioId}", scope: admin }) { secret } }`, {
      auth: admin,
    });
    await expectRejected(inline, "GRAPHQL_VALIDATION_FAILED", before);
    const vars = await gql(CREATE_TOKEN, { auth: admin, variables: { input: { scenarioId: t.scenarioId, scope: "admin" } } });
    expect(vars.body.errors?.length).toBeGreaterThan(0);
    expect(vars.body.data ?? null).toBeNull();
    const key = await gql(CREATE_KEY, { auth: admin, variables: { input: { kind: "developer", scopes: ["workspace:admin"] } } });
    expect(key.body.errors?.length).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(before);
  });

  it("wrong types are rejected", async () => {
    const before = await snapshot();
    const inline = await gql(
      `mutation { createApiToken(input: { scenarioId: "${t.scenarioId}", scope: read_all, expiresInDays: "ten" }) { secret } }`,
      { auth: admin },
    );
    await expectRejected(inline, "GRAPHQL_VALIDATION_FAILED", before);
    const vars = await gql(CREATE_TOKEN, {
      auth: admin,
      variables: { input: { scenarioId: t.scenarioId, scope: "read_all", expiresInDays: 1.5 } },
    });
    expect(vars.body.errors?.length).toBeGreaterThan(0);
    expect(vars.body.data ?? null).toBeNull();
    const missing = await gql(CREATE_TOKEN, { auth: admin, variables: { input: { scope: "read_all" } } });
    expect(missing.body.errors?.length).toBeGreaterThan(0);
    const label = await gql(`mutation { createScenario(input: { name: 42 }) { id } }`, { auth: admin });
    await expectRejected(label, "GRAPHQL_VALIDATION_FAILED", before);
    expect(await snapshot()).toEqual(before);
  });

  it("out-of-range expiresInDays is a VALIDATION_ERROR", async () => {
    const before = await snapshot();
    for (const expiresInDays of [0, -1, 100_000]) {
      const r = await gql(CREATE_TOKEN, {
        auth: admin,
        variables: { input: { scenarioId: t.scenarioId, scope: "read_all", expiresInDays } },
      });
      await expectRejected(r, "VALIDATION_ERROR", before);
    }
  });

  it("an invalid email in createTeamMember is a VALIDATION_ERROR", async () => {
    const before = await snapshot();
    const r = await gql(`mutation { createTeamMember(input: { name: "Bob", email: "not-an-email" }) { id } }`, { auth: admin });
    await expectRejected(r, "VALIDATION_ERROR", before);
    expect(r.body.errors![0]!.message).toMatch(/email/);
  });

  it("an empty or blank name is a VALIDATION_ERROR", async () => {
    const before = await snapshot();
    for (const name of ["", "   "]) {
      await expectRejected(
        await gql("mutation ($n: String!) { createScenario(input: { name: $n }) { id } }", { auth: admin, variables: { n: name } }),
        "VALIDATION_ERROR",
        before,
      );
      await expectRejected(
        await gql("mutation ($n: String!) { createTeamMember(input: { name: $n }) { id } }", { auth: admin, variables: { n: name } }),
        "VALIDATION_ERROR",
        before,
      );
    }
  });

  it("valid createScenario / createTeamMember succeed (control)", async () => {
    const s = await gql(`mutation { createScenario(input: { name: "New one" }) { id name workspace { id } } }`, { auth: admin });
    expect(s.body.data.createScenario).toMatchObject({ name: "New one", workspace: { id: t.workspaceId } });
    const m = await gql(`mutation { createTeamMember(input: { name: "Eve", email: "eve@example.com", kind: external_agent }) { id name email kind } }`, {
      auth: admin,
    });
    expect(m.body.data.createTeamMember).toMatchObject({ name: "Eve", email: "eve@example.com", kind: "external_agent" });
    const before = await snapshot();
    const dup = await gql(`mutation { createTeamMember(input: { name: "Eve 2", email: "eve@example.com" }) { id } }`, { auth: admin });
    await expectRejected(dup, "CONFLICT", before);
  });
});

describe("authentication", () => {
  it.each([
    ["an unknown developer key", "Bearer cw_dev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["a forged token", "Bearer aaa.bbb.ccc"],
    ["garbage", "Bearer nonsense"],
    ["a malformed header", "Basic dXNlcjpwYXNz"],
  ])("%s in Authorization is HTTP 401 PERMISSION_DENIED", async (_name, authorization) => {
    const r = await gql("{ viewer { kind } }", { authorization });
    expect(r.status).toBe(401);
    expect(errorCodes(r.body)).toEqual(["PERMISSION_DENIED"]);
    expect(r.body.data ?? null).toBeNull();
  });

  it("a widget key reaches visitor operations only: operator fields are PERMISSION_DENIED", async () => {
    const t = await seed(server.app).workspace("Widget caller");
    const widget = await t.widgetKey();
    const r = await gql("{ viewer { kind } }", { auth: widget.secret });
    expect(errorCodes(r.body)).toEqual(["PERMISSION_DENIED"]);
    expect(r.body.errors![0]!.message).toBe("A widget key can only be used for visitor operations");
    expect(r.body.data ?? null).toBeNull();
  });

  it("an expired token is a 401", async () => {
    const t = await seed(server.app).workspace("Expired");
    const token = await t.token("read_all", 1);
    await server.app.runtime.db.credential.update({ where: { id: token.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const r = await gql("{ viewer { kind } }", { auth: token.secret });
    expect(r.status).toBe(401);
    expect(errorCodes(r.body)).toEqual(["PERMISSION_DENIED"]);
  });

  it("a rejected credential does not run a mutation", async () => {
    const t = await seed(server.app).workspace("No run");
    const before = await snapshot();
    const r = await gql(`mutation { createScenario(input: { name: "x" }) { id } }`, { authorization: "Bearer cw_dev_nope" });
    expect(r.status).toBe(401);
    await expectRejected(r, "PERMISSION_DENIED", before);
    void t;
  });

  it("without a credential protected fields are PERMISSION_DENIED", async () => {
    for (const q of [
      "{ viewer { kind } }",
      "{ workspace { id } }",
      "{ credentials(first: 1) { totalCount } }",
      `{ scenario(id: "x") { id } }`,
    ]) {
      const r = await gql(q);
      expect(errorCodes(r.body), q).toEqual(["PERMISSION_DENIED"]);
      expect(r.body.data, q).toBeNull();
    }
    const before = await snapshot();
    const m = await gql(`mutation { createScenario(input: { name: "anon" }) { id } }`);
    await expectRejected(m, "PERMISSION_DENIED", before);
  });
});

describe("error masking", () => {
  it("an unexpected (database) error is masked: no SQL, no stack, no Prisma internals", async () => {
    const t = await seed(server.app).workspace("Masked");
    const admin = (await t.developerKey()).secret;
    const db = server.app.runtime.db;
    await db.$executeRawUnsafe(`ALTER TABLE "TeamMember" RENAME TO "TeamMember_gone"`);
    let r: GraphqlResult;
    try {
      r = await gql("{ workspace { members(first: 5) { totalCount nodes { id name } } } }", { auth: admin });
    } finally {
      await db.$executeRawUnsafe(`ALTER TABLE "TeamMember_gone" RENAME TO "TeamMember"`);
    }
    expect(r.body.errors).toHaveLength(1);
    const e = r.body.errors![0]!;
    expect(e.message).toBe("Unexpected error.");
    expect(e.extensions?.code).toBe("UNKNOWN");
    // The log line carries the same request id as the response header.
    expect(e.extensions?.requestId).toBe(r.requestId);
    expect(Object.keys(e.extensions!).sort()).toEqual(["code", "requestId"]);
    const text = r.text.toLowerCase();
    for (const leak of ["stack", "prisma", "teammember", "select", "sqlite", "no such table", ".ts:"]) {
      expect(text, leak).not.toContain(leak);
    }
  });
});

describe("N+1 guard", () => {
  afterEach(() => vi.restoreAllMocks());

  async function statementsFor(auth: string, query: string) {
    if (server.app.database.provider !== "sqlite") return null;
    const spy = vi.spyOn(Database.prototype, "prepare");
    try {
      const r = await gql(query, { auth });
      expect(r.body.errors).toBeUndefined();
      // The background job runner polls the Job table on its own schedule: not this request's work.
      const sql = spy.mock.calls.map((c) => String(c[0])).filter((q) => !/[`"]Job[`"]/.test(q));
      return { count: sql.length, sql, data: r.body.data };
    } finally {
      spy.mockRestore();
    }
  }

  it("workspace.scenarios with nested workspace costs the same number of statements for 1 and 10 scenarios", async (ctx) => {
    if (server.app.database.provider !== "sqlite") ctx.skip();
    const query = "{ workspace { scenarios(first: 20) { edges { node { id workspace { name } } } } } }";
    const one = await seed(server.app).workspace("One scenario");
    const ten = await seed(server.app).workspace("Ten scenarios");
    for (let i = 2; i <= 10; i++) await ten.scenario(`S${i}`);
    const oneKey = (await one.developerKey()).secret;
    const tenKey = (await ten.developerKey()).secret;
    // Warm up (credential loaders, prepared state) so both measurements see the same path.
    await gql(query, { auth: oneKey });
    await gql(query, { auth: tenKey });

    const a = (await statementsFor(oneKey, query))!;
    const b = (await statementsFor(tenKey, query))!;
    expect(a.data.workspace.scenarios.edges).toHaveLength(1);
    expect(b.data.workspace.scenarios.edges).toHaveLength(10);
    expect(b.data.workspace.scenarios.edges.every((e: any) => e.node.workspace.name === "Ten scenarios")).toBe(true);
    expect(a.count).toBeGreaterThan(0);
    expect(b.count, b.sql.join("\n")).toBe(a.count);
  });
});

describe("hardening", () => {
  let admin: string;
  beforeAll(async () => {
    const t = await seed(server.app).workspace("Hardening");
    admin = (await t.developerKey()).secret;
  });

  it("rejects a query nested deeper than the depth limit", async () => {
    let inner = "id";
    for (let i = 0; i < 3; i++) inner = `scenarios(first: 1) { edges { node { workspace { ${inner} } } } }`;
    const r = await gql(`{ workspace { ${inner} } }`, { auth: admin });
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors).toHaveLength(1);
    expect(r.body.errors![0]!.message).toMatch(/Query depth limit of 10 exceeded, found 1[0-9]/);
  });

  it("rejects more than 15 aliases", async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: viewer { kind }`).join(" ");
    const r = await gql(`{ ${aliases} }`, { auth: admin });
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors!.length).toBeGreaterThan(0);
    expect(r.body.errors![0]!.message).toMatch(/aliases/i);
    const ok = await gql(`{ ${Array.from({ length: 15 }, (_, i) => `a${i}: viewer { kind }`).join(" ")} }`, { auth: admin });
    expect(ok.body.errors).toBeUndefined();
  });

  it("rejects a misspelled field without suggesting the right one", async () => {
    const r = await gql("{ viewr { kind } workspace { nme } }", { auth: admin });
    expect(r.body.data ?? null).toBeNull();
    expect(errorCodes(r.body)).toEqual(["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"]);
    expect(r.text).not.toContain("Did you mean");
    expect(r.text).not.toContain('"viewer"');
  });

  it("introspection and GraphiQL are on by default outside production, and GraphiQL is self-contained", async () => {
    const r = await gql("{ __schema { queryType { name } } }");
    expect(r.body).toEqual({ data: { __schema: { queryType: { name: "Query" } } } });
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain("Parley GraphQL");
    for (const host of ["unpkg.com", "cdn.jsdelivr.net", "esm.sh", "fonts.googleapis.com", "cdnjs"]) {
      expect(html, host).not.toContain(host);
    }
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/i);
    expect(html).not.toMatch(/<link[^>]+href=["']https?:/i);
  });
});

describe("hardening with introspection and GraphiQL off", () => {
  let locked: TestServer;
  beforeAll(async () => {
    locked = await startServer({ introspection: false, graphiql: false });
  });
  afterAll(() => locked?.stop());

  it("introspection queries fail", async () => {
    for (const q of ["{ __schema { types { name } } }", `{ __type(name: "Query") { name } }`]) {
      const r = await gql(q, { url: locked.url });
      expect(r.body.data ?? null, q).toBeNull();
      expect(r.body.errors!.length, q).toBeGreaterThan(0);
      expect(r.text, q).not.toContain("queryType");
    }
  });

  it("GET /graphql with Accept: text/html does not serve GraphiQL", async () => {
    const page = await fetch(`${locked.url}/graphql`, { headers: { accept: "text/html" } });
    const body = await page.text();
    expect(page.headers.get("content-type") ?? "").not.toMatch(/text\/html/);
    expect(body).not.toMatch(/graphiql/i);
    expect(page.status).toBeGreaterThanOrEqual(400);
  });

  it("ordinary queries still work", async () => {
    const r = await gql("{ viewer { kind } }", { url: locked.url });
    expect(errorCodes(r.body)).toEqual(["PERMISSION_DENIED"]);
  });
});
