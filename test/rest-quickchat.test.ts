import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { signScenarioToken } from "../src/auth/credentials.ts";
import { createServiceContext } from "../src/services/context.ts";
import { revokeCredential } from "../src/services/credentials.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError } from "./helpers/http.ts";

const DAY = 86_400_000;
let now = Date.now();
let server: TestServer;
let a: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
let bWrite: string;
/** Re-reads after rejected writes use their own token: Quickchat reads are limited to 120/min per token. */
let aCheck: string;
/** Writes for the many rejected-body cases (writes are limited to 60/min per token). */
let aReject: string;

beforeAll(async () => {
  server = await startServer({ clock: () => new Date(now) });
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  bWrite = (await b.token("write_all")).secret;
  aCheck = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
});
afterAll(() => server?.stop());

const SETTINGS = "/v1/api/chatbot_settings";
const CONVERSATIONS = "/v1/api_core/conversations";

const { call } = http(() => server);

async function getSettings(token: string) {
  const res = await call(SETTINGS, { token });
  expect(res.status).toBe(200);
  return res.json();
}

describe("GET/PATCH /v1/api/chatbot_settings", () => {
  it("the documented curl example runs as written (host and token swapped)", async () => {
    const t = await seed(server.app).workspace("Curl example");
    const token = (await t.token("write_all")).secret;
    // curl -X PATCH …/v1/api/chatbot_settings -H 'Content-Type: application/json'
    //   -d '{ "greeting": "<p>Welcome! Ask me anything.</p>", "creativity_level": 2}'
    const res = await call(SETTINGS, {
      method: "PATCH",
      token,
      raw: '{ "greeting": "<p>Welcome! Ask me anything.</p>", "creativity_level": 2}',
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ greeting: "<p>Welcome! Ask me anything.</p>", creativity_level: 2, personality: 0 });
    expect(Object.keys(body).sort()).toEqual(
      [
        "personality", "profession", "creativity_level", "greeting", "greeting2", "header", "header2",
        "language_chosen", "reply_length", "one_word_description", "short_description", "ai_commands",
      ].sort(),
    );
    expect(await getSettings(token)).toEqual(body);
  });

  it("GET returns the default settings object with every documented field", async () => {
    const res = await call(SETTINGS, { token: aRead });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(await res.json()).toEqual({
      personality: 0,
      profession: "helpful_assistant",
      creativity_level: 1,
      greeting: "<p>Hello! How can I help you today?</p>",
      greeting2: "",
      header: "",
      header2: "",
      language_chosen: "en",
      reply_length: 1,
      one_word_description: "",
      short_description: "",
      ai_commands: [],
    });
  });

  it("answers with a trailing slash too", async () => {
    const res = await call(`${SETTINGS}/`, { token: aRead });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(await getSettings(aRead));
    const patch = await call(`${SETTINGS}/`, { method: "PATCH", token: aWrite, body: { header2: "slash" } });
    expect(patch.status).toBe(200);
    expect((await patch.json()).header2).toBe("slash");
  });

  it("PATCH changes only the fields sent and returns the whole object", async () => {
    const before = await getSettings(aWrite);
    const res = await call(SETTINGS, {
      method: "PATCH",
      token: aWrite,
      body: { personality: 9, greeting: "<p>Hi there</p>", ai_commands: ["Be brief", "Be kind"], language_chosen: "en, de,pt-BR" },
    });
    expect(res.status).toBe(200);
    const expected = {
      ...before,
      personality: 9,
      greeting: "<p>Hi there</p>",
      ai_commands: ["Be brief", "Be kind"],
      language_chosen: "en,de,pt-BR",
    };
    expect(await res.json()).toEqual(expected);
    expect(await getSettings(aRead)).toEqual(expected);

    const second = await call(SETTINGS, { method: "PATCH", token: aWrite, body: { creativity_level: 2 } });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ ...expected, creativity_level: 2 });
  });

  it("an empty PATCH changes nothing and returns the whole object", async () => {
    const before = await getSettings(aRead);
    const res = await call(SETTINGS, { method: "PATCH", token: aWrite, body: {} });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(before);
  });

  it("accepts every documented boundary value", async () => {
    const body = {
      personality: 13,
      profession: "field_expert",
      creativity_level: 0,
      reply_length: 2,
      greeting: "g".repeat(1000),
      one_word_description: "o".repeat(200),
      short_description: "s".repeat(2000),
      ai_commands: ["c".repeat(500)],
      language_chosen: "fr",
    };
    const res = await call(SETTINGS, { method: "PATCH", token: aWrite, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject(body);
  });

  const invalid: [string, unknown][] = [
    ["personality 8", { personality: 8 }],
    ["personality 14", { personality: 14 }],
    ["personality -1", { personality: -1 }],
    ["personality 1.5", { personality: 1.5 }],
    ['personality "1"', { personality: "1" }],
    ["unknown profession", { profession: "astronaut" }],
    ["creativity_level 3", { creativity_level: 3 }],
    ["reply_length 3", { reply_length: 3 }],
    ["greeting of 1001 characters", { greeting: "x".repeat(1001) }],
    ["one_word_description of 201 characters", { one_word_description: "x".repeat(201) }],
    ["short_description of 2001 characters", { short_description: "x".repeat(2001) }],
    ["ai_commands item of 501 characters", { ai_commands: ["ok", "x".repeat(501)] }],
    ["ai_commands not an array", { ai_commands: "be brief" }],
    ["ai_commands item not a string", { ai_commands: [1] }],
    ['language_chosen "en,xx1"', { language_chosen: "en,xx1" }],
    ['language_chosen "zz"', { language_chosen: "zz" }],
    ["greeting a number", { greeting: 5 }],
    ["greeting null", { greeting: null }],
    ["an unknown field", { favourite_colour: "blue" }],
    ["a valid field plus an unknown field", { personality: 2, nope: true }],
    ["a JSON array body", [1, 2]],
    ["a JSON string body", "hello"],
  ];
  it.each(invalid)("rejects %s with 422 VALIDATION_ERROR and changes nothing", async (_name, body) => {
    const before = await getSettings(aCheck);
    const res = await call(SETTINGS, { method: "PATCH", token: aReject, body });
    expect(res.status).toBe(422);
    const json = await res.json();
    expect(json).toEqual(quickchatError("VALIDATION_ERROR"));
    expect(json.errors.root).toHaveLength(1);
    expect(json.errors.root[0].message.length).toBeGreaterThan(0);
    expect(await getSettings(aCheck)).toEqual(before);
  });

  it("malformed JSON is 400 BAD_REQUEST", async () => {
    const before = await getSettings(aRead);
    const res = await call(SETTINGS, { method: "PATCH", token: aWrite, raw: '{"personality": 2,' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(quickchatError("BAD_REQUEST"));
    expect(await getSettings(aRead)).toEqual(before);
  });

  it("a non-JSON content type or an empty JSON body is 400 BAD_REQUEST", async () => {
    const before = await getSettings(aRead);
    const text = await call(SETTINGS, { method: "PATCH", token: aWrite, raw: "<personality>3</personality>", headers: { "content-type": "application/xml" } });
    expect(text.status).toBe(400);
    expect(await text.json()).toEqual(quickchatError("BAD_REQUEST"));
    const empty = await call(SETTINGS, { method: "PATCH", token: aWrite, raw: "" });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toEqual(quickchatError("BAD_REQUEST"));
    expect(await getSettings(aRead)).toEqual(before);
  });

  it("a body over 1 MiB is 400 BAD_REQUEST and nothing is written", async () => {
    const before = await getSettings(aRead);
    const res = await call(SETTINGS, {
      method: "PATCH",
      token: aWrite,
      body: { header: "big", greeting: "x".repeat(1024 * 1024 + 10) },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(quickchatError("BAD_REQUEST"));
    expect(await getSettings(aRead)).toEqual(before);
  });

  it("a read_all token cannot PATCH: 403 with the documented message", async () => {
    const before = await getSettings(aRead);
    const res = await call(SETTINGS, { method: "PATCH", token: aRead, body: { personality: 3 } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      errors: { root: [{ message: "Insufficient token scope. Required: write_all", code: "PERMISSION_DENIED" }] },
    });
    expect(await getSettings(aRead)).toEqual(before);
  });
});

describe("unknown Quickchat paths", () => {
  it("answer 404 NOT_FOUND in the Quickchat dialect", async () => {
    for (const path of ["/v1/api/nothing_here", "/v1/api_core/nothing_here"]) {
      const res = await call(path, { token: aRead });
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual(quickchatError("NOT_FOUND"));
    }
  });
});

describe("authentication on Quickchat routes", () => {
  async function expect401(res: Response) {
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(quickchatError("PERMISSION_DENIED"));
  }

  it("missing token → 401", async () => {
    await expect401(await call(SETTINGS));
    await expect401(await call(CONVERSATIONS));
  });

  it("malformed Authorization header → 401", async () => {
    await expect401(await call(SETTINGS, { headers: { authorization: aRead } }));
    await expect401(await call(SETTINGS, { headers: { authorization: `Basic ${aRead}` } }));
    await expect401(await call(SETTINGS, { headers: { authorization: "Bearer" } }));
  });

  it("garbage token → 401", async () => {
    await expect401(await call(SETTINGS, { token: "garbage" }));
    await expect401(await call(SETTINGS, { token: "a.b.c" }));
    await expect401(await call(SETTINGS, { token: aRead.slice(0, -3) + "xyz" }));
  });

  it("a token signed with another secret → 401 even when its jti and claims are real", async () => {
    const real = await a.token("write_all");
    const forged = await signScenarioToken("another-secret-another-secret-another-secret", {
      id: real.id,
      scenarioId: a.scenarioId,
      scope: "write_all",
      issuedAt: new Date(now),
      expiresAt: new Date(now + DAY),
    });
    await expect401(await call(SETTINGS, { token: forged }));
    const before = await getSettings(aRead);
    await expect401(await call(SETTINGS, { method: "PATCH", token: forged, body: { personality: 4 } }));
    expect(await getSettings(aRead)).toEqual(before);
  });

  it("an expired token → 401", async () => {
    const t = (await a.token("write_all", 1)).secret;
    expect((await call(SETTINGS, { token: t })).status).toBe(200);
    const saved = now;
    now += 3 * DAY;
    try {
      await expect401(await call(SETTINGS, { token: t }));
      await expect401(await call(SETTINGS, { method: "PATCH", token: t, body: { personality: 4 } }));
    } finally {
      now = saved;
    }
    expect((await getSettings(aRead)).personality).not.toBe(4);
  });

  it("a revoked token → 401", async () => {
    const t = await a.token("write_all");
    expect((await call(SETTINGS, { token: t.secret })).status).toBe(200);
    await revokeCredential(createServiceContext(server.app.runtime, SYSTEM), t.id);
    await expect401(await call(SETTINGS, { token: t.secret }));
    await expect401(await call(SETTINGS, { method: "PATCH", token: t.secret, body: { personality: 4 } }));
    await expect401(await call(CONVERSATIONS, { token: t.secret }));
  });

  it("a developer key or a widget key on a Quickchat route → 401", async () => {
    const dev = (await a.developerKey()).secret;
    const widget = (await a.widgetKey()).secret;
    const legacy = (await a.legacyKey()).secret;
    for (const key of [dev, widget, legacy]) {
      await expect401(await call(SETTINGS, { token: key }));
      await expect401(await call(SETTINGS, { method: "PATCH", token: key, body: { personality: 4 } }));
      await expect401(await call(CONVERSATIONS, { token: key }));
    }
    // X-Site-Key is not a Quickchat credential either.
    await expect401(await call(SETTINGS, { headers: { "x-site-key": widget } }));
  });
});

describe("tenant isolation", () => {
  it("a token of workspace A sees only A's settings; A's PATCH never changes B's", async () => {
    const bSet = await call(SETTINGS, { method: "PATCH", token: bWrite, body: { greeting: "Beta greeting", personality: 5 } });
    expect(bSet.status).toBe(200);
    const bBefore = await getSettings(bWrite);

    const aSet = await call(SETTINGS, { method: "PATCH", token: aWrite, body: { greeting: "Alpha greeting", personality: 6 } });
    expect(aSet.status).toBe(200);
    expect(await aSet.json()).toMatchObject({ greeting: "Alpha greeting", personality: 6 });

    expect(await getSettings(bWrite)).toEqual(bBefore);
    expect((await getSettings(aRead)).greeting).toBe("Alpha greeting");
    expect((await getSettings(bWrite)).greeting).toBe("Beta greeting");
  });

  it("two scenarios of one workspace are isolated too", async () => {
    const other = await a.scenario("Alpha second");
    const t = (await other.token("write_all")).secret;
    const res = await call(SETTINGS, { method: "PATCH", token: t, body: { greeting: "Second scenario" } });
    expect(res.status).toBe(200);
    expect((await getSettings(aRead)).greeting).not.toBe("Second scenario");
    expect((await getSettings(t)).greeting).toBe("Second scenario");
  });
});

describe("GET /v1/api_core/conversations", () => {
  let c: Tenant;
  let cToken: string;
  let ids: string[] = [];
  beforeAll(async () => {
    c = await seed(server.app).workspace("Gamma");
    cToken = (await c.token("read_all")).secret;
    ids = [];
    for (let i = 1; i <= 12; i++) {
      const conv = await c.conversation([
        { author: "visitor", content: `question ${i}` },
        { author: "ai_assistant", content: `answer ${i}` },
      ]);
      ids.push(conv.id);
    }
    // Another tenant's conversations must never show up.
    await b.conversation([{ author: "visitor", content: "beta secret" }]);
  });

  it("default page: {items, offset, limit, count}, newest first", async () => {
    const res = await call(CONVERSATIONS, { token: cToken });
    expect(res.status).toBe(200);
    const page = await res.json();
    expect(Object.keys(page).sort()).toEqual(["count", "items", "limit", "offset"]);
    expect(page).toMatchObject({ offset: 0, limit: 10, count: 12 });
    expect(page.items).toHaveLength(10);
    expect(page.items.map((i: { ord: number }) => i.ord)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
    expect(page.items[0]).toMatchObject({ id: ids[11], title: "Conversation 12", last_message_content: "answer 12", terminated: false });
  });

  it("limit and offset work (also with a trailing slash)", async () => {
    const res = await call(`${CONVERSATIONS}/?limit=5&offset=10`, { token: cToken });
    expect(res.status).toBe(200);
    const page = await res.json();
    expect(page).toMatchObject({ offset: 10, limit: 5, count: 12 });
    expect(page.items.map((i: { ord: number }) => i.ord)).toEqual([2, 1]);

    const p2 = await (await call(`${CONVERSATIONS}?limit=3&offset=3`, { token: cToken })).json();
    expect(p2.items.map((i: { id: string }) => i.id)).toEqual([ids[8], ids[7], ids[6]]);

    const max = await call(`${CONVERSATIONS}?limit=100`, { token: cToken });
    expect(max.status).toBe(200);
    expect((await max.json()).items).toHaveLength(12);

    const past = await (await call(`${CONVERSATIONS}?offset=50`, { token: cToken })).json();
    expect(past).toEqual({ items: [], offset: 50, limit: 10, count: 12 });
  });

  it.each(["limit=-1", "limit=abc", "limit=101", "limit=0", "offset=-5", "offset=1.5", "limit=1.5"])(
    "%s → 400 BAD_REQUEST",
    async (q) => {
      const res = await call(`${CONVERSATIONS}?${q}`, { token: cToken });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(quickchatError("BAD_REQUEST"));
    },
  );

  it("another tenant's conversations never appear", async () => {
    const aPage = await (await call(CONVERSATIONS, { token: aRead })).json();
    expect(aPage).toEqual({ items: [], offset: 0, limit: 10, count: 0 });
    const bPage = await (await call(`${CONVERSATIONS}?limit=100`, { token: bWrite })).json();
    expect(bPage.count).toBe(1);
    expect(bPage.items).toHaveLength(1);
    expect(bPage.items[0].last_message_content).toBe("beta secret");
    const cPage = await (await call(`${CONVERSATIONS}?limit=100`, { token: cToken })).json();
    expect(cPage.items.map((i: { id: string }) => i.id).sort()).toEqual([...ids].sort());
    expect(JSON.stringify(cPage)).not.toContain("beta secret");
  });
});
