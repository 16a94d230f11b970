import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// Leads in GraphQL: createLead, updateLead, lead, leads (filters, totalCount), leadStages and
// setLeadStages for a workspace's own pipeline; the same rules and errors as the REST routes.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let key: string;
let reader: string;
let otherKey: string;
let memberId: string;
let otherMemberId: string;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Leads GraphQL");
  other = await seed(server.app).workspace("Leads GraphQL other");
  key = (await t.developerKey(["leads:read", "leads:write"])).secret;
  reader = (await t.developerKey(["leads:read"])).secret;
  otherKey = (await other.developerKey()).secret;
  memberId = (await t.member("Grace")).id;
  otherMemberId = (await other.member("Mallory")).id;
});
afterAll(() => server?.stop());

const { gql } = http(() => server);
const db = () => server.app.runtime.db;

const LEAD = `id widgetId name email phone company stage temperature tags score assignedTo assignedMember { id name }
  bant { budget authority need timeline } source conversationIds createdAt updatedAt`;
const CREATE = `mutation ($input: CreateLeadInput!) { createLead(input: $input) { ${LEAD} } }`;
const UPDATE = `mutation ($id: ID!, $input: UpdateLeadInput!) { updateLead(id: $id, input: $input) { ${LEAD} } }`;
const GET = `query ($id: ID!) { lead(id: $id) { ${LEAD} } }`;
const LIST = `query ($filter: LeadFilter, $first: Int, $after: String) {
  leads(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id stage temperature } }
}`;
const STAGES = `{ leadStages { key name position kind } }`;
const SET_STAGES = `mutation ($stages: [LeadStageInput!]!) { setLeadStages(stages: $stages) { key name position kind } }`;

const email = (tag: string) => `${tag}-${randomUUID()}@example.com`;

async function create(input: Record<string, unknown>, as = key) {
  const res = await gql(as, CREATE, { input });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.createLead;
}

describe("bad variables", () => {
  it("a malformed updatedSince is VALIDATION_ERROR naming the variable, not an unexpected error", async () => {
    const res = await gql(key, LIST, { filter: { updatedSince: "last tuesday" } });
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
    expect(res.errors?.[0]?.message).toMatch(/updatedSince/);
  });
});

describe("createLead and lead", () => {
  it("creates a lead with every field, source graphql, in the first stage; lead.created and an audit entry", async () => {
    const scenario = t.scenarioId;
    const lead = await create({
      widgetId: scenario,
      name: "Ada",
      email: email("ada"),
      phone: "+44 20 7946 0958",
      company: "Engines",
      temperature: "warm",
      tags: ["vip"],
      score: 30,
      assignedTo: memberId,
      bant: { budget: "10k", need: "Leads" },
    });
    expect(lead).toMatchObject({
      widgetId: scenario,
      stage: "new",
      temperature: "warm",
      tags: ["vip"],
      score: 30,
      assignedTo: memberId,
      assignedMember: { id: memberId, name: "Grace" },
      bant: { budget: "10k", authority: null, need: "Leads", timeline: null },
      source: "graphql",
      conversationIds: [],
    });
    const read = await gql(reader, GET, { id: lead.id });
    expect(read.data.lead).toEqual(lead);
    const events = await db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: "lead.created" } });
    expect(events.some((e) => (e.payload as { leadId: string }).leadId === lead.id)).toBe(true);
    const audit = await db().auditEntry.findMany({ where: { workspaceId: t.workspaceId, action: "lead.created" } });
    expect(audit.some((a) => (a.details as { leadId: string }).leadId === lead.id)).toBe(true);
  });

  it("links a conversation of the workspace; another workspace's conversation or widget is NOT_FOUND", async () => {
    const conversation = await t.conversation([{ author: "visitor", content: "hi" }]);
    const lead = await create({ name: "Linked", conversationId: conversation.id });
    expect(lead).toMatchObject({ conversationIds: [conversation.id], widgetId: t.scenarioId });
    const foreign = await other.conversation([{ author: "visitor", content: "hi" }]);
    expect(errorCodes(await gql(key, CREATE, { input: { name: "X", conversationId: foreign.id } }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(key, CREATE, { input: { name: "X", widgetId: other.scenarioId } }))).toEqual(["NOT_FOUND"]);
  });

  it("refuses a duplicate email (CONFLICT), a lead with no way to reach anyone and bad fields (VALIDATION_ERROR)", async () => {
    const taken = email("dup");
    await create({ email: taken });
    const before = await db().lead.count({ where: { workspaceId: t.workspaceId } });
    const dup = await gql(key, CREATE, { input: { email: taken.toUpperCase() } });
    expect(errorCodes(dup)).toEqual(["CONFLICT"]);
    expect(dup.errors![0]!.message).toBe("Another lead in this workspace has this email address");
    for (const [input, message] of [
      [{ tags: ["x"] }, "A lead needs at least a name, email, phone or company"],
      [{ name: "X", score: 101 }, "score: must be an integer from 0 to 100"],
      [{ name: "X", email: "nope" }, "email: Invalid email address"],
      [{ name: "X", stage: "negotiation" }, "Unknown stage: negotiation (stages: new, contacted, qualified, proposal, won, lost)"],
      [{ name: "X", assignedTo: otherMemberId }, "assignedTo: no team member with this id in the workspace"],
    ] as const) {
      const res = await gql(key, CREATE, { input });
      expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
      expect(res.errors![0]!.message).toBe(message);
    }
    expect(await db().lead.count({ where: { workspaceId: t.workspaceId } })).toBe(before);
  });

  it("another workspace's lead is NOT_FOUND; a key without leads scopes is PERMISSION_DENIED", async () => {
    const theirs = await create({ name: "Theirs" }, otherKey);
    expect(errorCodes(await gql(key, GET, { id: theirs.id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(key, UPDATE, { id: theirs.id, input: { stage: "won" } }))).toEqual(["NOT_FOUND"]);
    const noScope = (await t.developerKey(["conversations:read"])).secret;
    expect(errorCodes(await gql(noScope, GET, { id: theirs.id }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(reader, CREATE, { input: { name: "X" } }))).toEqual(["PERMISSION_DENIED"]);
  });
});

describe("updateLead", () => {
  it("changes the fields given, null clears; stage moves record lead.stage_changed with previousStage", async () => {
    const lead = await create({ name: "Mover", email: email("mover"), company: "Old Co", assignedTo: memberId });
    const res = await gql(key, UPDATE, { id: lead.id, input: { stage: "proposal", company: null, assignedTo: null, bant: { timeline: "May" } } });
    expect(res.errors).toBeUndefined();
    expect(res.data.updateLead).toMatchObject({ stage: "proposal", company: null, assignedTo: null, name: "Mover", bant: { timeline: "May" } });
    const changed = await db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: "lead.stage_changed" } });
    expect(changed.map((e) => e.payload).filter((p: any) => p.leadId === lead.id)).toMatchObject([{ stage: "proposal", previousStage: "new" }]);
    const bad = await gql(key, UPDATE, { id: lead.id, input: { score: -5 } });
    expect(errorCodes(bad)).toEqual(["VALIDATION_ERROR"]);
    expect(errorCodes(await gql(reader, UPDATE, { id: lead.id, input: { score: 5 } }))).toEqual(["PERMISSION_DENIED"]);
  });
});

describe("leads connection", () => {
  it("filters and pages with totalCount", async () => {
    const tag = randomUUID();
    const widget = await t.scenario("Filter widget");
    for (const temperature of ["hot", "hot", "cold"]) await create({ name: tag, widgetId: widget.scenarioId, temperature });
    const hot = await gql(reader, LIST, { filter: { widgetId: widget.scenarioId, temperature: "hot" }, first: 1 });
    expect(hot.errors).toBeUndefined();
    expect(hot.data.leads.totalCount).toBe(2);
    expect(hot.data.leads.nodes).toHaveLength(1);
    expect(hot.data.leads.pageInfo.hasNextPage).toBe(true);
    const next = await gql(reader, LIST, { filter: { widgetId: widget.scenarioId, temperature: "hot" }, first: 1, after: hot.data.leads.pageInfo.endCursor });
    expect(next.data.leads.nodes).toHaveLength(1);
    expect(next.data.leads.nodes[0].id).not.toBe(hot.data.leads.nodes[0].id);
    const none = await gql(reader, LIST, { filter: { widgetId: other.scenarioId } });
    expect(none.data.leads).toMatchObject({ totalCount: 0, nodes: [] });
    expect(errorCodes(await gql(reader, LIST, { filter: { stage: "nope" } }))).toEqual(["VALIDATION_ERROR"]);
  });

  it("a scenario token sees its own widget's leads only", async () => {
    const widget = await t.scenario("Token widget");
    const mine = await create({ name: "Token lead", widgetId: widget.scenarioId });
    const elsewhere = await create({ name: "Elsewhere", widgetId: t.scenarioId });
    const token = (await widget.token("read_all")).secret;
    const list = await gql(token, LIST, { first: 100 });
    expect(list.data.leads.nodes.map((n: { id: string }) => n.id)).toEqual([mine.id]);
    expect(errorCodes(await gql(token, GET, { id: elsewhere.id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(token, UPDATE, { id: mine.id, input: { score: 1 } }))).toEqual(["PERMISSION_DENIED"]);
  });
});

describe("a workspace's own pipeline", () => {
  it("leadStages: the default pipeline until the workspace sets its own", async () => {
    const res = await gql(reader, STAGES);
    expect(res.data.leadStages).toEqual([
      { key: "new", name: "New", position: 0, kind: "open" },
      { key: "contacted", name: "Contacted", position: 1, kind: "open" },
      { key: "qualified", name: "Qualified", position: 2, kind: "open" },
      { key: "proposal", name: "Proposal", position: 3, kind: "open" },
      { key: "won", name: "Won", position: 4, kind: "won" },
      { key: "lost", name: "Lost", position: 5, kind: "lost" },
    ]);
  });

  it("setLeadStages replaces it; new leads start in the first open stage; leads move to custom stages", async () => {
    const ws = await seed(server.app).workspace("Custom pipeline");
    const admin = (await ws.developerKey(["leads:read", "leads:write"])).secret;
    const stages = [
      { key: "inbound", name: "Inbound" },
      { key: "demo", name: "Demo booked" },
      { key: "signed", name: "Signed", kind: "won" },
      { key: "churned", name: "Churned", kind: "lost" },
    ];
    const set = await gql(admin, SET_STAGES, { stages });
    expect(set.errors).toBeUndefined();
    expect(set.data.setLeadStages.map((s: { key: string; kind: string; position: number }) => [s.key, s.kind, s.position])).toEqual([
      ["inbound", "open", 0],
      ["demo", "open", 1],
      ["signed", "won", 2],
      ["churned", "lost", 3],
    ]);
    expect((await gql(admin, STAGES)).data.leadStages).toEqual(set.data.setLeadStages);
    const lead = await create({ name: "Custom" }, admin);
    expect(lead.stage).toBe("inbound");
    const moved = await gql(admin, UPDATE, { id: lead.id, input: { stage: "demo" } });
    expect(moved.data.updateLead.stage).toBe("demo");
    const old = await gql(admin, UPDATE, { id: lead.id, input: { stage: "qualified" } });
    expect(old.errors![0]!.message).toBe("Unknown stage: qualified (stages: inbound, demo, signed, churned)");

    // A stage with leads can't be dropped; bad lists change nothing.
    for (const [bad, message] of [
      [[{ key: "inbound", name: "Inbound" }], "Stage demo still has 1 lead(s): move them to another stage first"],
      [[], "stages: at least one stage is required"],
      [[{ key: "won", name: "Won", kind: "won" }], "stages: at least one stage must be open (new leads start there)"],
      [[{ key: "a", name: "A" }, { key: "a", name: "Again" }], "stages.1.key: duplicate stage key: a"],
      [[{ key: "Bad Key", name: "X" }], "stages.0.key: must be 1–40 lower-case letters, digits, '_' or '-'"],
      [[{ key: "ok", name: "  " }], "stages.0.name: must not be blank"],
    ] as const) {
      const res = await gql(admin, SET_STAGES, { stages: bad });
      expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
      expect(res.errors![0]!.message).toBe(message);
    }
    expect((await gql(admin, STAGES)).data.leadStages).toEqual(set.data.setLeadStages);
    // Other workspaces keep the default pipeline.
    expect((await gql(reader, STAGES)).data.leadStages.map((s: { key: string }) => s.key)).toEqual(["new", "contacted", "qualified", "proposal", "won", "lost"]);
  });

  it("setLeadStages needs a developer key with leads:write", async () => {
    const stages = [{ key: "x", name: "X" }];
    expect(errorCodes(await gql(reader, SET_STAGES, { stages }))).toEqual(["PERMISSION_DENIED"]);
    const token = (await t.token("write_all")).secret;
    expect(errorCodes(await gql(token, SET_STAGES, { stages }))).toEqual(["PERMISSION_DENIED"]);
    expect((await gql(reader, STAGES)).data.leadStages).toHaveLength(6);
  });
});
