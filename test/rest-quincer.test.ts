import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { createServiceContext } from "../src/services/context.ts";
import { revokeCredential } from "../src/services/credentials.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { bearer, http } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aKey: string;
let aConv: Awaited<ReturnType<Tenant["conversation"]>>;
let bConv: Awaited<ReturnType<Tenant["conversation"]>>;

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aKey = (await a.developerKey()).secret;
  aConv = await a.conversation([
    { author: "visitor", content: "Hello, I need help" },
    { author: "ai_assistant", content: "Sure, what is it?" },
    { author: "visitor", content: "My order is late" },
    { author: "human_operator", content: "Let me check" },
  ]);
  bConv = await b.conversation([{ author: "visitor", content: "beta-private-message" }]);
});
afterAll(() => server?.stop());

const { get } = http(() => server);

describe("GET /api/v1/conversations/:id", () => {
  it("returns the transcript in ord order with metadata", async () => {
    const res = await get(`/api/v1/conversations/${aConv.id}`, bearer(aKey));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      id: aConv.id,
      widgetId: a.scenarioId,
      ord: 1,
      status: "active",
      title: "Conversation 1",
      terminated: false,
      visitor: { name: null, email: null },
    });
    expect(typeof body.createdAt).toBe("string");
    expect(typeof body.updatedAt).toBe("string");
    expect(body.messages.map((m: { ord: number }) => m.ord)).toEqual([1, 2, 3, 4]);
    expect(body.messages.map((m: { author: string; content: string }) => [m.author, m.content])).toEqual([
      ["visitor", "Hello, I need help"],
      ["ai_assistant", "Sure, what is it?"],
      ["visitor", "My order is late"],
      ["human_operator", "Let me check"],
    ]);
    for (const m of body.messages) {
      expect(m).toEqual({ id: expect.any(String), ord: expect.any(Number), type: "message", author: expect.any(String), content: expect.any(String), createdAt: expect.any(String) });
    }
  });

  it("works with a trailing slash", async () => {
    const res = await get(`/api/v1/conversations/${aConv.id}/`, bearer(aKey));
    expect(res.status).toBe(200);
    expect((await res.json()).id).toBe(aConv.id);
  });

  it("a key without conversations:read → 403 {error}", async () => {
    const key = (await a.developerKey(["leads:read", "tasks:read"])).secret;
    const res = await get(`/api/v1/conversations/${aConv.id}`, bearer(key));
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body).toEqual({ error: "Insufficient scope. Required: conversations:read" });
  });

  it("another workspace's conversation id → 404 with nothing of theirs in the body", async () => {
    const res = await get(`/api/v1/conversations/${bConv.id}`, bearer(aKey));
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "Conversation not found" });
    expect(text).not.toContain("beta-private-message");
    expect(text).not.toContain(b.scenarioId);
    expect(text).not.toContain(b.workspaceId);
  });

  it("an unknown id → 404", async () => {
    const res = await get(`/api/v1/conversations/00000000-0000-0000-0000-000000000000`, bearer(aKey));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "Conversation not found" });
  });

  it("missing, malformed, invalid or revoked key → 401 {error}", async () => {
    const path = `/api/v1/conversations/${aConv.id}`;
    const issued = await a.developerKey();
    expect((await get(path, bearer(issued.secret))).status).toBe(200);
    await revokeCredential(createServiceContext(server.app.runtime, SYSTEM), issued.id);
    const cases: Record<string, string>[] = [
      {},
      { authorization: aKey },
      { authorization: "Token abc" },
      bearer("cw_dev_notARealKeyAtAll0123456789"),
      bearer("garbage"),
      bearer(issued.secret),
    ];
    for (const headers of cases) {
      const res = await get(path, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      const body = await res.json();
      expect(Object.keys(body)).toEqual(["error"]);
      expect(typeof body.error).toBe("string");
      expect(body.error.length).toBeGreaterThan(0);
    }
  });

  it("an expired developer key → 401", async () => {
    const expired = await a.developerKey();
    await server.app.runtime.db.credential.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const res = await get(`/api/v1/conversations/${aConv.id}`, bearer(expired.secret));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.any(String) });
  });

  it("a scenario token, widget key or legacy key on this route → 401", async () => {
    for (const key of [(await a.token("write_all")).secret, (await a.token("read_all")).secret, (await a.widgetKey()).secret, (await a.legacyKey()).secret]) {
      const res = await get(`/api/v1/conversations/${aConv.id}`, bearer(key));
      expect(res.status).toBe(401);
      const body = await res.json();
      expect(body).toEqual({ error: expect.any(String) });
      expect(JSON.stringify(body)).not.toContain("Hello, I need help");
    }
  });

  it("an unknown /api/v1/... path → 404 {error}", async () => {
    for (const path of ["/api/v1/nothing-here", "/api/v1/conversations", "/api/v1/conversations/x/y/z"]) {
      const res = await get(path, bearer(aKey));
      expect(res.status, path).toBe(404);
      const body = await res.json();
      expect(body).toEqual({ error: expect.any(String) });
    }
  });
});
