import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { leadFixtures } from "./helpers/leads.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";

// The Quincer leads endpoints refusing what they must: bad PATCH input (422), wrong credentials
// (401), missing scopes (403), another workspace's lead (404); each refusal changes nothing.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let reader: string;
/** The refused PATCHes' key (30 writes per minute per key). */
let rejectWriter: string;
let otherMemberId: string;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Leads REST");
  other = await seed(server.app).workspace("Leads REST other");
  reader = (await t.developerKey(["leads:read"])).secret;
  rejectWriter = (await t.developerKey(["leads:read", "leads:write"])).secret;
  otherMemberId = (await other.member("Mallory")).id;
});
afterAll(() => server?.stop());

const { callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;

const fixtures = leadFixtures(() => server);
const createLeads = (inputs: Record<string, unknown>[], tenant: Tenant = t) => fixtures.createLeads(tenant, inputs);
const uniqueEmail = fixtures.uniqueEmail;
const snapshot = (id: string) => fixtures.snapshot(t, id);

describe("write budget", () => {
  it("30 PATCHes per key per minute; the 31st is 429 saying how many remain, and changes nothing", async () => {
    const key = (await t.developerKey(["leads:read", "leads:write"])).secret;
    const [id] = await createLeads([{ name: "Budget", email: uniqueEmail("budget") }]);
    for (let i = 1; i <= 30; i++) {
      const res = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: key, body: { score: i } });
      expect(res.status, `request ${i}`).toBe(200);
    }
    const over = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: key, body: { score: 99 } });
    expect(over.status).toBe(429);
    expect(over.body.error).toMatch(/\b0 of 30 write requests remaining\b/);
    expect((await snapshot(id!)).lead?.score).toBe(30);
  });
});

describe("PATCH /api/v1/leads/:id refusals", () => {
  describe("refuses bad input with 422 and changes nothing", () => {
    let id: string;
    beforeAll(async () => {
      [id] = (await createLeads([{ name: "Guarded", email: uniqueEmail("guarded") }])) as [string];
    });

    it.each([
      ["an unknown stage", { stage: "negotiation" }, "Unknown stage: negotiation (stages: new, contacted, qualified, proposal, won, lost)"],
      ["an unknown temperature", { temperature: "boiling" }, "temperature: must be one of cold, warm, hot"],
      ["a score above 100", { score: 101 }, "score: must be an integer from 0 to 100"],
      ["a negative score", { score: -1 }, "score: must be an integer from 0 to 100"],
      ["a fractional score", { score: 12.5 }, "score: must be an integer from 0 to 100"],
      ["a score as a string", { score: "50" }, "score: must be an integer from 0 to 100"],
      ["a bad email", { email: "not-an-email" }, "email: Invalid email address"],
      ["a bad phone", { phone: "call me maybe" }, "phone: Invalid phone number"],
      ["an unknown field", { stage: "won", color: "red" }, 'Unrecognized key: "color"'],
      ["an unknown BANT field", { bant: { mood: "good" } }, 'bant: Unrecognized key: "mood"'],
      ["tags that aren't strings", { tags: ["ok", 3] }, "tags.1: must be a string"],
      ["a body that isn't an object", ["stage", "won"], "The body must be a JSON object"],
    ])("%s", async (_what, body, error) => {
      const before = await snapshot(id);
      const res = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: rejectWriter, body });
      expect(res).toMatchObject({ status: 422, body: { error } });
      expect(await snapshot(id)).toEqual(before);
    });

    it("an assignment to a member of another workspace (or to no member)", async () => {
      for (const assignedTo of [otherMemberId, randomUUID(), "nobody"]) {
        const before = await snapshot(id);
        const res = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: rejectWriter, body: { assignedTo } });
        expect(res).toMatchObject({ status: 422, body: { error: "assignedTo: no team member with this id in the workspace" } });
        expect(await snapshot(id)).toEqual(before);
      }
    });
  });

  it("401 for a wrong, malformed or missing key, and for a widget key", async () => {
    const [id] = await createLeads([{ name: "Locked", email: uniqueEmail("locked") }]);
    const site = (await t.widgetKey()).secret;
    const before = await snapshot(id!);
    for (const token of ["cw_dev_wrongwrongwrongwrongwrong", "garbage", site, null]) {
      const patch = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token, body: { stage: "won" } });
      expect(patch.status).toBe(401);
      expect(patch.body).toEqual({ error: expect.any(String) });
      expect((await callJson(`/api/v1/leads/${id}`, { token })).status).toBe(401);
      expect((await callJson("/api/v1/leads", { token })).status).toBe(401);
    }
    expect(await snapshot(id!)).toEqual(before);
  });

  it("403 without the scope: PATCH needs leads:write, the reads leads:read", async () => {
    const [id] = await createLeads([{ name: "Scoped", email: uniqueEmail("scoped") }]);
    const takeoverOnly = (await t.developerKey(["conversations:read", "tasks:read"])).secret;
    const before = await snapshot(id!);
    expect(await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: reader, body: { stage: "won" } })).toMatchObject({
      status: 403,
      body: { error: "Insufficient scope. Required: leads:write" },
    });
    for (const path of ["/api/v1/leads", `/api/v1/leads/${id}`]) {
      expect(await callJson(path, { token: takeoverOnly })).toMatchObject({ status: 403, body: { error: "Insufficient scope. Required: leads:read" } });
    }
    expect(await snapshot(id!)).toEqual(before);
  });

  it("404 for another workspace's lead (with a key that has every scope there), changing nothing", async () => {
    const [foreign] = await createLeads([{ name: "Theirs", email: uniqueEmail("theirs") }], other);
    const before = await db().lead.findUnique({ where: { id: foreign } });
    expect(await callJson(`/api/v1/leads/${foreign}`, { method: "PATCH", token: rejectWriter, body: { stage: "won" } })).toMatchObject({
      status: 404,
      body: { error: "Lead not found" },
    });
    expect(await db().lead.findUnique({ where: { id: foreign } })).toEqual(before);
  });
});
