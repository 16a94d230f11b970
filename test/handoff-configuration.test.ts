import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError, WRITE_SCOPE_MESSAGE } from "./helpers/http.ts";

const PATH = "/v1/api/human_handoff/configuration";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aRead: string;
let bWrite: string;
/** A's members: userIds 1 and 2. B has three members, so user id 3 exists only in B. */
let alice: { id: string; userId: number | null; name: string };
let bob: { id: string; userId: number | null; name: string };

const { call, gql } = http(() => server);

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  alice = await a.member("Alice");
  bob = await a.member("Bob");
  for (const name of ["X", "Y", "Z"]) await b.member(name);
  aRead = (await a.token("read_all")).secret;
  bWrite = (await b.token("write_all")).secret;
});
afterAll(() => server?.stop());

/** A fresh write token per use keeps each test well inside the per-token WRITE budget. */
const aWrite = async () => (await a.token("write_all")).secret;

async function getConfig(tenant: Tenant = a) {
  const res = await call(PATH, { token: (await tenant.token("read_all")).secret });
  expect(res.status).toBe(200);
  return res.json();
}

async function put(body: unknown, token?: string) {
  const res = await call(PATH, { method: "PUT", token: token ?? (await aWrite()), body });
  return { status: res.status, body: await res.json() };
}

const DEFAULT_GENERIC = [
  { name: "user_frustration", description: expect.any(String), is_active: true },
  { name: "customer_support_suggestion", description: expect.any(String), is_active: true },
  { name: "lack_of_knowledge", description: expect.any(String), is_active: true },
  { name: "irrelevant_advice", description: expect.any(String), is_active: false },
  { name: "media_message", description: expect.any(String), is_active: true },
];

describe("GET /v1/api/human_handoff/configuration", () => {
  it("answers the documented document with the defaults for a scenario that never saved one", async () => {
    const res = await call(PATH, { token: aRead });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(Object.keys(body)).toEqual(["settings", "availability", "generic_guidelines", "custom_guidelines", "routing_profiles"]);
    expect(Object.keys(body.settings).sort()).toEqual(
      [
        "is_active",
        "keywords",
        "ai_summary_active",
        "topic_based_routing_active",
        "question_message",
        "confirmation_message",
        "confirmation_outside_working_hours_message",
        "working_hours_active",
        "timezone",
        "send_email_notification",
        "emails",
      ].sort(),
    );
    expect(body).toEqual({
      settings: {
        is_active: false,
        keywords: ["speak to human", "agent"],
        ai_summary_active: true,
        topic_based_routing_active: false,
        question_message: expect.any(String),
        confirmation_message: expect.any(String),
        confirmation_outside_working_hours_message: expect.any(String),
        working_hours_active: false,
        timezone: "UTC",
        send_email_notification: false,
        emails: [],
      },
      availability: [],
      generic_guidelines: DEFAULT_GENERIC,
      custom_guidelines: [],
      routing_profiles: [],
    });
    expect(body.settings.confirmation_message.length).toBeLessThanOrEqual(500);
  });

  it("rejects a missing or wrong token with 401 and a widget or developer key too", async () => {
    expect((await call(PATH)).status).toBe(401);
    const garbage = await call(PATH, { token: "eyJhbGciOiJIUzI1NiJ9.e30.bad" });
    expect(garbage.status).toBe(401);
    expect(await garbage.json()).toEqual(quickchatError("PERMISSION_DENIED"));
    expect((await call(PATH, { token: (await a.widgetKey()).secret })).status).toBe(401);
    expect((await call(PATH, { token: (await a.developerKey()).secret })).status).toBe(401);
    const put = await call(PATH, { method: "PUT", token: "nope", body: {} });
    expect(put.status).toBe(401);
  });
});

describe("PUT /v1/api/human_handoff/configuration", () => {
  it("a read_all token gets 403 and nothing changes", async () => {
    const before = await getConfig();
    const res = await put({ settings: { is_active: true } }, aRead);
    expect(res).toEqual({ status: 403, body: quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE) });
    expect(await getConfig()).toEqual(before);
  });

  it("runs the documented fetch-modify-PUT example: the GET document sent back with is_active = true", async () => {
    const config = await getConfig();
    config.settings.is_active = true;
    const res = await put(config);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(config);
    expect(await getConfig()).toEqual(config);
  });

  it("creates list items without an id, updates those with one, deletes the ones left out", async () => {
    const config = await getConfig();
    config.settings = {
      ...config.settings,
      keywords: ["talk to a person", "operator"],
      working_hours_active: true,
      timezone: "Europe/London",
      send_email_notification: true,
      emails: ["support@example.com", "oncall@example.com"],
      confirmation_message: "x".repeat(500),
      topic_based_routing_active: false, // read-only: ignored
    };
    config.availability = [
      { day_span: "monday-friday", start_time: "09:00", end_time: "17:00" },
      { day_span: "Saturday", start_time: "10:00", end_time: "14:00" },
    ];
    config.generic_guidelines = [{ name: "irrelevant_advice", description: "Off-topic answers", is_active: true }];
    config.custom_guidelines = [
      { name: "Refunds", description: "The visitor asks for a refund over 100 EUR", is_active: true },
      { name: "Legal", description: "x".repeat(2000), is_active: false },
    ];
    config.routing_profiles = [{ name: "Billing", description: "Invoices and payments", is_active: true, user_ids: [bob.userId, alice.userId] }];

    const first = await put(config);
    expect(first.status).toBe(200);
    const saved = first.body;
    expect(saved.settings).toMatchObject({ keywords: ["talk to a person", "operator"], timezone: "Europe/London", topic_based_routing_active: true });
    expect(saved.availability).toEqual([
      { id: expect.any(Number), day_span: "monday-friday", start_time: "09:00", end_time: "17:00" },
      { id: expect.any(Number), day_span: "saturday", start_time: "10:00", end_time: "14:00" },
    ]);
    expect(saved.generic_guidelines).toEqual(
      DEFAULT_GENERIC.map((g) => (g.name === "irrelevant_advice" ? { name: g.name, description: "Off-topic answers", is_active: true } : g)),
    );
    expect(saved.custom_guidelines).toEqual([
      { id: expect.any(Number), name: "Refunds", description: "The visitor asks for a refund over 100 EUR", is_active: true },
      { id: expect.any(Number), name: "Legal", description: "x".repeat(2000), is_active: false },
    ]);
    expect(saved.routing_profiles).toEqual([
      { id: expect.any(Number), name: "Billing", description: "Invoices and payments", is_active: true, user_ids: [alice.userId, bob.userId] },
    ]);
    expect(await getConfig()).toEqual(saved);

    // Second round: update the first slot, drop the second, add a third; rename one guideline and
    // drop the other; change the profile's members and switch it off.
    const [slot1, slot2] = saved.availability;
    const [refunds, legal] = saved.custom_guidelines;
    const [billing] = saved.routing_profiles;
    const next = structuredClone(saved);
    next.availability = [{ ...slot1, end_time: "18:00" }, { day_span: "sunday", start_time: "12:00", end_time: "13:00" }];
    next.custom_guidelines = [{ ...refunds, name: "Refund requests" }];
    next.routing_profiles = [{ ...billing, is_active: false, user_ids: [bob.userId] }];
    const second = await put(next);
    expect(second.status).toBe(200);
    expect(second.body.availability).toEqual([
      { ...slot1, end_time: "18:00" },
      { id: expect.any(Number), day_span: "sunday", start_time: "12:00", end_time: "13:00" },
    ]);
    expect(second.body.availability.map((s: { id: number }) => s.id)).not.toContain(slot2.id);
    expect(second.body.custom_guidelines).toEqual([{ ...refunds, name: "Refund requests" }]);
    expect(second.body.custom_guidelines.map((g: { id: number }) => g.id)).not.toContain(legal.id);
    expect(second.body.routing_profiles).toEqual([{ ...billing, is_active: false, user_ids: [bob.userId] }]);
    expect(second.body.settings.topic_based_routing_active).toBe(false);
    expect(await getConfig()).toEqual(second.body);

    // A deleted item's id is not this configuration's any more.
    const stale = await put({ custom_guidelines: [{ ...legal }] });
    expect(stale.status).toBe(422);

    // Sections left out stay as they are; empty lists delete everything.
    const cleared = await put({ custom_guidelines: [], routing_profiles: [] });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toEqual({ ...second.body, custom_guidelines: [], routing_profiles: [] });
  });

  describe("bad input: 422 naming the field, nothing changes", () => {
    const long = (n: number) => "y".repeat(n);
    const slot = { day_span: "monday", start_time: "09:00", end_time: "17:00" };
    const profile = { name: "Tech", description: "Technical questions", is_active: true, user_ids: [] as unknown[] };
    const cases: [string, unknown, string][] = [
      ["question_message too long", { settings: { question_message: long(501) } }, "settings.question_message"],
      ["question_message empty", { settings: { question_message: "  " } }, "settings.question_message"],
      ["confirmation_message over 500", { settings: { confirmation_message: long(501) } }, "settings.confirmation_message"],
      ["outside-hours message over 500", { settings: { confirmation_outside_working_hours_message: long(501) } }, "settings.confirmation_outside_working_hours_message"],
      ["not a boolean", { settings: { is_active: "yes" } }, "settings.is_active"],
      ["timezone unknown", { settings: { timezone: "Mars/Olympus_Mons" } }, "settings.timezone"],
      ["timezone as an offset", { settings: { timezone: "+02:00" } }, "settings.timezone"],
      ["email invalid", { settings: { emails: ["ops@example.com", "not-an-email"] } }, "settings.emails.1"],
      ["email duplicated", { settings: { emails: ["ops@example.com", "OPS@example.com"] } }, "settings.emails.1"],
      ["keyword too long", { settings: { keywords: [long(101)] } }, "settings.keywords.0"],
      ["too many keywords", { settings: { keywords: Array.from({ length: 51 }, (_, i) => `k${i}`) } }, "settings.keywords"],
      ["unknown settings field", { settings: { colour: "red" } }, "settings"],
      ["unknown section", { workflows: [] }, ""],
      ["start time not HH:MM", { availability: [{ ...slot, start_time: "9:00" }] }, "availability.0.start_time"],
      ["end time out of range", { availability: [{ ...slot, end_time: "25:00" }] }, "availability.0.end_time"],
      ["start after end", { availability: [slot, { ...slot, start_time: "17:00", end_time: "09:00" }] }, "availability.1.end_time"],
      ["start equals end", { availability: [{ ...slot, end_time: "09:00" }] }, "availability.0.end_time"],
      ["day span not a day", { availability: [{ ...slot, day_span: "someday" }] }, "availability.0.day_span"],
      ["day range with a bad end", { availability: [{ ...slot, day_span: "monday-funday" }] }, "availability.0.day_span"],
      ["slot id unknown", { availability: [{ ...slot, id: 987654 }] }, "availability.0.id"],
      ["slot id not a number", { availability: [{ ...slot, id: "1" }] }, "availability.0.id"],
      ["working hours without slots", { settings: { working_hours_active: true }, availability: [] }, "settings.working_hours_active"],
      ["generic guideline unknown", { generic_guidelines: [{ name: "weather", is_active: true }] }, "generic_guidelines.0.name"],
      ["generic guideline twice", { generic_guidelines: [{ name: "media_message" }, { name: "media_message" }] }, "generic_guidelines.1.name"],
      ["custom name over 100", { custom_guidelines: [{ name: long(101), description: "d", is_active: true }] }, "custom_guidelines.0.name"],
      ["custom description over 2000", { custom_guidelines: [{ name: "n", description: long(2001), is_active: true }] }, "custom_guidelines.0.description"],
      ["custom guideline id unknown", { custom_guidelines: [{ id: 424242, name: "n", description: "d", is_active: true }] }, "custom_guidelines.0.id"],
      ["routing name over 100", { routing_profiles: [{ ...profile, name: long(101) }] }, "routing_profiles.0.name"],
      ["routing description over 2000", { routing_profiles: [{ ...profile, description: long(2001) }] }, "routing_profiles.0.description"],
      ["routing user id unknown", { routing_profiles: [{ ...profile, user_ids: [99999] }] }, "routing_profiles.0.user_ids"],
      ["routing user id of another workspace", { routing_profiles: [profile, { ...profile, user_ids: [3] }] }, "routing_profiles.1.user_ids"],
      ["routing user id not an integer", { routing_profiles: [{ ...profile, user_ids: ["1"] }] }, "routing_profiles.0.user_ids.0"],
      ["routing user id twice", { routing_profiles: [{ ...profile, user_ids: [1, 1] }] }, "routing_profiles.0.user_ids.1"],
      ["routing profile id unknown", { routing_profiles: [{ ...profile, id: 31337 }] }, "routing_profiles.0.id"],
      ["not an object", [], ""],
    ];

    it.each(cases)("%s", async (_label, body, field) => {
      const before = await getConfig();
      // Valid sections beside the bad one must not be written either.
      const payload = Array.isArray(body) ? body : { settings: { is_active: !before.settings.is_active }, ...(body as object) };
      const res = await put(payload);
      expect(res.status).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR"));
      const message: string = res.body.errors.root[0].message;
      if (field) expect(message.startsWith(`${field}: `), message).toBe(true);
      expect(await getConfig()).toEqual(before);
    });
  });

  it("accepts the edges of every limit", async () => {
    const res = await put({
      settings: {
        question_message: "q".repeat(500),
        confirmation_outside_working_hours_message: "o".repeat(500),
        keywords: Array.from({ length: 50 }, (_, i) => `${"k".repeat(98)}${String(i).padStart(2, "0")}`),
        timezone: "america/new_york",
      },
      availability: [{ day_span: "friday-monday", start_time: "00:00", end_time: "24:00" }],
      custom_guidelines: [{ name: "n".repeat(100), description: "d" }],
      routing_profiles: [{ name: "r".repeat(100), description: "d".repeat(2000), user_ids: [alice.userId] }],
    });
    expect(res.status).toBe(200);
    expect(res.body.settings.timezone).toBe("America/New_York");
    expect(res.body.settings.keywords).toHaveLength(50);
    expect(res.body.availability).toEqual([{ id: expect.any(Number), day_span: "friday-monday", start_time: "00:00", end_time: "24:00" }]);
    expect(res.body.custom_guidelines[0]).toMatchObject({ is_active: true });
    expect(res.body.routing_profiles[0]).toMatchObject({ is_active: true, user_ids: [alice.userId] });
  });
});
