import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { createServiceContext } from "../src/services/context.ts";
import { revokeCredential } from "../src/services/credentials.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let a2: Tenant;
let b: Tenant;
let aSite: string;

const CONFIG = "/api/v1/chat/config";
const { call, get } = http(() => server);

async function setGreeting(t: Tenant, greeting: string) {
  const token = (await t.token("write_all")).secret;
  const res = await call("/v1/api/chatbot_settings", { method: "PATCH", token, body: { greeting } });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  a2 = await a.scenario("Alpha second");
  b = await s.workspace("Beta");
  aSite = (await a.widgetKey()).secret;
});
afterAll(() => server?.stop());

describe("GET /api/v1/chat/config", () => {
  it("answers the default greeting with Authorization: Bearer cw_live_…", async () => {
    expect(aSite).toMatch(/^cw_live_/);
    const res = await get(CONFIG, { authorization: `Bearer ${aSite}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ greeting: "<p>Hello! How can I help you today?</p>" });
  });

  it("answers with X-Site-Key and with a trailing slash", async () => {
    const res = await get(CONFIG, { "x-site-key": aSite });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ greeting: expect.any(String) });
    const slash = await get(`${CONFIG}/`, { "x-site-key": aSite });
    expect(slash.status).toBe(200);
  });

  it("the greeting follows the key's scenario settings, never another scenario's", async () => {
    await setGreeting(a, "<p>Alpha welcomes you</p>");
    await setGreeting(a2, "<p>Alpha second here</p>");
    await setGreeting(b, "<p>Beta here</p>");
    const a2Site = (await a2.widgetKey()).secret;
    const bSite = (await b.widgetKey()).secret;

    expect(await (await get(CONFIG, { authorization: `Bearer ${aSite}` })).json()).toEqual({ greeting: "<p>Alpha welcomes you</p>" });
    expect(await (await get(CONFIG, { "x-site-key": aSite })).json()).toEqual({ greeting: "<p>Alpha welcomes you</p>" });
    expect(await (await get(CONFIG, { "x-site-key": a2Site })).json()).toEqual({ greeting: "<p>Alpha second here</p>" });
    expect(await (await get(CONFIG, { authorization: `Bearer ${bSite}` })).json()).toEqual({ greeting: "<p>Beta here</p>" });

    await setGreeting(a, "<p>Changed</p>");
    expect(await (await get(CONFIG, { "x-site-key": aSite })).json()).toEqual({ greeting: "<p>Changed</p>" });
    expect(await (await get(CONFIG, { "x-site-key": bSite })).json()).toEqual({ greeting: "<p>Beta here</p>" });
  });

  it("an invalid, missing or revoked site key → 401 {error}", async () => {
    const revoked = await a.widgetKey();
    await revokeCredential(createServiceContext(server.app.runtime, SYSTEM), revoked.id);
    const cases: Record<string, string>[] = [
      {},
      { "x-site-key": "cw_live_doesNotExist0123456789abcdef" },
      { authorization: "Bearer cw_live_doesNotExist0123456789abcdef" },
      { authorization: "Bearer garbage" },
      { authorization: aSite },
      { "x-site-key": revoked.secret },
      { authorization: `Bearer ${revoked.secret}` },
    ];
    for (const headers of cases) {
      const res = await get(CONFIG, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      const body = await res.json();
      expect(body, JSON.stringify(headers)).toEqual({ error: expect.any(String) });
      expect(JSON.stringify(body)).not.toContain("greeting");
    }
  });

  it("a developer key, scenario token or legacy key → 401", async () => {
    const keys = [(await a.developerKey()).secret, (await a.token("write_all")).secret, (await a.legacyKey()).secret];
    for (const key of keys) {
      const variants: Record<string, string>[] = [{ authorization: `Bearer ${key}` }, { "x-site-key": key }];
      for (const headers of variants) {
        const res = await get(CONFIG, headers);
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: expect.any(String) });
      }
    }
  });

  it("an unknown /api/v1/chat/... path → 404 {error}", async () => {
    const res = await get("/api/v1/chat/nothing", { "x-site-key": aSite });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: expect.any(String) });
  });
});
