import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeveloperScope } from "../src/auth/scopes.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startSmtpStub, type SmtpStub } from "./helpers/smtp-stub.ts";
import { until } from "./helpers/wait.ts";

// Emails to leads: drafts written in GraphQL or by a follow_up task (email.draft_created), edited
// or discarded while drafts, approved by an operator (recorded) and sent over SMTP through the
// email outbox job (email.sent), kept on the lead; without SMTP they stay in the outbox.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const FROM = "Acme Sales <sales@test.example>";
let smtp: SmtpStub;
let server: TestServer;
let t: Tenant;
let other: Tenant;
let operator: { id: string };

beforeAll(async () => {
  smtp = await startSmtpStub();
  server = await startServer({ jobs: JOBS }, { SMTP_URL: smtp.url, SMTP_FROM: FROM });
  t = await seed(server.app).workspace("Mail");
  other = await seed(server.app).workspace("Mail other");
  operator = await t.member("Olivia Operator");
});
afterAll(async () => {
  await server?.stop();
  await smtp?.stop();
});

const { gql } = http(() => server);
const db = () => server.app.runtime.db;

const WRITE: DeveloperScope[] = ["leads:read", "leads:write", "tasks:read"];
/** A fresh key per use (30 writes a minute per key), bound to the operator unless told otherwise. */
const key = async (scopes: DeveloperScope[] = WRITE, memberId: string | null = operator.id, tenant: Tenant = t) =>
  (await tenant.developerKey(scopes, memberId ?? undefined)).secret;

async function newLead(fields: Record<string, unknown> = {}, tenant: Tenant = t): Promise<{ id: string; email: string }> {
  const email = `lead-${randomUUID()}@example.com`;
  const res = await gql(await key(WRITE, null, tenant), `mutation ($input: CreateLeadInput!) { createLead(input: $input) { id email } }`, {
    input: { name: "Linus Lead", email, ...fields },
  });
  expect(res.errors).toBeUndefined();
  return res.data.createLead;
}

const EMAIL_FIELDS = `id leadId status to subject text draftedBy draftedByMember { id name } approvedBy { id name } approvedAt sentAt activityId kind`;

async function draft(leadId: string, subject = "Your quote", text = "Hello Linus, here is your quote.") {
  const res = await gql(await key(), `mutation ($leadId: ID!, $subject: String!, $text: String!) { createLeadEmailDraft(leadId: $leadId, subject: $subject, text: $text) { ${EMAIL_FIELDS} } }`, {
    leadId,
    subject,
    text,
  });
  expect(res.errors).toBeUndefined();
  return res.data.createLeadEmailDraft;
}

const approve = async (id: string, k?: string) =>
  gql(k ?? (await key()), `mutation ($id: ID!) { approveAndSendLeadEmail(id: $id) { ${EMAIL_FIELDS} } }`, { id });

const sent = (id: string) =>
  until(`email ${id} to be sent`, async () => {
    const row = await db().outboundEmail.findUnique({ where: { id } });
    return row && (row.status === "sent" || row.status === "failed") ? row : null;
  });

const eventsOf = async (type: string, emailId: string) =>
  (await db().domainEvent.findMany({ where: { type }, orderBy: { createdAt: "asc" } })).filter((e) => (e.payload as { emailId?: string }).emailId === emailId);

describe("drafts written in GraphQL", () => {
  it("draft → edit → approve: sent over SMTP from SMTP_FROM, approver recorded, email.sent, stored on the lead", async () => {
    const lead = await newLead();
    const d = await draft(lead.id);
    expect(d).toMatchObject({ leadId: lead.id, status: "draft", to: lead.email, draftedBy: "member", draftedByMember: { id: operator.id }, approvedBy: null, kind: "lead_email" });
    expect(await eventsOf("email.draft_created", d.id)).toHaveLength(1);

    const edit = await gql(await key(), `mutation ($id: ID!) { updateLeadEmailDraft(id: $id, subject: "Your quote for 20 seats") { subject text status } }`, { id: d.id });
    expect(edit.errors).toBeUndefined();
    expect(edit.data.updateLeadEmailDraft).toEqual({ subject: "Your quote for 20 seats", text: "Hello Linus, here is your quote.", status: "draft" });

    const res = await approve(d.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.approveAndSendLeadEmail).toMatchObject({ status: "queued", approvedBy: { id: operator.id, name: "Olivia Operator" } });
    expect(res.data.approveAndSendLeadEmail.approvedAt).toEqual(expect.any(String));

    const row = await sent(d.id);
    expect(row).toMatchObject({ status: "sent", attempts: 1, error: null });
    const mail = smtp.messages.find((m) => m.to.includes(lead.email))!;
    expect(mail).toMatchObject({ from: "sales@test.example", subject: "Your quote for 20 seats" });
    expect(mail.text).toContain("Hello Linus, here is your quote.");
    const [event] = await eventsOf("email.sent", d.id);
    expect(event!.payload).toMatchObject({ emailId: d.id, leadId: lead.id, status: "sent", to: lead.email, approvedByMemberId: operator.id });

    // The send is a task in the lead's history, completed by the send job.
    const task = await until("the email task", async () => {
      const a = await db().activity.findFirst({ where: { leadId: lead.id, type: "email" } });
      return a?.status === "completed" ? a : null;
    });
    expect(task.result).toMatchObject({ sent: true, emailId: d.id, to: lead.email });
    expect(task.assignedMemberId).toBe(operator.id);
    expect((await db().domainEvent.findMany({ where: { type: "task.completed" } })).some((e) => (e.payload as { activityId: string }).activityId === task.id)).toBe(true);

    const k = await key(["leads:read"]);
    const onLead = await gql(k, `query ($id: ID!) { lead(id: $id) { emails { id status sentAt } } leadEmails(leadId: $id, status: "sent") { totalCount nodes { id } } }`, { id: lead.id });
    expect(onLead.errors).toBeUndefined();
    expect(onLead.data.lead.emails).toEqual([{ id: d.id, status: "sent", sentAt: expect.any(String) }]);
    expect(onLead.data.leadEmails).toEqual({ totalCount: 1, nodes: [{ id: d.id }] });

    const audit = await db().auditEntry.findFirst({ where: { action: "lead_email.approved", memberId: operator.id } });
    expect(audit?.details).toMatchObject({ emailId: d.id, leadId: lead.id });
  });

  it("a refusing SMTP server is tried again until it accepts", async () => {
    const lead = await newLead();
    const d = await draft(lead.id, "Retry me");
    const refusedBefore = smtp.refused;
    smtp.refuseNext(2);
    expect((await approve(d.id)).errors).toBeUndefined();
    expect(await sent(d.id)).toMatchObject({ status: "sent", attempts: 3 });
    expect(smtp.refused - refusedBefore).toBe(2);
    expect(await eventsOf("email.sent", d.id)).toHaveLength(1);
  });

  it("after the last refused try the email and its task are failed, without email.sent", async () => {
    const lead = await newLead();
    const d = await draft(lead.id, "Doomed");
    smtp.refuseNext(5);
    expect((await approve(d.id)).errors).toBeUndefined();
    const row = await sent(d.id);
    expect(row).toMatchObject({ status: "failed", attempts: 5 });
    expect(row.error).toContain("Mailbox temporarily unavailable");
    const task = await until("the failed task", async () => {
      const a = await db().activity.findFirst({ where: { leadId: lead.id, type: "email" } });
      return a?.status === "failed" ? a : null;
    });
    expect(task.error).toContain("Mailbox temporarily unavailable");
    expect(await eventsOf("email.sent", d.id)).toHaveLength(0);
  });

  it("discarding keeps the draft on the lead, as discarded; it can no longer be edited or approved (409)", async () => {
    const lead = await newLead();
    const d = await draft(lead.id);
    const k = await key();
    const res = await gql(k, `mutation ($id: ID!) { discardLeadEmailDraft(id: $id) { status } }`, { id: d.id });
    expect(res.data.discardLeadEmailDraft).toEqual({ status: "discarded" });
    expect(await eventsOf("email.draft_discarded", d.id)).toHaveLength(1);
    expect(errorCodes(await approve(d.id, k))).toEqual(["CONFLICT"]);
    expect(errorCodes(await gql(k, `mutation ($id: ID!) { updateLeadEmailDraft(id: $id, text: "x") { id } }`, { id: d.id }))).toEqual(["CONFLICT"]);
    expect(errorCodes(await gql(k, `mutation ($id: ID!) { discardLeadEmailDraft(id: $id) { id } }`, { id: d.id }))).toEqual(["CONFLICT"]);
    expect((await db().outboundEmail.findUniqueOrThrow({ where: { id: d.id } })).status).toBe("discarded");
  });
});

describe("AI drafts from follow_up tasks", () => {
  it("the task's draft waits for approval, then goes out", async () => {
    const lead = await newLead({ name: "Marie Curie", widgetId: t.scenarioId });
    const k = await key();
    const task = await gql(k, `mutation ($leadId: ID!) { scheduleActivity(leadId: $leadId, type: "follow_up") { id } }`, { leadId: lead.id });
    expect(task.errors).toBeUndefined();
    const taskId = task.data.scheduleActivity.id;
    const drafted = await until("the AI draft", async () => db().outboundEmail.findFirst({ where: { leadId: lead.id, activityId: taskId } }));
    expect(drafted).toMatchObject({ status: "draft", draftedBy: "ai", draftedByMemberId: null });
    expect(smtp.messages.some((m) => m.to.includes(lead.email))).toBe(false);

    const list = await gql(k, `query ($id: ID!) { leadEmails(leadId: $id, status: "draft") { nodes { id draftedBy activityId } } }`, { id: lead.id });
    expect(list.data.leadEmails.nodes).toEqual([{ id: drafted.id, draftedBy: "ai", activityId: taskId }]);

    expect((await approve(drafted.id)).errors).toBeUndefined();
    await sent(drafted.id);
    const mail = smtp.messages.find((m) => m.to.includes(lead.email))!;
    expect(mail.text).toContain("Hi Marie,");
    expect(mail.text).toContain("The Mail assistant team");
  });
});

describe("bad input changes nothing", () => {
  let lead: { id: string; email: string };
  let d: { id: string };
  beforeAll(async () => {
    lead = await newLead();
    d = await draft(lead.id);
  });
  const count = () => db().outboundEmail.count({ where: { workspaceId: t.workspaceId } });
  const CREATE = `mutation ($leadId: ID!, $subject: String!, $text: String!) { createLeadEmailDraft(leadId: $leadId, subject: $subject, text: $text) { id } }`;

  it.each([
    ["a blank subject", { subject: "  " }, "subject: must not be blank"],
    ["a subject over 200 characters", { subject: "x".repeat(201) }, "subject: must be at most 200 characters"],
    ["a blank text", { text: "" }, "text: must not be blank"],
  ])("createLeadEmailDraft with %s → VALIDATION_ERROR", async (_what, change, message) => {
    const before = await count();
    const res = await gql(await key(), CREATE, { leadId: lead.id, subject: "Hi", text: "Hello", ...change });
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
    expect(res.errors![0]!.message).toBe(message);
    expect(await count()).toBe(before);
  });

  it("a lead without an email address → VALIDATION_ERROR", async () => {
    const phoneOnly = await gql(await key(), `mutation { createLead(input: { name: "No Mail", phone: "+1 415 555 0100" }) { id } }`);
    const res = await gql(await key(), CREATE, { leadId: phoneOnly.data.createLead.id, subject: "Hi", text: "Hello" });
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
  });

  it("updateLeadEmailDraft with nothing to change → VALIDATION_ERROR", async () => {
    const res = await gql(await key(), `mutation ($id: ID!) { updateLeadEmailDraft(id: $id) { id } }`, { id: d.id });
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
  });

  it("an unknown lead or email, or another workspace's → NOT_FOUND", async () => {
    const foreignLead = await newLead({}, other);
    for (const leadId of [randomUUID(), foreignLead.id]) {
      expect(errorCodes(await gql(await key(), CREATE, { leadId, subject: "Hi", text: "Hello" }))).toEqual(["NOT_FOUND"]);
    }
    const foreign = await key(WRITE, null, other);
    expect(errorCodes(await approve(d.id, foreign))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(foreign, `mutation ($id: ID!) { discardLeadEmailDraft(id: $id) { id } }`, { id: d.id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(foreign, `query ($id: ID!) { leadEmails(leadId: $id) { totalCount } }`, { id: lead.id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await approve(randomUUID()))).toEqual(["NOT_FOUND"]);
    expect((await db().outboundEmail.findUniqueOrThrow({ where: { id: d.id } })).status).toBe("draft");
  });

  it("a key without leads:write → PERMISSION_DENIED; a wrong key → 401", async () => {
    const reader = await key(["leads:read", "tasks:read"]);
    expect(errorCodes(await gql(reader, CREATE, { leadId: lead.id, subject: "Hi", text: "Hello" }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await approve(d.id, reader))).toEqual(["PERMISSION_DENIED"]);
    const wrong = await http(() => server).graphql(`mutation ($id: ID!) { approveAndSendLeadEmail(id: $id) { id } }`, { auth: "cw_dev_wrong", variables: { id: d.id } });
    expect(wrong.status).toBe(401);
    expect((await db().outboundEmail.findUniqueOrThrow({ where: { id: d.id } })).status).toBe("draft");
  });

  it("an external agent cannot approve (PERMISSION_DENIED), though it may draft", async () => {
    const agent = await t.member("OpenClaw", "external_agent");
    const k = await key(WRITE, agent.id);
    const res = await approve(d.id, k);
    expect(errorCodes(res)).toEqual(["PERMISSION_DENIED"]);
    expect(res.errors![0]!.message).toContain("human operator");
    expect((await gql(k, CREATE, { leadId: lead.id, subject: "Hi", text: "Hello" })).errors).toBeUndefined();
    expect((await db().outboundEmail.findUniqueOrThrow({ where: { id: d.id } })).status).toBe("draft");
  });

  it("approving an email that is not a draft → CONFLICT (409)", async () => {
    const e = await draft(lead.id, "Once");
    expect((await approve(e.id)).errors).toBeUndefined();
    const again = await approve(e.id);
    expect(errorCodes(again)).toEqual(["CONFLICT"]);
    expect(again.errors![0]!.message).toMatch(/^Only a draft can be approved; this email is (queued|sent)$/);
    await sent(e.id);
    expect(await db().activity.count({ where: { leadId: lead.id, type: "email" } })).toBe(1);
  });
});

describe("without SMTP", () => {
  it("an approved lead email waits in the outbox; no email.sent; its task says so", async () => {
    const bare = await startServer({ jobs: JOBS });
    try {
      const tenant = await seed(bare.app).workspace("No SMTP");
      const k = (await tenant.developerKey(WRITE)).secret;
      const { gql: q } = http(() => bare);
      const lead = await q(k, `mutation { createLead(input: { name: "Out Box", email: "outbox@example.com" }) { id } }`);
      const d = await q(k, `mutation ($id: ID!) { createLeadEmailDraft(leadId: $id, subject: "Hi", text: "Hello") { id } }`, { id: lead.data.createLead.id });
      expect((await q(k, `mutation ($id: ID!) { approveAndSendLeadEmail(id: $id) { status approvedBy { id } } }`, { id: d.data.createLeadEmailDraft.id })).data).toEqual({
        approveAndSendLeadEmail: { status: "queued", approvedBy: null },
      });
      const id = d.data.createLeadEmailDraft.id;
      await until("the outbox", async () => (await bare.app.runtime.db.outboundEmail.findUnique({ where: { id } }))?.status === "outbox");
      const task = await until("the task", async () => {
        const a = await bare.app.runtime.db.activity.findFirst({ where: { type: "email" } });
        return a?.status === "completed" ? a : null;
      });
      expect(task.result).toMatchObject({ sent: false, status: "outbox" });
      expect(await bare.app.runtime.db.domainEvent.count({ where: { type: "email.sent" } })).toBe(0);
      // The outbox holds what goes out: not the drafts still waiting for approval.
      const waiting = await q(k, `mutation ($id: ID!) { createLeadEmailDraft(leadId: $id, subject: "Later", text: "Not yet") { id } }`, { id: lead.data.createLead.id });
      const admin = (await tenant.developerKey(["workspace:admin"])).secret;
      const outbox = await q(admin, `{ outbox(first: 10) { totalCount nodes { id status kind } } }`);
      expect(outbox.data.outbox).toEqual({ totalCount: 1, nodes: [{ id, status: "outbox", kind: "lead_email" }] });
      const onLead = await q(k, `query ($id: ID!) { leadEmails(leadId: $id) { nodes { id status } } }`, { id: lead.data.createLead.id });
      expect(onLead.data.leadEmails.nodes).toEqual([
        { id: waiting.data.createLeadEmailDraft.id, status: "draft" },
        { id, status: "outbox" },
      ]);
    } finally {
      await bare.stop();
    }
  });
});
