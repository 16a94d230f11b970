import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { errorCodes } from "./helpers/http.ts";
import { CREATE_LEAD, REDELIVER, REDELIVER_FAILED, UPDATE, UPDATE_LEAD, headerMap, referenceVerifier, webhookHarness } from "./helpers/webhooks.ts";

// Webhook deliveries end to end: events from the public APIs (site-key chat, leads) reach a local
// receiver, signed so that the reference's verification snippet and the standardwebhooks package
// accept them; only the events asked for; the delivery log and manual redelivery with the same
// delivery id. Retries, 410 and redirects: webhooks-retries.test.ts.

const h = webhookHarness();

async function startConversation(message: string) {
  const site = (await h.tenant.widgetKey()).secret;
  const visitor = `visitor-${Math.random().toString(36).slice(2)}`;
  const res = await h.callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Jane Doe", email: `jane.${visitor}@example.com`, message, visitor_token: visitor },
  });
  expect(res.status).toBe(201);
  return { site, visitor, id: res.body.conversation_token as string };
}

describe("signed deliveries", () => {
  it("a visitor message through the site-key API arrives as conversation.message_received, signed, with the conversation's status", async () => {
    const { id: subscriptionId, secret } = await h.subscribe("/messages", ["conversation.message_received"]);
    h.receiver.on("/messages", referenceVerifier(secret));
    const conversation = await startConversation("Do you ship to Norway?");
    const [first] = await h.until("the first message", async () => h.receiver.hooks("/messages").length >= 1 && h.receiver.hooks("/messages"));
    expect(first!.body).toEqual({
      id: expect.any(String),
      type: "conversation.message_received",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: {
        conversationId: conversation.id,
        widgetId: h.tenant.scenarioId,
        status: "active",
        message: { id: expect.any(String), ord: expect.any(Number), author: "visitor", content: "Do you ship to Norway?", createdAt: expect.any(String) },
      },
    });
    const headers = first!.headers;
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["x-quincer-event"]).toBe("conversation.message_received");
    expect(headers["x-quincer-timestamp"]).toMatch(/^\d{10}$/);
    expect(headers["webhook-timestamp"]).toBe(headers["x-quincer-timestamp"]);
    // The reference's snippet accepted it (else 401), and so does the Standard Webhooks library.
    const [logged] = await h.until("the delivery to succeed", async () => {
      const list = await h.deliveries(subscriptionId, "succeeded");
      return list.length === 1 && list;
    });
    expect(logged!.attempts).toEqual([{ number: 1, at: expect.any(String), statusCode: 200, latencyMs: expect.any(Number), error: null }]);
    expect(headers["webhook-id"]).toBe(logged!.id);
    expect(new Webhook(secret).verify(first!.rawBody, headerMap(first!))).toEqual(first!.body);
    expect(logged!.payload).toEqual(first!.body);

    // An external agent takes over: the next visitor message says human_active.
    const agent = (await h.tenant.developerKey(["conversations:read", "conversations:takeover"])).secret;
    expect((await h.callJson(`/api/v1/conversations/${conversation.id}/takeover`, { method: "POST", token: agent })).status).toBe(200);
    const reply = await h.callJson(`/api/v1/chat/conversations/${conversation.visitor}/messages`, {
      method: "POST",
      token: conversation.site,
      body: { message: "Are you a human now?" },
    });
    expect(reply.status).toBeLessThan(300);
    const second = await h.until("the second message", async () => h.receiver.hooks("/messages").find((m) => m.body?.data.message.content === "Are you a human now?"));
    expect(second.body.data.status).toBe("human_active");
    expect(new Webhook(secret).verify(second.rawBody, headerMap(second))).toBeTruthy();
  });

  it("a tampered body or a wrong secret fails both verifications", async () => {
    const { secret } = await h.subscribe("/tamper", ["lead.created"]);
    await h.gql(CREATE_LEAD, { input: { name: "Tamper Test", email: "tamper@example.com" } });
    const [hook] = await h.until("the lead event", async () => h.receiver.hooks("/tamper").length >= 1 && h.receiver.hooks("/tamper"));
    const tampered = hook!.rawBody.replace("Tamper Test", "Tamper Best");
    const quincer = (body: string, key: string) => "sha256=" + createHmac("sha256", key).update(body).digest("hex");
    expect(hook!.headers["x-quincer-signature"]).toBe(quincer(hook!.rawBody, secret));
    expect(hook!.headers["x-quincer-signature"]).not.toBe(quincer(tampered, secret));
    expect(() => new Webhook(secret).verify(tampered, headerMap(hook!))).toThrow();
    const other = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    expect(() => new Webhook(other).verify(hook!.rawBody, headerMap(hook!))).toThrow();
  });

  it("lead events from the leads API: created, updated, stage_changed with previousStage", async () => {
    const { secret } = await h.subscribe("/leads", ["lead.created", "lead.updated", "lead.stage_changed"]);
    h.receiver.on("/leads", referenceVerifier(secret));
    const created = await h.gql(CREATE_LEAD, { input: { name: "Ada Lovelace", email: "ada@example.com" } });
    expect(created.errors).toBeUndefined();
    const leadId = created.data.createLead.id;
    const moved = await h.gql(UPDATE_LEAD, { id: leadId, input: { stage: "contacted" } });
    expect(moved.errors).toBeUndefined();
    const hooks = await h.until("three lead events", async () => h.receiver.hooks("/leads").length >= 3 && h.receiver.hooks("/leads"));
    const byType = Object.fromEntries(hooks.map((hook) => [hook.body.type, hook.body]));
    expect(Object.keys(byType).sort()).toEqual(["lead.created", "lead.stage_changed", "lead.updated"]);
    expect(byType["lead.created"].data).toMatchObject({ leadId, lead: { id: leadId, name: "Ada Lovelace", email: "ada@example.com", stage: "new" } });
    expect(byType["lead.stage_changed"].data).toMatchObject({ leadId, stage: "contacted", previousStage: "new", lead: { stage: "contacted" } });
    expect(byType["lead.updated"].data).toMatchObject({ leadId, changes: ["stage"] });
    for (const hook of hooks) {
      expect(hook.headers["x-quincer-event"]).toBe(hook.body.type);
      expect(new Webhook(secret).verify(hook.rawBody, headerMap(hook))).toEqual(hook.body);
    }
  });

  it("sends only the events a subscription asked for", async () => {
    await h.subscribe("/only-stages", ["lead.stage_changed"]);
    const lead = (await h.gql(CREATE_LEAD, { input: { name: "Only Stages", email: "only.stages@example.com" } })).data.createLead.id;
    await h.gql(UPDATE_LEAD, { id: lead, input: { stage: "qualified" } });
    await h.until("the stage change", async () => h.receiver.hooks("/only-stages").length >= 1);
    // Its lead.created and lead.updated were relayed before the stage change was.
    expect(h.receiver.hooks("/only-stages").map((hook) => hook.body.type)).toEqual(["lead.stage_changed"]);
  });
});

describe("redelivery", () => {
  it("redelivers one delivery with the same id, as a new attempt", async () => {
    const { id: subscriptionId } = await h.subscribe("/again", ["lead.created"]);
    await h.gql(CREATE_LEAD, { input: { name: "Again", email: "again@example.com" } });
    const [d] = await h.until("the delivery", async () => {
      const list = await h.deliveries(subscriptionId, "succeeded");
      return list.length === 1 && list;
    });
    const res = await h.gql(REDELIVER, { id: d!.id });
    expect(res.errors).toBeUndefined();
    expect(res.data.redeliverWebhookDelivery).toMatchObject({ id: d!.id, status: "pending", attemptCount: 1 });
    await h.until("the second request", async () => h.receiver.hooks("/again").length === 2);
    const [first, second] = h.receiver.hooks("/again");
    expect(second!.headers["webhook-id"]).toBe(d!.id);
    expect(second!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    expect(second!.rawBody).toBe(first!.rawBody);
    const after = await h.until("the attempt on record", async () => {
      const [x] = await h.deliveries(subscriptionId);
      return x?.attemptCount === 2 && x.status === "succeeded" && x;
    });
    expect(after.attempts.map((x) => x.number)).toEqual([1, 2]);
  });

  it("redelivers every failed or dead delivery since a time, once the subscription is back", async () => {
    const { id: subscriptionId } = await h.subscribe("/later", ["lead.created"]);
    let up = false;
    h.receiver.on("/later", () => ({ status: up ? 200 : 500 }));
    const since = new Date().toISOString();
    for (const i of [1, 2]) await h.gql(CREATE_LEAD, { input: { name: `Later ${i}`, email: `later${i}@example.com` } });
    await h.until("both to fail once", async () => {
      const list = await h.deliveries(subscriptionId);
      return list.length === 2 && list.every((x) => x.attemptCount >= 1);
    });
    // Switched off meanwhile: the outstanding deliveries are given up.
    expect((await h.gql(UPDATE, { id: subscriptionId, active: false })).data.updateWebhookSubscription.active).toBe(false);
    // A retry in flight when it was switched off is given up when that attempt ends (its sender
    // holds the row until then), so this waits for both rather than reading at once.
    const dead = await h.until("both given up", async () => {
      const list = await h.deliveries(subscriptionId, "dead");
      return list.length === 2 && list;
    });
    expect(dead).toHaveLength(2);
    // Not while it is disabled…
    expect(errorCodes(await h.gql(REDELIVER_FAILED, { id: subscriptionId, since }))).toEqual(["CONFLICT"]);
    expect(errorCodes(await h.gql(REDELIVER, { id: dead[0]!.id }))).toEqual(["CONFLICT"]);
    // …but once it is back.
    up = true;
    await h.gql(UPDATE, { id: subscriptionId, active: true });
    expect((await h.gql(REDELIVER_FAILED, { id: subscriptionId, since: new Date(Date.now() + 60_000).toISOString() })).data.redeliverFailedWebhookDeliveries).toBe(0);
    const count = await h.gql(REDELIVER_FAILED, { id: subscriptionId, since });
    expect(count.data.redeliverFailedWebhookDeliveries).toBe(2);
    const done = await h.until("both delivered", async () => {
      const list = await h.deliveries(subscriptionId, "succeeded");
      return list.length === 2 && list;
    });
    const oks = h.receiver.hooks("/later").filter((hook) => done.some((d) => d.id === hook.headers["webhook-id"]));
    expect(new Set(oks.map((hook) => hook.headers["webhook-id"]))).toEqual(new Set(dead.map((d) => d.id)));
  });

  it("refuses bad input: an unknown delivery, a bad date", async () => {
    const { id: subscriptionId } = await h.subscribe("/unused", ["email.sent"]);
    expect(errorCodes(await h.gql(REDELIVER, { id: "no-such-delivery" }))).toEqual(["NOT_FOUND"]);
    const badDate = await h.gql(REDELIVER_FAILED, { id: subscriptionId, since: "yesterday" });
    expect(errorCodes(badDate)).toEqual(["VALIDATION_ERROR"]);
    expect(badDate.errors![0]!.message).toBe("since: must be an ISO-8601 date-time, e.g. 2026-01-15T10:30:00Z");
    expect(errorCodes(await h.gql(REDELIVER_FAILED, { id: "no-such-subscription", since: new Date().toISOString() }))).toEqual(["NOT_FOUND"]);
  });
});
