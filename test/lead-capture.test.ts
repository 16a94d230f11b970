import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emailIn, phoneIn } from "../src/services/lead-capture.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { until } from "./helpers/wait.ts";

// Leads captured from conversations: the site-key create call's name and email, the pre-chat
// form's fields, an email or phone number the visitor types; one lead per person; the captured
// lead then moves through the pipeline with lead.stage_changed carrying previousStage.

let server: TestServer;
let t: Tenant;
let other: Tenant;
let reader: string;
let writer: string;
let legacy: string;

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Capture");
  other = await seed(server.app).workspace("Capture other");
  reader = (await t.developerKey(["leads:read"])).secret;
  writer = (await t.developerKey(["leads:read", "leads:write"])).secret;
  legacy = (await t.legacyKey()).secret;
});
afterAll(() => server?.stop());

const { callJson } = http(() => server);
const db = () => server.app.runtime.db;

/** A site-key conversation; each call its own widget key (the create route allows 5 per minute per key). */
async function startSiteConversation(body: Record<string, unknown>, tenant: Tenant = t) {
  const site = (await tenant.widgetKey()).secret;
  const visitorToken = `v-${randomUUID()}`;
  const res = await callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Ada Lovelace", message: "Hello there", visitor_token: visitorToken, ...body },
  });
  return { res, site, visitorToken, conversationId: res.body?.conversation_token as string };
}

async function leadsOf(query = "") {
  const res = await callJson(`/api/v1/leads?limit=100${query}`, { token: reader });
  expect(res.status).toBe(200);
  return res.body.items as any[];
}

const leadOfConversation = async (conversationId: string) => (await leadsOf()).find((l) => l.conversationIds.includes(conversationId));

const eventsOf = (leadId: string) =>
  db().domainEvent.findMany({ where: { workspaceId: t.workspaceId, type: { startsWith: "lead." } }, orderBy: { createdAt: "asc" } }).then((rows) =>
    rows.filter((e) => (e.payload as { leadId?: string }).leadId === leadId),
  );

describe("capture from the site-key create call", () => {
  it("creates a lead with the name and email, the widget and the conversation, in the first stage; lead.created", async () => {
    const email = `ada-${randomUUID()}@example.com`;
    const { res, conversationId } = await startSiteConversation({ email });
    expect(res.status).toBe(201);
    const lead = await leadOfConversation(conversationId);
    expect(lead).toMatchObject({
      name: "Ada Lovelace",
      email,
      phone: null,
      company: null,
      widgetId: t.scenarioId,
      stage: "new",
      temperature: "cold",
      score: 0,
      tags: [],
      source: "site_key",
      conversationIds: [conversationId],
      assignedTo: null,
    });
    const events = await eventsOf(lead.id);
    expect(events.map((e) => e.type)).toEqual(["lead.created"]);
    expect(events[0]!.payload).toMatchObject({ leadId: lead.id, lead: { email, source: "site_key", stage: "new" } });
  });

  it("the same person in a second conversation: the same lead, both conversations, lead.updated", async () => {
    const email = `repeat-${randomUUID()}@example.com`;
    const first = await startSiteConversation({ email });
    const between = new Date().toISOString();
    const second = await startSiteConversation({ email: email.toUpperCase(), name: "Ada L." });
    // The new link is a change: an updatedSince reader sees the lead again.
    const since = (await leadsOf(`&updatedSince=${encodeURIComponent(between)}`)).filter((l) => l.email?.toLowerCase() === email);
    expect(since).toHaveLength(1);
    const leads = (await leadsOf()).filter((l) => l.email?.toLowerCase() === email);
    expect(leads).toHaveLength(1);
    expect(leads[0].conversationIds).toEqual([first.conversationId, second.conversationId]);
    expect(leads[0].name).toBe("Ada Lovelace");
    const events = await eventsOf(leads[0].id);
    expect(events.map((e) => e.type)).toEqual(["lead.created", "lead.updated"]);
    expect(events[1]!.payload).toMatchObject({ changes: ["conversationIds"] });
  });

  it("another workspace's visitor with the same email gets a lead of its own workspace", async () => {
    const email = `shared-${randomUUID()}@example.com`;
    const mine = await startSiteConversation({ email });
    const theirs = await startSiteConversation({ email }, other);
    expect(theirs.res.status).toBe(201);
    const lead = await leadOfConversation(mine.conversationId);
    expect(lead.conversationIds).toEqual([mine.conversationId]);
    const foreign = await db().lead.findMany({ where: { workspaceId: other.workspaceId, email } });
    expect(foreign).toHaveLength(1);
    expect(foreign[0]!.id).not.toBe(lead.id);
  });
});

describe("capture from the pre-chat form", () => {
  it("takes phone and company from prechat (source prechat); the conversation keeps the phone", async () => {
    const email = `pre-${randomUUID()}@example.com`;
    const { res, conversationId } = await startSiteConversation({ email, prechat: { phone: "+44 20 7946 0958", company: "Analytical Engines Ltd", plan: "pro" } });
    expect(res.status).toBe(201);
    const lead = await leadOfConversation(conversationId);
    expect(lead).toMatchObject({ email, phone: "+44 20 7946 0958", company: "Analytical Engines Ltd", source: "prechat", name: "Ada Lovelace" });
    const conversation = await callJson(`/api/v1/conversations/${conversationId}`, { token: (await t.developerKey(["conversations:read"])).secret });
    expect(conversation.body.visitor).toEqual({ name: "Ada Lovelace", email, phone: "+44 20 7946 0958" });
  });

  it("refuses a malformed pre-chat form with 422 and creates nothing", async () => {
    const before = await db().conversation.count({ where: { scenarioId: t.scenarioId } });
    const leadsBefore = await db().lead.count({ where: { workspaceId: t.workspaceId } });
    const email = `bad-pre-${randomUUID()}@example.com`;
    const badPhone = await startSiteConversation({ email, prechat: { phone: "call me" } });
    expect(badPhone.res).toMatchObject({ status: 422, body: { error: "prechat.phone: Invalid phone number" } });
    const notObject = await startSiteConversation({ email, prechat: "phone: 123" });
    expect(notObject.res).toMatchObject({ status: 422, body: { error: "prechat: prechat must be an object" } });
    expect(await db().conversation.count({ where: { scenarioId: t.scenarioId } })).toBe(before);
    expect(await db().lead.count({ where: { workspaceId: t.workspaceId } })).toBe(leadsBefore);
  });
});

describe("capture from what the visitor types", () => {
  it("an email typed into POST /chat (no visitor details) creates a typed lead", async () => {
    const email = `typed-${randomUUID()}@example.org`;
    const res = await callJson("/chat", { method: "POST", body: { api_key: legacy, scenario_id: t.scenarioId, text: `Please write to ${email}.` } });
    expect(res.status).toBe(200);
    const lead = await leadOfConversation(res.body.conv_id);
    expect(lead).toMatchObject({ email, phone: null, name: null, source: "typed", widgetId: t.scenarioId, stage: "new" });
  });

  it("a phone number typed in a site-key conversation completes its lead (lead.updated), once", async () => {
    const email = `phone-${randomUUID()}@example.com`;
    const { conversationId, visitorToken, site } = await startSiteConversation({ email });
    const lead = await leadOfConversation(conversationId);
    const reply = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, {
      method: "POST",
      token: site,
      body: { message: "You can call me on 555-123-4567 after five" },
    });
    expect(reply.status).toBe(201);
    const updated = await until("the phone on the lead", async () => {
      const l = await leadOfConversation(conversationId);
      return l.phone ? l : null;
    });
    expect(updated).toMatchObject({ id: lead.id, phone: "555-123-4567", email, source: "site_key" });
    const events = await eventsOf(lead.id);
    expect(events.map((e) => e.type)).toEqual(["lead.created", "lead.updated"]);
    expect(events[1]!.payload).toMatchObject({ changes: ["phone"], previous: { phone: null } });
  });

  it("messages without contact details, order numbers and dates create no lead", async () => {
    const before = await db().lead.count({ where: { workspaceId: t.workspaceId } });
    const first = await callJson("/chat", { method: "POST", body: { api_key: legacy, scenario_id: t.scenarioId, text: "Where is order 12345678?" } });
    expect(first.status).toBe(200);
    for (const text of ["It was placed on 2026-01-15.", "My invoice is #98765432", "Thanks, that's all"]) {
      const res = await callJson("/chat", { method: "POST", body: { api_key: legacy, scenario_id: t.scenarioId, text, conv_id: first.body.conv_id } });
      expect(res.status).toBe(200);
    }
    expect(await db().lead.count({ where: { workspaceId: t.workspaceId } })).toBe(before);
  });
});

describe("a captured lead moves through the pipeline", () => {
  it("new → contacted → qualified → won, each lead.stage_changed carrying previousStage", async () => {
    const email = `journey-${randomUUID()}@example.com`;
    const { conversationId } = await startSiteConversation({ email });
    const lead = await leadOfConversation(conversationId);
    for (const stage of ["contacted", "qualified", "won"]) {
      const res = await callJson(`/api/v1/leads/${lead.id}`, { method: "PATCH", token: writer, body: { stage } });
      expect(res.status).toBe(200);
      expect(res.body.stage).toBe(stage);
    }
    const changes = (await eventsOf(lead.id)).filter((e) => e.type === "lead.stage_changed").map((e) => e.payload as Record<string, unknown>);
    expect(changes.map((p) => [p.previousStage, p.stage])).toEqual([
      ["new", "contacted"],
      ["contacted", "qualified"],
      ["qualified", "won"],
    ]);
  });
});

describe("finding contact details in text", () => {
  it.each([
    ["mail me at jane.doe+work@example.co.uk.", "jane.doe+work@example.co.uk", null],
    ["call +1 (415) 555-0100 please", null, "+1 (415) 555-0100"],
    ["my phone is 4155550100", null, "4155550100"],
    ["order 4155550100 is late", null, null],
    ["on 2026-01-15 or 15/01/2026", null, null],
    ["version 1.2.3", null, null],
    ["jane@example.com or 020 7946 0958", "jane@example.com", "020 7946 0958"],
  ])("%s", (text, email, phone) => {
    expect(emailIn(text)).toBe(email);
    expect(phoneIn(text)).toBe(phone);
  });
});
