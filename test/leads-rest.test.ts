import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { leadFixtures } from "./helpers/leads.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { until } from "./helpers/wait.ts";

// The Quincer leads endpoints: GET /api/v1/leads (filters, pagination), GET /api/v1/leads/:id (the
// full record with BANT, tags and task history), PATCH /api/v1/leads/:id; scopes leads:read and
// leads:write; every refusal changes nothing.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let reader: string;
let writer: string;
/** Refused PATCHes spend their own key's budget (30 writes per minute per key). */
let rejectWriter: string;
let otherKey: string;
let memberId: string;
let otherMemberId: string;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Leads REST");
  other = await seed(server.app).workspace("Leads REST other");
  reader = (await t.developerKey(["leads:read"])).secret;
  writer = (await t.developerKey(["leads:read", "leads:write"])).secret;
  rejectWriter = (await t.developerKey(["leads:read", "leads:write"])).secret;
  otherKey = (await other.developerKey()).secret;
  memberId = (await t.member("Grace")).id;
  otherMemberId = (await other.member("Mallory")).id;
});
afterAll(() => server?.stop());

const { callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;

const fixtures = leadFixtures(() => server);
const createLeads = (inputs: Record<string, unknown>[], tenant: Tenant = t) => fixtures.createLeads(tenant, inputs);
const uniqueEmail = fixtures.uniqueEmail;
const snapshot = (id: string) => fixtures.snapshot(t, id);

describe("GET /api/v1/leads", () => {
  let second: Tenant;
  let ids: string[];
  let marker: string;

  beforeAll(async () => {
    second = await t.scenario("Second widget");
    marker = randomUUID().slice(0, 8);
    ids = await createLeads([
      { name: `A ${marker}`, email: uniqueEmail("a"), temperature: "hot", tags: [marker], assignedTo: memberId, widgetId: t.scenarioId },
      { name: `B ${marker}`, email: uniqueEmail("b"), temperature: "warm", stage: "qualified", tags: [marker], widgetId: t.scenarioId },
      { name: `C ${marker}`, phone: "+1 415 555 0101", widgetId: second.scenarioId, tags: [marker] },
    ]);
  });

  it("pages with limit and offset: items, offset, limit, count; most recently changed first", async () => {
    const all = await callJson("/api/v1/leads?limit=100", { token: reader });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ offset: 0, limit: 100, count: all.body.items.length });
    const updated = all.body.items.map((l: any) => l.updatedAt);
    expect([...updated].sort().reverse()).toEqual(updated);
    const page = await callJson("/api/v1/leads?limit=1&offset=1", { token: reader });
    expect(page.body).toMatchObject({ offset: 1, limit: 1, count: all.body.count });
    expect(page.body.items.map((l: any) => l.id)).toEqual([all.body.items[1].id]);
    const defaults = await callJson("/api/v1/leads", { token: reader });
    expect(defaults.body).toMatchObject({ offset: 0, limit: 10 });
  });

  it("filters by widgetId, stage, temperature and assignedTo", async () => {
    const get = async (query: string) => {
      const res = await callJson(`/api/v1/leads?limit=100&${query}`, { token: reader });
      expect(res.status).toBe(200);
      return res.body.items.filter((l: any) => ids.includes(l.id)).map((l: any) => l.id).sort();
    };
    expect(await get(`widgetId=${second.scenarioId}`)).toEqual([ids[2]]);
    expect(await get(`widgetId=${t.scenarioId}`)).toEqual([ids[0], ids[1]].sort());
    expect(await get("stage=qualified")).toEqual([ids[1]]);
    expect(await get("temperature=hot")).toEqual([ids[0]]);
    expect(await get(`assignedTo=${memberId}`)).toEqual([ids[0]]);
    expect(await get("assignedTo=unassigned")).toEqual([ids[1], ids[2]].sort());
    expect(await get("temperature=warm&stage=qualified")).toEqual([ids[1]]);
    // Another workspace's widget or member matches nothing.
    expect(await get(`widgetId=${other.scenarioId}`)).toEqual([]);
    expect(await get(`assignedTo=${otherMemberId}`)).toEqual([]);
  });

  it("updatedSince (inclusive) returns what changed since, oldest change first", async () => {
    // Just after every change so far (the clock has passed it before anything else changes).
    const latest = (await db().lead.aggregate({ _max: { updatedAt: true } }))._max.updatedAt!;
    const since = new Date(latest.getTime() + 1).toISOString();
    await until("the clock to pass updatedSince", async () => Date.now() > latest.getTime() + 1);
    const [late] = await createLeads([{ name: "Late", email: uniqueEmail("late") }]);
    const touched = await callJson(`/api/v1/leads/${ids[0]}`, { method: "PATCH", token: writer, body: { score: 40 } });
    expect(touched.status).toBe(200);
    const res = await callJson(`/api/v1/leads?updatedSince=${encodeURIComponent(since)}`, { token: reader });
    expect(res.status).toBe(200);
    expect(res.body.items.map((l: any) => l.id)).toEqual([late, ids[0]]);
    const offset = await callJson(`/api/v1/leads?updatedSince=${since.replace("Z", "+00:00").replace("+", "%2B")}`, { token: reader });
    expect(offset.body.count).toBe(2);
  });

  it("another workspace's key sees none of these leads", async () => {
    const res = await callJson("/api/v1/leads?limit=100", { token: otherKey });
    expect(res.status).toBe(200);
    expect(res.body.items.filter((l: any) => ids.includes(l.id))).toEqual([]);
  });

  it.each([
    ["updatedSince=yesterday", "updatedSince must be an ISO 8601 date-time with a time zone, e.g. 2026-01-15T10:30:00Z"],
    ["updatedSince=2026-01-15", "updatedSince must be an ISO 8601 date-time with a time zone, e.g. 2026-01-15T10:30:00Z"],
    ["updatedSince=2026-02-30T10:00:00Z", "updatedSince must be an ISO 8601 date-time with a time zone, e.g. 2026-01-15T10:30:00Z"],
    ["limit=0", "limit: must be at least 1"],
    ["limit=101", "limit: must be at most 100"],
    ["offset=-1", "offset: must be a non-negative integer"],
  ])("400 for %s", async (query, error) => {
    const res = await callJson(`/api/v1/leads?${query}`, { token: reader });
    expect(res).toMatchObject({ status: 400, body: { error } });
  });

  it("422 for an unknown stage or temperature", async () => {
    expect(await callJson("/api/v1/leads?stage=negotiation", { token: reader })).toMatchObject({
      status: 422,
      body: { error: "Unknown stage: negotiation (stages: new, contacted, qualified, proposal, won, lost)" },
    });
    expect(await callJson("/api/v1/leads?temperature=boiling", { token: reader })).toMatchObject({
      status: 422,
      body: { error: "temperature must be one of cold, warm, hot" },
    });
  });
});

describe("GET /api/v1/leads/:id", () => {
  it("answers the full record: contact details, BANT, tags, assignee, conversations and the task history", async () => {
    const [id] = await createLeads([
      {
        name: "Full Record",
        email: uniqueEmail("full"),
        phone: "+49 30 1234567",
        company: "Acme",
        tags: ["vip", "enterprise"],
        score: 72,
        assignedTo: memberId,
        bant: { budget: "50k EUR", authority: "CTO", need: "Support automation", timeline: "Q3" },
      },
    ]);
    const at = new Date("2026-03-01T10:00:00Z");
    await db().activity.createMany({
      data: [
        { workspaceId: t.workspaceId, leadId: id!, type: "qualification", status: "completed", scheduledAt: at, completedAt: at, input: {}, result: { score: 72 }, createdAt: at },
        { workspaceId: t.workspaceId, leadId: id!, type: "follow_up", status: "scheduled", scheduledAt: new Date("2026-03-02T10:00:00Z"), input: {}, assignedMemberId: memberId, createdAt: new Date("2026-03-01T11:00:00Z") },
      ],
    });
    const res = await callJson(`/api/v1/leads/${id}`, { token: reader });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      widgetId: null,
      name: "Full Record",
      phone: "+49 30 1234567",
      company: "Acme",
      stage: "new",
      temperature: "cold",
      tags: ["vip", "enterprise"],
      score: 72,
      assignedTo: memberId,
      assignee: { id: memberId, name: "Grace", kind: "human", avatarUrl: null },
      bant: { budget: "50k EUR", authority: "CTO", need: "Support automation", timeline: "Q3" },
      source: "graphql",
      conversationIds: [],
    });
    expect(res.body.activities.map((a: any) => [a.type, a.status, a.assignedTo])).toEqual([
      ["qualification", "completed", null],
      ["follow_up", "scheduled", memberId],
    ]);
    expect(res.body.activities[0]).toMatchObject({ result: { score: 72 }, completedAt: at.toISOString(), scheduledAt: at.toISOString() });
  });

  it("404 for another workspace's lead, an unknown id and a malformed id", async () => {
    const [foreign] = await createLeads([{ name: "Foreign", email: uniqueEmail("foreign") }], other);
    for (const id of [foreign, randomUUID(), "not-a-uuid"]) {
      expect(await callJson(`/api/v1/leads/${id}`, { token: reader })).toMatchObject({ status: 404, body: { error: "Lead not found" } });
    }
  });
});

describe("PATCH /api/v1/leads/:id", () => {
  it("changes only the fields sent; lead.updated, lead.stage_changed with previousStage and an audit entry, in one go", async () => {
    const [id] = await createLeads([{ name: "Patch Me", email: uniqueEmail("patch"), tags: ["a"] }]);
    const res = await callJson(`/api/v1/leads/${id}`, {
      method: "PATCH",
      token: writer,
      body: { stage: "contacted", temperature: "warm", score: 55, tags: ["a", "b", "a"], assignedTo: memberId, company: "Initech", bant: { need: "Chat" } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      name: "Patch Me",
      stage: "contacted",
      temperature: "warm",
      score: 55,
      tags: ["a", "b"],
      assignedTo: memberId,
      company: "Initech",
      bant: { budget: null, authority: null, need: "Chat", timeline: null },
    });
    const events = await db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: { in: ["lead.updated", "lead.stage_changed"] } } });
    const mine = events.filter((e) => (e.payload as any).leadId === id);
    expect(mine.map((e) => e.type).sort()).toEqual(["lead.stage_changed", "lead.updated"]);
    const updated = mine.find((e) => e.type === "lead.updated")!.payload as any;
    expect(updated.changes.sort()).toEqual(["assignedTo", "bant.need", "company", "score", "stage", "tags", "temperature"]);
    expect(updated.previous).toMatchObject({ stage: "new", temperature: "cold", score: 0, tags: ["a"], assignedTo: null });
    expect(mine.find((e) => e.type === "lead.stage_changed")!.payload).toMatchObject({ leadId: id, stage: "contacted", previousStage: "new" });
    const audit = await db().auditEntry.findMany({ where: { workspaceId: t.workspaceId, action: "lead.updated" } });
    expect(audit.filter((a) => (a.details as any).leadId === id)).toHaveLength(1);

    // Clearing: null empties a field, unassigns; a second identical PATCH records nothing.
    const cleared = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: writer, body: { assignedTo: null, company: null } });
    expect(cleared.body).toMatchObject({ assignedTo: null, assignee: null, company: null });
    const count = await db().domainEvent.count({ where: { workspaceId: t.workspaceId } });
    const again = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: writer, body: { assignedTo: null, company: null } });
    expect(again.status).toBe(200);
    expect(await db().domainEvent.count({ where: { workspaceId: t.workspaceId } })).toBe(count);
  });

  it("updates contact info; an email another lead has is 409", async () => {
    const taken = uniqueEmail("taken");
    const [id] = await createLeads([{ name: "Contact", email: uniqueEmail("contact") }, { name: "Holder", email: taken }]);
    const fresh = uniqueEmail("fresh");
    const res = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: writer, body: { email: fresh, phone: "030 1234 5678", name: "Renamed" } });
    expect(res.body).toMatchObject({ email: fresh, phone: "030 1234 5678", name: "Renamed" });
    const before = await snapshot(id!);
    const dup = await callJson(`/api/v1/leads/${id}`, { method: "PATCH", token: rejectWriter, body: { email: taken.toUpperCase() } });
    expect(dup).toMatchObject({ status: 409, body: { error: "Another lead in this workspace has this email address" } });
    expect(await snapshot(id!)).toEqual(before);
  });
});
