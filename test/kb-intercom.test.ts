import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { decryptToken, encryptToken } from "../src/services/intercom-connection.ts";
import { IntercomClient, retryAfterMs, TOKEN_REJECTED } from "../src/services/kb-intercom-client.ts";
import { OutboundGuard } from "../src/services/outbound-guard.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http, quickchatError, WRITE_SCOPE_MESSAGE } from "./helpers/http.ts";
import { until } from "./helpers/wait.ts";
import { startIntercomStub, type IntercomStub } from "./helpers/intercom-stub.ts";

// Intercom: the workspace's access token (GraphQL, encrypted, never shown), the client against a
// local stand-in for Intercom's API (pages, retries, a rejected token), and the three routes:
// import (answers the snapshots), refresh (in place, removals, new articles), delete.

const GOOD = "tok_live_secret_abcd1234";
const KB = "/v1/api/knowledge_base";

describe("token storage", () => {
  it("round-trips, and only under the same secret and workspace", () => {
    const stored = encryptToken("server-secret", "ws1", GOOD);
    expect(stored).not.toContain(GOOD);
    expect(Buffer.from(stored, "base64").toString("latin1")).not.toContain(GOOD);
    expect(decryptToken("server-secret", "ws1", stored)).toBe(GOOD);
    expect(encryptToken("server-secret", "ws1", GOOD)).not.toBe(stored);
    expect(() => decryptToken("server-secret", "ws2", stored)).toThrow();
    expect(() => decryptToken("other-secret", "ws1", stored)).toThrow();
  });
});

describe("Intercom client", () => {
  let stub: IntercomStub;
  const config = loadConfig({ NODE_ENV: "test", INTERCOM_BASE_URL: "http://placeholder" }).imports;
  const client = (token = GOOD) =>
    new IntercomClient({ outbound: new OutboundGuard([], { trustedOrigins: [stub.url] }) }, { ...config, intercomBaseUrl: stub.url }, token);

  beforeAll(async () => {
    stub = await startIntercomStub({ tokens: [GOOD], pageSize: 2 });
    for (let i = 1; i <= 5; i++) stub.article({ id: String(i), title: `A${i}`, body: `<p>${i}</p>`, state: i === 3 ? "draft" : "published" });
  });
  afterAll(() => stub?.stop());

  it("reads Retry-After as seconds or a date", () => {
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(["0.5"])).toBe(500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs("soon")).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });

  it("sends the token, JSON and the API version; lists every page; keeps what it is asked to", async () => {
    const before = stub.requests.length;
    const all = await client().listArticles(100);
    expect(all.map((a) => a.id)).toEqual(["1", "2", "3", "4", "5"]);
    const requests = stub.requests.slice(before);
    expect(requests.map((r) => r.path)).toEqual(["/articles?page=1&per_page=50", "/articles?page=2&per_page=50", "/articles?page=3&per_page=50"]);
    expect(requests[0]!.headers).toMatchObject({ authorization: `Bearer ${GOOD}`, accept: "application/json", "intercom-version": "2.11" });
    expect((await client().listArticles(100, (a) => a.state === "published")).map((a) => a.id)).toEqual(["1", "2", "4", "5"]);
    // A bound stops the paging as soon as it is reached.
    const at = stub.requests.length;
    expect((await client().listArticles(2)).map((a) => a.id)).toEqual(["1", "2"]);
    expect(stub.requests.length - at).toBe(1);
  });

  it("one article; a 404 is null", async () => {
    expect(await client().article("4")).toMatchObject({ id: "4", title: "A4", body: "<p>4</p>", state: "published", updatedAt: new Date(1_700_000_000_000) });
    expect(await client().article("404")).toBeNull();
  });

  it("waits for Retry-After on 429 and retries 5xx, then succeeds", async () => {
    stub.failNext(429, 1, { "retry-after": "0" });
    expect((await client().me()).appName).toBe("Stub Help Center");
    stub.failNext(503, 2);
    expect(await client().article("1")).toMatchObject({ id: "1" });
  });

  it("gives up on lasting 5xx, and at once on a rejected token", async () => {
    stub.failAlways(500);
    try {
      await expect(client().me()).rejects.toThrow(/Intercom answered HTTP 500 for \/me \(after 4 attempts\)/);
    } finally {
      stub.failAlways(null);
    }
    const at = stub.requests.length;
    await expect(client("wrong").me()).rejects.toThrow(TOKEN_REJECTED);
    expect(stub.requests.length - at).toBe(1);
  });
});

describe("Intercom routes", () => {
  let server: TestServer;
  let stub: IntercomStub;
  let tenant: Tenant;
  let other: Tenant;
  const { callJson, call, graphql } = http(() => server);
  /** Every response text, to check that the token never shows. */
  const seen: string[] = [];
  const admin = async (t: Tenant) => (await t.developerKey(["workspace:admin"])).secret;
  const write = async (t: Tenant) => (await t.token("write_all")).secret;
  const post = async (path: string, token: string, body?: unknown) => {
    const res = await call(`${KB}/intercom/${path}`, { method: "POST", token, body });
    const text = await res.text();
    seen.push(text);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const gqlText = async (key: string, query: string, variables?: Record<string, unknown>) => {
    const res = await graphql(query, { auth: key, variables });
    seen.push(res.text);
    return res.body;
  };
  const CONNECT = `mutation($t: String!) { connectIntercom(accessToken: $t) { connected tokenHint appName connectedAt } }`;
  const CONNECTION = `{ intercomConnection { connected tokenHint appName connectedAt } }`;
  const lastRefresh = (t: Tenant) =>
    until("the refresh to finish", async () => {
      const row = await server.app.runtime.db.knowledgeImport.findFirst({ where: { scenarioId: t.scenarioId, kind: "intercom_refresh" }, orderBy: { createdAt: "desc" } });
      return row && ["completed", "failed"].includes(row.status) ? row : null;
    });
  const intercomArticles = (t: Tenant) =>
    server.app.runtime.db.article.findMany({ where: { scenarioId: t.scenarioId, externalSource: "intercom" }, orderBy: { id: "asc" } });

  beforeAll(async () => {
    stub = await startIntercomStub({ tokens: [GOOD], pageSize: 2 });
    // No OUTBOUND_ALLOWLIST: INTERCOM_BASE_URL is the operator's, a trusted origin.
    server = await startServer({}, { INTERCOM_BASE_URL: stub.url });
    tenant = await seed(server.app).workspace("Helpdesk");
    other = await seed(server.app).workspace("Elsewhere");
    stub.article({ id: "101", title: "Refund policy", description: "How refunds work", body: "<h2>Refunds</h2><p>Refunds take five days.</p>", updated_at: 1_700_000_100 });
    stub.article({ id: "102", title: "Shipping", body: "<p>We ship worldwide with tracking.</p>" });
    stub.article({ id: "103", title: "Internal draft", body: "<p>Secret roadmap.</p>", state: "draft" });
    stub.article({ id: "104", title: "Passwords", body: "<p>Reset your password from the login page.</p>" });
    stub.article({ id: "105", title: "Invoices", body: "<ul><li>Download invoices</li><li>from Billing</li></ul>" });
  });
  afterAll(async () => {
    await server?.stop();
    await stub?.stop();
  });

  it("tells the caller to connect first", async () => {
    const t = await seed(server.app).workspace("Unconnected");
    for (const [path, body] of [["import", undefined], ["refresh_articles", {}]] as const) {
      const res = await post(path, await write(t), body);
      expect(res.status).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", "Intercom is not connected: set an access token with the connectIntercom mutation"));
    }
  });

  it("connects through GraphQL: a token Intercom rejects stores nothing; only its last four characters show", async () => {
    const key = await admin(tenant);
    const bad = await gqlText(key, CONNECT, { t: "tok_wrong_9999" });
    expect(errorCodes(bad)).toEqual(["VALIDATION_ERROR"]);
    expect(bad.errors![0]!.message).toBe(TOKEN_REJECTED);
    expect((await gqlText(key, CONNECTION)).data.intercomConnection).toEqual({ connected: false, tokenHint: null, appName: null, connectedAt: null });
    expect(await server.app.runtime.db.intercomConnection.count()).toBe(0);

    expect(errorCodes(await gqlText(key, CONNECT, { t: "   " }))).toEqual(["VALIDATION_ERROR"]);
    expect(errorCodes(await gqlText(key, CONNECT, { t: "two words" }))).toEqual(["VALIDATION_ERROR"]);

    const ok = await gqlText(key, CONNECT, { t: GOOD });
    expect(ok.data.connectIntercom).toEqual({ connected: true, tokenHint: "1234", appName: "Stub Help Center", connectedAt: expect.any(String) });
    expect((await gqlText(await admin(tenant), CONNECTION)).data.intercomConnection).toMatchObject({ connected: true, tokenHint: "1234" });
    const row = await server.app.runtime.db.intercomConnection.findUniqueOrThrow({ where: { workspaceId: tenant.workspaceId } });
    expect(row.tokenCipher).not.toContain(GOOD);
    const me = stub.requests.filter((r) => r.path === "/me").at(-1)!;
    expect(me.headers).toMatchObject({ authorization: `Bearer ${GOOD}`, "intercom-version": "2.11" });
  });

  it("is for workspace admins, and another workspace's connection is never visible", async () => {
    const noAdmin = (await tenant.developerKey(["leads:read"])).secret;
    expect(errorCodes(await gqlText(noAdmin, CONNECT, { t: GOOD }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gqlText(noAdmin, CONNECTION))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gqlText(await write(tenant), `mutation { disconnectIntercom }`))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await graphql(CONNECTION).then((r) => r.body))).toEqual(["PERMISSION_DENIED"]);
    expect((await gqlText(await admin(other), CONNECTION)).data.intercomConnection).toMatchObject({ connected: false, tokenHint: null });
    // Disconnecting elsewhere leaves this workspace's token alone.
    expect((await gqlText(await admin(other), `mutation { disconnectIntercom }`)).data.disconnectIntercom).toBe(false);
    expect(await server.app.runtime.db.intercomConnection.count({ where: { workspaceId: tenant.workspaceId } })).toBe(1);
  });

  it("imports the published articles and answers their snapshots", async () => {
    const token = await write(tenant);
    const res = await post("import", token);
    expect(res.status).toBe(200);
    expect(res.body.map((a: { title: string }) => a.title)).toEqual(["Refund policy", "Shipping", "Passwords", "Invoices"]);
    expect(res.body[0]).toMatchObject({
      type: "Article",
      description: "How refunds work",
      deploy_state: "published",
      url: null,
      last_updated_from_external_source_timestamp: "2023-11-14",
    });
    expect(res.body[0]).not.toHaveProperty("content");
    const full = await callJson(`${KB}/articles/${res.body[0].id}`, { token });
    expect(full.body.content).toBe("Refunds\n\nRefunds take five days.");
    const search = await callJson(`${KB}/articles/search?query=password%20login`, { token });
    expect(search.body.article_snapshots.items.map((a: { title: string }) => a.title)).toContain("Passwords");
    expect((await callJson(`${KB}/articles/search?query=roadmap`, { token })).body.article_snapshots.items).toEqual([]);
    expect((await callJson(`${KB}/`, { token })).body.retrain_state).toBe("to_be_retrained");

    // Importing again finds them unchanged: the same articles, no copies.
    const again = await post("import", await write(tenant));
    expect(again.body.map((a: { id: number }) => a.id)).toEqual(res.body.map((a: { id: number }) => a.id));
    expect(await intercomArticles(tenant)).toHaveLength(4);
  });

  it("refreshes in place, removes what Intercom deleted, and imports what is new", async () => {
    const before = await intercomArticles(tenant);
    const refund = before.find((a) => a.externalId === "101")!;
    const shipping = before.find((a) => a.externalId === "102")!;

    stub.article({ id: "101", title: "Refund policy", description: "How refunds work", body: "<p>Refunds now take two days.</p>", updated_at: 1_700_500_000 });
    stub.article({ id: "106", title: "Gift cards", body: "<p>Gift cards never expire.</p>" });
    const one = await post("refresh_articles", await write(tenant), { article_ids: [refund.id], fetch_new_articles: false });
    expect(one.status).toBe(204);
    expect(one.body).toBeUndefined();
    expect(await lastRefresh(tenant)).toMatchObject({ status: "completed", updated: 1, created: 0 });
    const token = await write(tenant);
    const updated = await callJson(`${KB}/articles/${refund.id}`, { token });
    expect(updated.body).toMatchObject({ id: refund.id, content: "Refunds now take two days.", version: 2 });
    expect(await intercomArticles(tenant)).toHaveLength(4);

    stub.remove("102");
    const all = await post("refresh_articles", await write(tenant), {});
    expect(all.status).toBe(204);
    expect(await lastRefresh(tenant)).toMatchObject({ status: "completed", created: 1, unchanged: 3, skipped: 1 });
    expect((await callJson(`${KB}/articles/${shipping.id}`, { token })).status).toBe(404);
    const after = await intercomArticles(tenant);
    expect(after.map((a) => a.externalId).sort()).toEqual(["101", "104", "105", "106"]);
    expect(after.find((a) => a.externalId === "101")!.id).toBe(refund.id);
  });

  it("refuses article_ids that are not this assistant's Intercom articles, alike whoever's they are", async () => {
    const own = (await intercomArticles(tenant))[0]!;
    const manual = await callJson(`${KB}/articles/`, { method: "POST", token: await write(tenant), body: { content: "Typed by hand" } });
    const theirs = await callJson(`${KB}/articles/`, { method: "POST", token: await write(other), body: { content: "Another workspace" } });
    const cases: [unknown, RegExp][] = [
      [{ article_ids: ["a"] }, /^article_ids\.0: must be an integer article id/],
      [{ article_ids: [1.5] }, /^article_ids\.0: must be an integer article id/],
      [{ article_ids: "1" }, /^article_ids:/],
      [{ fetch_new_articles: "yes" }, /^fetch_new_articles: must be true or false/],
      [{ article_ids: [own.id], extra: 1 }, /extra/],
      [{ article_ids: [own.id, 99_999_999] }, new RegExp(`^article_ids: not Intercom articles of this assistant: 99999999$`)],
      [{ article_ids: [manual.body.id] }, new RegExp(`^article_ids: not Intercom articles of this assistant: ${manual.body.id}$`)],
      [{ article_ids: [theirs.body.id] }, new RegExp(`^article_ids: not Intercom articles of this assistant: ${theirs.body.id}$`)],
    ];
    const imports = await server.app.runtime.db.knowledgeImport.count({ where: { scenarioId: tenant.scenarioId } });
    for (const [body, message] of cases) {
      const res = await post("refresh_articles", await write(tenant), body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", message));
    }
    expect(await server.app.runtime.db.knowledgeImport.count({ where: { scenarioId: tenant.scenarioId } })).toBe(imports);
  });

  it("Intercom's rate limit and errors: retried, and a lasting failure or a revoked token fails the import", async () => {
    const t = await tenant.scenario("Retries");
    stub.failNext(429, 1, { "retry-after": "0" });
    const first = await post("import", await write(t));
    expect(first.status).toBe(200);
    expect(first.body.length).toBeGreaterThan(0);
    stub.failNext(500, 2);
    const retried = await post("import", await write(t));
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(first.body);

    stub.failAlways(500);
    try {
      const res = await post("import", await write(t));
      expect(res.status).toBe(503);
      expect(res.body).toEqual(quickchatError("SERVICE_UNAVAILABLE", /^The Intercom import failed: Intercom answered HTTP 500/));
    } finally {
      stub.failAlways(null);
    }

    stub.tokens.delete(GOOD);
    try {
      const res = await post("import", await write(t));
      expect(res.status).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", `${TOKEN_REJECTED}: connect Intercom again with a valid token`));
      expect(await post("refresh_articles", await write(t), {})).toMatchObject({ status: 204 });
      expect(await lastRefresh(t)).toMatchObject({ status: "failed", error: TOKEN_REJECTED });
    } finally {
      stub.tokens.add(GOOD);
    }
  });

  it("delete removes every Intercom article of the scenario, and only those", async () => {
    const sibling = await tenant.scenario("Sibling");
    const imported = await post("import", await write(sibling));
    expect(imported.status).toBe(200);
    const manual = await callJson(`${KB}/articles/`, { method: "POST", token: await write(tenant), body: { content: "Stays" } });
    const res = await post("delete", await write(tenant));
    expect(res.status).toBe(204);
    expect(await intercomArticles(tenant)).toEqual([]);
    expect((await callJson(`${KB}/articles/${manual.body.id}`, { token: await write(tenant) })).status).toBe(200);
    expect((await intercomArticles(sibling)).map((a) => a.id)).toEqual(imported.body.map((a: { id: number }) => a.id));
    expect((await callJson(`${KB}/`, { token: await write(tenant) })).body.retrain_state).toBe("to_be_retrained");
    const event = await server.app.runtime.db.domainEvent.findFirst({ where: { scenarioId: tenant.scenarioId, type: "article.deleted" }, orderBy: { createdAt: "desc" } });
    expect(event?.payload).toMatchObject({ source: "intercom" });
    // Nothing left: still 204.
    expect((await post("delete", await write(tenant))).status).toBe(204);
  });

  it("disconnecting forgets the token", async () => {
    const t = await tenant.scenario("After disconnect");
    expect((await gqlText(await admin(tenant), `mutation { disconnectIntercom }`)).data.disconnectIntercom).toBe(true);
    expect((await gqlText(await admin(tenant), CONNECTION)).data.intercomConnection.connected).toBe(false);
    expect((await post("import", await write(t))).status).toBe(422);
    expect((await gqlText(await admin(tenant), CONNECT, { t: GOOD })).data.connectIntercom.connected).toBe(true);
  });

  it("needs a valid write_all token on every route", async () => {
    for (const path of ["import", "refresh_articles", "delete"]) {
      expect((await post(path, "")).status).toBe(401);
      expect((await post(path, "garbage")).status).toBe(401);
      const read = await post(path, (await tenant.token("read_all")).secret);
      expect(read.status).toBe(403);
      expect(read.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
    }
  });

  it("the token never appears in any answer", () => {
    expect(seen.length).toBeGreaterThan(20);
    for (const text of seen) expect(text).not.toContain(GOOD);
  });
});
