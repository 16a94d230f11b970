import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { bearer, http } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;

beforeAll(async () => {
  server = await startServer();
  a = await seed(server.app).workspace("Alpha");
});
afterAll(() => server?.stop());

const SETTINGS = "/v1/api/chatbot_settings";

const { call } = http(() => server);

function parseRateLimit(header: string | null) {
  const m = /^limit=(\d+), remaining=(\d+), reset=(\d+)$/.exec(header ?? "");
  expect(m, `RateLimit header: ${header}`).not.toBeNull();
  return { limit: Number(m![1]), remaining: Number(m![2]), reset: Number(m![3]) };
}

describe("Quickchat WRITE tier: 60/min per token per endpoint", () => {
  it("60 PATCHes succeed, the 61st is 429 in the Quickchat dialect with rate-limit headers", async () => {
    const token = (await a.token("write_all")).secret;
    for (let i = 1; i <= 60; i++) {
      const res = await call(SETTINGS, { method: "PATCH", headers: bearer(token), body: { header: `h${i}` } });
      expect(res.status, `request ${i}`).toBe(200);
      await res.arrayBuffer();
      if (i === 1 || i === 60) {
        expect(res.headers.get("ratelimit-policy")).toBe("60;w=60");
        expect(parseRateLimit(res.headers.get("ratelimit"))).toMatchObject({ limit: 60, remaining: 60 - i });
        expect(res.headers.get("retry-after")).toBeNull();
      }
    }
    const res = await call(SETTINGS, { method: "PATCH", headers: bearer(token), body: { header: "h61" } });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({
      errors: { root: [{ message: expect.any(String), code: "TOO_MANY_REQUESTS" }] },
    });
    const retry = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(res.headers.get("ratelimit-policy")).toBe("60;w=60");
    const rl = parseRateLimit(res.headers.get("ratelimit"));
    expect(rl).toMatchObject({ limit: 60, remaining: 0 });
    expect(rl.reset).toBe(retry);

    // The rejected write did not happen.
    const settings = await call(SETTINGS, { headers: bearer(token) });
    expect(settings.status).toBe(200);
    expect((await settings.json()).header).toBe("h60");

    // The same token on a different endpoint is unaffected (GET is its own endpoint, read tier).
    const read = await call(SETTINGS, { headers: bearer(token) });
    expect(read.status).toBe(200);
    expect(read.headers.get("ratelimit-policy")).toBe("120;w=60");
    const list = await call("/v1/api_core/conversations", { headers: bearer(token) });
    expect(list.status).toBe(200);

    // Another token of the same scenario is unaffected.
    const other = (await a.token("write_all")).secret;
    const ok = await call(SETTINGS, { method: "PATCH", headers: bearer(other), body: { header: "other" } });
    expect(ok.status).toBe(200);
    expect(parseRateLimit(ok.headers.get("ratelimit"))).toMatchObject({ limit: 60, remaining: 59 });

    // And the spent token stays limited.
    const again = await call(SETTINGS, { method: "PATCH", headers: bearer(token), body: { header: "h62" } });
    expect(again.status).toBe(429);
    await again.arrayBuffer();
  });
});

describe("Quickchat READ tier: 120/min per token per endpoint", () => {
  it("the 121st GET of one endpoint is 429; the same token on another endpoint of the tier is unaffected", async () => {
    const token = (await a.token("read_all")).secret;
    for (let i = 1; i <= 120; i++) {
      const res = await call(SETTINGS, { headers: bearer(token) });
      expect(res.status, `request ${i}`).toBe(200);
      await res.arrayBuffer();
    }
    const res = await call(SETTINGS, { headers: bearer(token) });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ errors: { root: [{ message: expect.any(String), code: "TOO_MANY_REQUESTS" }] } });
    expect(res.headers.get("ratelimit-policy")).toBe("120;w=60");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // A trailing slash is the same endpoint, not a fresh budget.
    const slash = await call(`${SETTINGS}/`, { headers: bearer(token) });
    expect(slash.status).toBe(429);
    await slash.arrayBuffer();

    const list = await call("/v1/api_core/conversations", { headers: bearer(token) });
    expect(list.status).toBe(200);
    expect(parseRateLimit(list.headers.get("ratelimit"))).toMatchObject({ limit: 120, remaining: 119 });
  });
});

describe("developer keys: 100 reads/min across routes and GraphQL", () => {
  it("the 101st read is 429 {error} saying how many requests remain; GraphQL shares the budget", async () => {
    const key = (await a.developerKey()).secret;
    const conv = await a.conversation([{ author: "visitor", content: "hi" }]);
    for (let i = 1; i <= 100; i++) {
      // Alternate between a found and a not-found conversation: both spend read budget.
      const id = i % 2 ? conv.id : "00000000-0000-0000-0000-000000000000";
      const res = await call(`/api/v1/conversations/${id}`, { headers: bearer(key) });
      expect(res.status, `request ${i}`).toBe(i % 2 ? 200 : 404);
      await res.arrayBuffer();
      if (i === 100) {
        expect(res.headers.get("ratelimit-policy")).toBe("100;w=60");
        expect(parseRateLimit(res.headers.get("ratelimit"))).toMatchObject({ limit: 100, remaining: 0 });
      }
    }
    const res = await call(`/api/v1/conversations/${conv.id}`, { headers: bearer(key) });
    expect(res.status).toBe(429);
    const body = await res.json();
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error).toMatch(/\b0 of 100 read requests remaining\b/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get("ratelimit-policy")).toBe("100;w=60");

    const gql = await call("/graphql", { method: "POST", headers: bearer(key), body: { query: "{ viewer { kind } }" } });
    expect(gql.status).toBe(429);
    const gqlBody = await gql.json();
    expect(gqlBody.errors[0].extensions.code).toBe("TOO_MANY_REQUESTS");
    expect(gqlBody.data ?? null).toBeNull();
    expect(Number(gql.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    // Another developer key still has its budget, over REST and GraphQL.
    const other = (await a.developerKey()).secret;
    expect((await call(`/api/v1/conversations/${conv.id}`, { headers: bearer(other) })).status).toBe(200);
    const gqlOther = await call("/graphql", { method: "POST", headers: bearer(other), body: { query: "{ viewer { kind } }" } });
    expect(gqlOther.status).toBe(200);
    expect((await gqlOther.json()).data.viewer.kind).toBe("developer");
  });

  it("GraphQL queries spend the same read budget as REST", async () => {
    const key = (await a.developerKey()).secret;
    for (let i = 1; i <= 99; i++) {
      const res = await call("/graphql", { method: "POST", headers: bearer(key), body: { query: "{ viewer { kind } }" } });
      expect(res.status, `request ${i}`).toBe(200);
      await res.arrayBuffer();
    }
    const conv = await a.conversation();
    const last = await call(`/api/v1/conversations/${conv.id}`, { headers: bearer(key) });
    expect(last.status).toBe(200);
    expect(parseRateLimit(last.headers.get("ratelimit"))).toMatchObject({ limit: 100, remaining: 0 });
    const over = await call(`/api/v1/conversations/${conv.id}`, { headers: bearer(key) });
    expect(over.status).toBe(429);
    expect((await over.json()).error).toMatch(/remaining/);
  });
});

describe("site-key config route: 60/min", () => {
  it("60 requests succeed, the 61st is 429 {error}", async () => {
    const key = (await a.widgetKey()).secret;
    for (let i = 1; i <= 60; i++) {
      const res = await call("/api/v1/chat/config", { headers: { "x-site-key": key } });
      expect(res.status, `request ${i}`).toBe(200);
      await res.arrayBuffer();
    }
    const res = await call("/api/v1/chat/config", { headers: bearer(key) });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: expect.any(String) });
    expect(res.headers.get("ratelimit-policy")).toBe("60;w=60");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    const other = (await a.widgetKey()).secret;
    expect((await call("/api/v1/chat/config", { headers: { "x-site-key": other } })).status).toBe(200);
  });
});
