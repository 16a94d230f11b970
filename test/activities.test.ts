import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeveloperScope } from "../src/auth/scopes.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/wait.ts";

// Agent tasks: scheduled in GraphQL, run at their time by the job runner (follow_up drafts an
// email, qualification scores the lead and fills BANT, crm_sync says what it would export), with
// task.created / task.completed in the outbox, and read through GET /api/v1/activities[/:id].

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
/** The server's clock runs this far ahead of the wall clock: tests move time instead of waiting. */
let ahead = 0;
let server: TestServer;
let t: Tenant;
let other: Tenant;
let otherLead: string;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS, clock: () => new Date(Date.now() + ahead) });
  t = await seed(server.app).workspace("Tasks");
  other = await seed(server.app).workspace("Tasks other");
  otherLead = (await createLead(await key(["leads:write"], other), { name: "Other", email: `o-${randomUUID()}@example.com` })).id;
});
afterAll(() => server?.stop());

const { callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;

/** A fresh key per use: developer keys have 30 writes and 100 reads a minute. */
async function key(scopes: DeveloperScope[] = ["leads:read", "leads:write", "tasks:read"], tenant: Tenant = t, memberId?: string) {
  return (await tenant.developerKey(scopes, memberId)).secret;
}

async function createLead(k: string, input: Record<string, unknown>): Promise<{ id: string }> {
  const res = await gql(k, `mutation ($input: CreateLeadInput!) { createLead(input: $input) { id } }`, { input });
  expect(res.errors).toBeUndefined();
  return res.data.createLead;
}

/** A lead linked to a conversation with these visitor messages. */
async function leadWithChat(messages: string[], fields: { name?: string; email?: string | null; phone?: string; title?: string } = {}) {
  const conversation = await t.conversation(
    messages.flatMap((content) => [
      { author: "visitor" as const, content },
      { author: "ai_assistant" as const, content: "Thanks, noted." },
    ]),
    fields.title ? { title: fields.title } : {},
  );
  const email = fields.email === undefined ? `lead-${randomUUID()}@example.com` : fields.email;
  const lead = await createLead(await key(), { name: fields.name ?? "Grace Hopper", ...(email ? { email } : {}), ...(fields.phone ? { phone: fields.phone } : {}), conversationId: conversation.id });
  return { leadId: lead.id, conversationId: conversation.id, email };
}

const SCHEDULE = `mutation ($leadId: ID!, $type: String!, $scheduledAt: String, $input: JSON) {
  scheduleActivity(leadId: $leadId, type: $type, scheduledAt: $scheduledAt, input: $input) {
    id type status leadId conversationId scheduledAt input execution { jobId attempts maxAttempts nextAttemptAt }
  }
}`;

async function schedule(leadId: string, type: string, extra: { scheduledAt?: string; input?: unknown } = {}, k?: string) {
  const res = await gql(k ?? (await key()), SCHEDULE, { leadId, type, ...extra });
  expect(res.errors).toBeUndefined();
  return res.data.scheduleActivity as { id: string; status: string; scheduledAt: string; conversationId: string | null; execution: { jobId: string } };
}

const settled = (id: string) =>
  until(`task ${id} to finish`, async () => {
    const row = await db().activity.findUnique({ where: { id } });
    return row && ["completed", "failed", "cancelled"].includes(row.status) ? row : null;
  });

const eventsOf = (type: string, activityId: string) =>
  db()
    .domainEvent.findMany({ where: { workspaceId: t.workspaceId, type }, orderBy: { createdAt: "asc" } })
    .then((rows) => rows.filter((e) => (e.payload as { activityId?: string }).activityId === activityId));

async function rest(path: string, k?: string) {
  return callJson(path, { token: k ?? (await key(["tasks:read"])) });
}

describe("running tasks", () => {
  it("qualification: scores the lead and fills BANT from its conversation; lead.updated and task.completed", async () => {
    const { leadId, conversationId } = await leadWithChat([
      "Hi, I'm the CEO of Initech.",
      "We need a support chatbot for our helpdesk.",
      "Our budget is around $3,000 per month and we want to go live next month.",
    ]);
    const task = await schedule(leadId, "qualification");
    expect(task).toMatchObject({ type: "qualification", status: "scheduled", conversationId });
    expect(await eventsOf("task.created", task.id)).toHaveLength(1);

    const done = await settled(task.id);
    expect(done.status).toBe("completed");
    const res = await rest(`/api/v1/activities/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: task.id,
      type: "qualification",
      status: "completed",
      leadId,
      error: null,
      result: {
        score: 89,
        previousScore: 0,
        method: "rules",
        bant: { budget: "around $3,000 per month", authority: "CEO", need: "a support chatbot for our helpdesk", timeline: "next month" },
        found: ["budget", "authority", "need", "timeline"],
      },
      lead: { id: leadId, name: "Grace Hopper" },
      execution: { jobId: task.execution.jobId, attempts: 1, maxAttempts: 3, nextAttemptAt: null, lastError: null },
    });
    expect(res.body.execution.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(res.body.startedAt)).toBeLessThanOrEqual(Date.parse(res.body.completedAt));

    const lead = await callJson(`/api/v1/leads/${leadId}`, { token: await key(["leads:read"]) });
    expect(lead.body).toMatchObject({ score: 89, bant: { authority: "CEO", timeline: "next month" } });
    expect(lead.body.activities.map((a: { id: string }) => a.id)).toContain(task.id);

    const [completed] = await eventsOf("task.completed", task.id);
    expect(completed!.payload).toMatchObject({ activityId: task.id, leadId, taskType: "qualification", activity: { status: "completed", result: { score: 89 } } });
    const updated = await db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: "lead.updated" } });
    const mine = updated.filter((e) => (e.payload as { leadId: string }).leadId === leadId);
    expect(mine.at(-1)!.payload).toMatchObject({ changes: expect.arrayContaining(["score", "bant.budget"]), previous: { score: 0, "bant.budget": null } });
  });

  it("follow_up: drafts an email to the lead from its name, the conversation's topic and the assistant's name", async () => {
    const { leadId, email } = await leadWithChat(["Do you have a plan for 20 agents?"], { name: "Ada Lovelace", title: "Team pricing" });
    const task = await schedule(leadId, "follow_up");
    const done = await settled(task.id);
    expect(done.status).toBe("completed");
    const result = done.result as { emailId: string; drafter: string; subject: string; to: string };
    expect(result).toMatchObject({ drafter: "template", subject: "Following up: Team pricing", to: email });

    const draft = await db().outboundEmail.findUniqueOrThrow({ where: { id: result.emailId } });
    expect(draft).toMatchObject({ leadId, status: "draft", draftedBy: "ai", activityId: task.id, kind: "lead_email", to: email });
    expect(draft.text).toContain("Hi Ada,");
    expect(draft.text).toContain("about Team pricing");
    expect(draft.text).toContain("The Tasks assistant team");

    const created = await db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: "email.draft_created" } });
    expect(created.map((e) => e.payload)).toContainEqual(expect.objectContaining({ emailId: draft.id, leadId, draftedBy: "ai", activityId: task.id }));
  });

  it("crm_sync: a visible no-op that says what it would export", async () => {
    const { leadId } = await leadWithChat(["hello"]);
    const task = await schedule(leadId, "crm_sync", { input: { target: "hubspot" } });
    const done = await settled(task.id);
    expect(done.status).toBe("completed");
    expect(done.result).toMatchObject({ exported: false, reason: expect.stringContaining("No CRM integration"), target: "hubspot", wouldExport: { id: leadId } });
  });

  it("a task that fails ends failed with the error (task.failed); a permanent failure is not retried", async () => {
    const { leadId } = await leadWithChat(["call me"], { email: null, phone: "+44 20 7946 0000" });
    const task = await schedule(leadId, "follow_up");
    const done = await settled(task.id);
    expect(done).toMatchObject({ status: "failed", error: "The lead has no email address to follow up" });
    const res = await rest(`/api/v1/activities/${task.id}`);
    expect(res.body).toMatchObject({ status: "failed", error: "The lead has no email address to follow up", execution: { attempts: 1, lastError: "The lead has no email address to follow up", nextAttemptAt: null } });
    expect(await eventsOf("task.failed", task.id)).toHaveLength(1);
    expect(await eventsOf("task.completed", task.id)).toHaveLength(0);
  });

  it("runs at its time, not before; a cancelled task never runs", async () => {
    const { leadId } = await leadWithChat(["Our budget is $900"]);
    const at = new Date(Date.now() + ahead + 3_600_000).toISOString();
    const later = await schedule(leadId, "qualification", { scheduledAt: at });
    const cancelled = await schedule(leadId, "crm_sync", { scheduledAt: at });
    expect(later).toMatchObject({ status: "scheduled", scheduledAt: at, execution: { nextAttemptAt: at } });
    // A task due now runs meanwhile; the later ones are still waiting after it.
    const now = await schedule(leadId, "crm_sync");
    expect((await settled(now.id)).status).toBe("completed");
    expect((await db().activity.findUniqueOrThrow({ where: { id: later.id } })).status).toBe("scheduled");

    const k = await key();
    const cancel = await gql(k, `mutation ($id: ID!) { cancelActivity(id: $id) { id status completedAt } }`, { id: cancelled.id });
    expect(cancel.errors).toBeUndefined();
    expect(cancel.data.cancelActivity.status).toBe("cancelled");
    expect(await eventsOf("task.cancelled", cancelled.id)).toHaveLength(1);
    const again = await gql(k, `mutation ($id: ID!) { cancelActivity(id: $id) { id } }`, { id: cancelled.id });
    expect(errorCodes(again)).toEqual(["CONFLICT"]);

    ahead += 2 * 3_600_000;
    server.app.runtime.jobs.wake();
    const ran = await settled(later.id);
    expect(ran.status).toBe("completed");
    expect(ran.startedAt!.getTime()).toBeGreaterThanOrEqual(Date.parse(at));
    const job = await db().job.findUniqueOrThrow({ where: { id: cancelled.execution.jobId } });
    await until("the cancelled task's job", async () => (await db().job.findUniqueOrThrow({ where: { id: job.id } })).status === "succeeded");
    expect((await db().activity.findUniqueOrThrow({ where: { id: cancelled.id } })).status).toBe("cancelled");
    expect(await eventsOf("task.completed", cancelled.id)).toHaveLength(0);
    const running = await gql(k, `mutation ($id: ID!) { cancelActivity(id: $id) { id } }`, { id: later.id });
    expect(errorCodes(running)).toEqual(["CONFLICT"]);
  });

  it("GraphQL reads tasks, and the lead's task history", async () => {
    const { leadId } = await leadWithChat(["hi"]);
    const task = await schedule(leadId, "crm_sync");
    await settled(task.id);
    const k = await key(["leads:read", "tasks:read"]);
    const res = await gql(
      k,
      `query ($id: ID!, $leadId: ID!) {
        activity(id: $id) { id status result execution { attempts } lead { id name } }
        activities(leadId: $leadId, first: 5) { totalCount nodes { id type } }
        lead(id: $leadId) { activities { id type status } }
      }`,
      { id: task.id, leadId },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.activity).toMatchObject({ id: task.id, status: "completed", result: { exported: false }, execution: { attempts: 1 }, lead: { id: leadId, name: "Grace Hopper" } });
    expect(res.data.activities).toEqual({ totalCount: 1, nodes: [{ id: task.id, type: "crm_sync" }] });
    expect(res.data.lead.activities).toEqual([{ id: task.id, type: "crm_sync", status: "completed" }]);
  });
});

describe("scenario tokens (GraphQL operators)", () => {
  it("a write_all token schedules tasks for its widget's leads; read_all reads only those", async () => {
    const mine = await createLead(await key(), { name: "Widget Lead", email: `w-${randomUUID()}@example.com`, widgetId: t.scenarioId });
    const elsewhere = await createLead(await key(), { name: "No Widget", email: `n-${randomUUID()}@example.com` });
    const writer = (await t.token("write_all")).secret;
    const task = await schedule(mine.id, "crm_sync", {}, writer);
    expect(errorCodes(await gql(writer, SCHEDULE, { leadId: elsewhere.id, type: "crm_sync" }))).toEqual(["NOT_FOUND"]);
    const hidden = await schedule(elsewhere.id, "crm_sync");
    const reader = (await t.token("read_all")).secret;
    expect(errorCodes(await gql(reader, SCHEDULE, { leadId: mine.id, type: "crm_sync" }))).toEqual(["PERMISSION_DENIED"]);
    const res = await gql(reader, `{ activities(first: 100) { nodes { id } } }`);
    const ids = res.data.activities.nodes.map((n: { id: string }) => n.id);
    expect(ids).toContain(task.id);
    expect(ids).not.toContain(hidden.id);
    expect(errorCodes(await gql(reader, `query ($id: ID!) { activity(id: $id) { id } }`, { id: hidden.id }))).toEqual(["NOT_FOUND"]);
  });
});

describe("GET /api/v1/activities", () => {
  it("filters by leadId, status, type and updatedSince, and pages with limit/offset", async () => {
    const { leadId } = await leadWithChat(["hello"]);
    const a = await schedule(leadId, "crm_sync");
    const b = await schedule(leadId, "qualification");
    await settled(a.id);
    await settled(b.id);
    const future = await schedule(leadId, "crm_sync", { scheduledAt: new Date(Date.now() + ahead + 86_400_000).toISOString() });
    const k = await key(["tasks:read"]);

    const all = await rest(`/api/v1/activities?leadId=${leadId}`, k);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ offset: 0, limit: 10, count: 3 });
    expect(all.body.items.map((i: { id: string }) => i.id).sort()).toEqual([a.id, b.id, future.id].sort());
    expect(all.body.items[0]).toEqual({
      id: expect.any(String),
      type: expect.any(String),
      status: expect.any(String),
      leadId,
      conversationId: expect.any(String),
      assignedTo: null,
      scheduledAt: expect.any(String),
      startedAt: expect.toBeOneOf([null, expect.any(String)]),
      completedAt: expect.toBeOneOf([null, expect.any(String)]),
      input: expect.any(Object),
      result: expect.toBeOneOf([null, expect.any(Object)]),
      error: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    expect((await rest(`/api/v1/activities?leadId=${leadId}&status=scheduled`, k)).body.items.map((i: { id: string }) => i.id)).toEqual([future.id]);
    expect((await rest(`/api/v1/activities?leadId=${leadId}&type=qualification`, k)).body.items.map((i: { id: string }) => i.id)).toEqual([b.id]);
    const page = await rest(`/api/v1/activities?leadId=${leadId}&limit=2&offset=2`, k);
    expect(page.body).toMatchObject({ offset: 2, limit: 2, count: 3 });
    expect(page.body.items).toHaveLength(1);

    const since = (await db().activity.findUniqueOrThrow({ where: { id: future.id } })).updatedAt.toISOString();
    const synced = await rest(`/api/v1/activities?leadId=${leadId}&updatedSince=${encodeURIComponent(since)}`, k);
    expect(synced.body.items.map((i: { id: string }) => i.id)).toContain(future.id);
    const updatedAts = synced.body.items.map((i: { updatedAt: string }) => Date.parse(i.updatedAt));
    expect(updatedAts).toEqual([...updatedAts].sort((x, y) => x - y));
    expect(updatedAts.every((u: number) => u >= Date.parse(since))).toBe(true);

    // Another workspace's lead matches nothing.
    expect((await rest(`/api/v1/activities?leadId=${otherLead}`, k)).body).toMatchObject({ items: [], count: 0 });
  });
});

describe("bad input changes nothing", () => {
  let leadId: string;
  let activityId: string;
  beforeAll(async () => {
    leadId = (await leadWithChat(["hi"])).leadId;
    activityId = (await schedule(leadId, "crm_sync")).id;
  });
  const count = () => db().activity.count({ where: { workspaceId: t.workspaceId } });

  it.each([
    ["an unknown type", { type: "cold_call" }, "Unknown activity type"],
    ["an email task (made by approval only)", { type: "email" }, "approveAndSendLeadEmail"],
    ["scheduledAt that is not ISO 8601", { scheduledAt: "tomorrow at noon" }, "ISO 8601"],
    ["scheduledAt without a time zone", { scheduledAt: "2026-05-01T10:00:00" }, "ISO 8601"],
    ["an impossible date", { scheduledAt: "2026-02-30T10:00:00Z" }, "ISO 8601"],
    ["scheduledAt more than a year ahead", { scheduledAt: "2099-01-01T00:00:00Z" }, "within a year"],
    ["an unknown input field", { input: { instructions: "hi", tone: "warm" } }, "tone"],
    ["input that is not an object", { input: "call them" }, "input"],
  ])("%s → VALIDATION_ERROR (422)", async (_what, change, message) => {
    const before = await count();
    const res = await gql(await key(), SCHEDULE, { leadId, type: "follow_up", ...change });
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
    expect(res.errors![0]!.message).toContain(message);
    expect(await count()).toBe(before);
  });

  it("an unknown lead, or another workspace's, is NOT_FOUND", async () => {
    const before = await count();
    for (const id of [randomUUID(), "not-a-uuid", otherLead]) {
      expect(errorCodes(await gql(await key(), SCHEDULE, { leadId: id, type: "qualification" }))).toEqual(["NOT_FOUND"]);
    }
    expect(await count()).toBe(before);
  });

  it("scheduling needs leads:write; reading needs tasks:read", async () => {
    const res = await gql(await key(["leads:read", "tasks:read"]), SCHEDULE, { leadId, type: "qualification" });
    expect(errorCodes(res)).toEqual(["PERMISSION_DENIED"]);
    expect(res.errors![0]!.message).toBe("Insufficient scope. Required: leads:write");
    const read = await gql(await key(["leads:read"]), `{ activities(first: 1) { totalCount } }`);
    expect(errorCodes(read)).toEqual(["PERMISSION_DENIED"]);
  });

  it("REST: a key without tasks:read → 403, a wrong or missing key → 401", async () => {
    const noScope = await callJson(`/api/v1/activities`, { token: await key(["leads:read", "leads:write"]) });
    expect(noScope).toMatchObject({ status: 403, body: { error: "Insufficient scope. Required: tasks:read" } });
    expect((await callJson(`/api/v1/activities/${activityId}`, { token: await key(["leads:read"]) })).status).toBe(403);
    for (const token of ["cw_dev_wrong", "", (await t.token("read_all")).secret]) {
      const res = await callJson(`/api/v1/activities`, { token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: expect.any(String) });
    }
  });

  it("REST: another workspace's activity, or an unknown id → 404", async () => {
    const k = await key(["tasks:read"], other);
    expect(await callJson(`/api/v1/activities/${activityId}`, { token: k })).toMatchObject({ status: 404, body: { error: "Activity not found" } });
    expect((await callJson(`/api/v1/activities/${randomUUID()}`, { token: k })).status).toBe(404);
    expect((await callJson(`/api/v1/activities/nope`, { token: k })).status).toBe(404);
    expect(errorCodes(await gql(k, `query ($id: ID!) { activity(id: $id) { id } }`, { id: activityId }))).toEqual(["NOT_FOUND"]);
    const cancel = await gql(await key(["leads:write"], other), `mutation ($id: ID!) { cancelActivity(id: $id) { id } }`, { id: activityId });
    expect(errorCodes(cancel)).toEqual(["NOT_FOUND"]);
  });

  it.each([
    ["updatedSince=yesterday", 400, "updatedSince must be an ISO 8601 date-time"],
    ["updatedSince=2026-01-15", 400, "updatedSince must be an ISO 8601 date-time"],
    ["limit=0", 400, "limit"],
    ["limit=101", 400, "limit"],
    ["offset=-1", 400, "offset"],
    ["status=done", 422, "status must be one of"],
    ["type=cold_call", 422, "Unknown activity type"],
  ])("REST: %s → %s", async (query, status, message) => {
    const res = await rest(`/api/v1/activities?${query}`);
    expect(res.status).toBe(status);
    expect(res.body.error).toContain(message);
  });

  it("GraphQL: updatedSince not ISO 8601 → VALIDATION_ERROR", async () => {
    const res = await gql(await key(), `{ activities(first: 1, updatedSince: "last week") { totalCount } }`);
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
  });
});
