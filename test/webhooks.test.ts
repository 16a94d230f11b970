import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WEBHOOK_EVENTS } from "../src/services/webhook-events.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// Managing webhook subscriptions in GraphQL: create (secret once), list with health, update,
// rotate, delete; who may; and every bad input. Deliveries are in webhooks-delivery.test.ts.

let server: TestServer;
let a: Tenant;
let b: Tenant;
let admin: string;
let otherAdmin: string;
const { gql, graphql } = http(() => server);

beforeAll(async () => {
  server = await startServer({}, { OUTBOUND_ALLOWLIST: "127.0.0.1" });
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  admin = (await a.developerKey(["workspace:admin"])).secret;
  otherAdmin = (await b.developerKey(["workspace:admin"])).secret;
});
afterAll(() => server?.stop());
// Developer keys may write 30 times a minute: a fresh key per test.
beforeEach(async () => {
  if (!a) return;
  admin = (await a.developerKey(["workspace:admin"])).secret;
  otherAdmin = (await b.developerKey(["workspace:admin"])).secret;
});

const FIELDS = `id url events description active createdAt
  health { state active disabledAt disabledReason failingSince lastSuccessAt lastFailureAt recentAttempts recentSuccessRate windowHours }`;
const CREATE = `mutation($url: String!, $events: [String!]!, $description: String) {
  createWebhookSubscription(url: $url, events: $events, description: $description) { secret subscription { ${FIELDS} } } }`;
const UPDATE = `mutation($id: ID!, $url: String, $events: [String!], $description: String, $active: Boolean) {
  updateWebhookSubscription(id: $id, url: $url, events: $events, description: $description, active: $active) { ${FIELDS} } }`;
const LIST = `{ webhookSubscriptions { ${FIELDS} } }`;
const ONE = `query($id: ID!) { webhookSubscription(id: $id) { ${FIELDS} } }`;
const ROTATE = `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret subscription { id } } }`;
const DELETE = `mutation($id: ID!) { deleteWebhookSubscription(id: $id) }`;
const DELIVERIES = `query($subscriptionId: ID, $status: String) { webhookDeliveries(subscriptionId: $subscriptionId, status: $status, first: 10) { totalCount edges { node { id } } } }`;
const REDELIVER = `mutation($id: ID!) { redeliverWebhookDelivery(deliveryId: $id) { id } }`;
const REDELIVER_FAILED = `mutation($id: ID!, $since: String!) { redeliverFailedWebhookDeliveries(subscriptionId: $id, since: $since) }`;

let seq = 0;
async function create(vars: Record<string, unknown> = {}, key = admin) {
  const body = await gql(key, CREATE, { url: `https://hooks.example/${++seq}`, events: ["lead.created"], ...vars });
  return body;
}

describe("subscriptions", () => {
  it("creates one and answers its secret once, in the Standard Webhooks format", async () => {
    const body = await create({ url: "https://hooks.example/crm", events: ["lead.created", "lead.stage_changed", "lead.created"], description: "CRM sync" });
    expect(body.errors).toBeUndefined();
    const { secret, subscription } = body.data.createWebhookSubscription;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
    expect(subscription).toMatchObject({
      url: "https://hooks.example/crm",
      events: ["lead.created", "lead.stage_changed"],
      description: "CRM sync",
      active: true,
      health: { state: "healthy", active: true, disabledReason: null, failingSince: null, recentAttempts: 0, recentSuccessRate: null, windowHours: 24 },
    });
    // Nowhere else: the type has no secret field, and the list and the single query can't show it.
    const listed = await graphql(LIST, { auth: admin });
    expect(listed.text).not.toContain(secret);
    expect(errorCodes(await gql(admin, `{ webhookSubscriptions { secret } }`))).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect((await gql(admin, ONE, { id: subscription.id })).data.webhookSubscription.url).toBe("https://hooks.example/crm");
  });

  it("lists the workspace's subscriptions only", async () => {
    const mine = (await create()).data.createWebhookSubscription.subscription.id;
    const theirs = (await create({}, otherAdmin)).data.createWebhookSubscription.subscription.id;
    const ids = (await gql(admin, LIST)).data.webhookSubscriptions.map((s: { id: string }) => s.id);
    expect(ids).toContain(mine);
    expect(ids).not.toContain(theirs);
  });

  it("lists the documented event names", async () => {
    expect((await gql(admin, `{ webhookEventTypes }`)).data.webhookEventTypes).toEqual([...WEBHOOK_EVENTS]);
  });

  it("updates url, events, description and active; off and on again", async () => {
    const id = (await create()).data.createWebhookSubscription.subscription.id;
    const changed = await gql(admin, UPDATE, { id, url: "http://127.0.0.1:9/new", events: ["email.sent", "task.completed"], description: "changed" });
    expect(changed.errors).toBeUndefined();
    expect(changed.data.updateWebhookSubscription).toMatchObject({ url: "http://127.0.0.1:9/new", events: ["email.sent", "task.completed"], description: "changed" });
    const off = (await gql(admin, UPDATE, { id, active: false })).data.updateWebhookSubscription;
    expect(off).toMatchObject({ active: false, health: { state: "disabled", disabledReason: "manual" } });
    expect(off.health.disabledAt).toEqual(expect.any(String));
    const on = (await gql(admin, UPDATE, { id, active: true })).data.updateWebhookSubscription;
    expect(on).toMatchObject({ active: true, health: { state: "healthy", disabledReason: null, disabledAt: null } });
    // Leaving fields out changes nothing.
    expect((await gql(admin, UPDATE, { id })).data.updateWebhookSubscription.url).toBe("http://127.0.0.1:9/new");
  });

  it("rotates the secret", async () => {
    const created = (await create()).data.createWebhookSubscription;
    const rotated = (await gql(admin, ROTATE, { id: created.subscription.id })).data.rotateWebhookSecret;
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    const row = await server.app.runtime.db.webhookSubscription.findUniqueOrThrow({ where: { id: created.subscription.id } });
    expect(row.secret).toBe(rotated.secret);
  });

  it("deletes", async () => {
    const id = (await create()).data.createWebhookSubscription.subscription.id;
    expect((await gql(admin, DELETE, { id })).data.deleteWebhookSubscription).toBe(id);
    expect(errorCodes(await gql(admin, ONE, { id }))).toEqual(["NOT_FOUND"]);
  });

  it("records who changed what in the audit trail", async () => {
    const id = (await create()).data.createWebhookSubscription.subscription.id;
    await gql(admin, UPDATE, { id, description: "audited" });
    const entries = await server.app.runtime.db.auditEntry.findMany({ where: { workspaceId: a.workspaceId, action: { startsWith: "webhook_subscription." } } });
    const actions = entries.filter((e) => (e.details as { subscriptionId?: string }).subscriptionId === id).map((e) => e.action);
    expect(actions.sort()).toEqual(["webhook_subscription.created", "webhook_subscription.updated"]);
  });
});

describe("bad input changes nothing and names the field", () => {
  async function refused(vars: Record<string, unknown>, message: RegExp) {
    const before = await server.app.runtime.db.webhookSubscription.count();
    const body = await create(vars);
    expect(errorCodes(body)).toEqual(["VALIDATION_ERROR"]);
    expect(body.errors![0]!.message).toMatch(message);
    expect(await server.app.runtime.db.webhookSubscription.count()).toBe(before);
  }

  it.each([
    ["not a URL", "hooks.example/path"],
    ["a relative URL", "/webhooks"],
    ["another scheme", "ftp://hooks.example/x"],
    ["javascript:", "javascript:alert(1)"],
  ])("refuses a URL that isn't absolute http(s): %s", async (_what, url) => {
    await refused({ url }, /^url: must be an absolute http\(s\) URL/);
  });

  it("refuses an unknown event name, naming it", async () => {
    await refused({ events: ["lead.created", "lead.deleted"] }, /^events\.1: unknown event "lead\.deleted" \(one of conversation\.message_received, /);
  });

  it("refuses an empty event list", async () => {
    await refused({ events: [] }, /^events: name at least one event/);
  });

  it("refuses a too long description", async () => {
    await refused({ description: "x".repeat(501) }, /^description: must be at most 500 characters/);
  });

  it.each([
    ["a loopback address the allowlist does not name", "http://127.0.0.2:8080/hook", "127.0.0.2 is a loopback address"],
    ["a private address", "http://10.0.0.8/hook", "10.0.0.8 is a private address"],
    ["the metadata address", "http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"],
    ["IPv6 loopback", "http://[::1]:8080/hook", "::1 is a loopback address"],
    ["unique local IPv6", "https://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"],
  ])("refuses %s when saving", async (_what, url, why) => {
    await refused({ url }, new RegExp(`^url: refused to connect to .*: ${why.replace(/[.[\]]/g, "\\$&")}`));
  });

  it("refuses a bad URL on update too, and keeps the old one", async () => {
    const id = (await create()).data.createWebhookSubscription.subscription.id;
    for (const [url, message] of [
      ["nope", /^url: must be an absolute/],
      ["http://192.168.1.1/", /^url: refused to connect to 192\.168\.1\.1: 192\.168\.1\.1 is a private address/],
    ] as const) {
      const body = await gql(admin, UPDATE, { id, url });
      expect(errorCodes(body)).toEqual(["VALIDATION_ERROR"]);
      expect(body.errors![0]!.message).toMatch(message);
    }
    const body = await gql(admin, UPDATE, { id, events: ["lead.nope"] });
    expect(body.errors![0]!.message).toMatch(/^events\.0: unknown event "lead\.nope"/);
    expect((await gql(admin, ONE, { id })).data.webhookSubscription).toMatchObject({ url: expect.stringMatching(/^https:\/\/hooks\.example\//), events: ["lead.created"] });
  });

  it("refuses an unknown delivery status filter", async () => {
    const body = await gql(admin, DELIVERIES, { status: "lost" });
    expect(errorCodes(body)).toEqual(["VALIDATION_ERROR"]);
    expect(body.errors![0]!.message).toMatch(/^status: must be one of pending, failed, succeeded, dead/);
  });
});

describe("who may", () => {
  let theirs: string;
  beforeAll(async () => {
    theirs = (await create({}, otherAdmin)).data.createWebhookSubscription.subscription.id;
    const sub = await server.app.runtime.db.webhookSubscription.findUniqueOrThrow({ where: { id: theirs } });
    await server.app.runtime.db.webhookDelivery.create({
      data: { id: "b-delivery", workspaceId: b.workspaceId, subscriptionId: sub.id, eventType: "lead.created", payload: {}, status: "dead" },
    });
  });

  it("another workspace's subscription or delivery is NOT_FOUND, and stays as it was", async () => {
    expect(errorCodes(await gql(admin, ONE, { id: theirs }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(admin, UPDATE, { id: theirs, active: false }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(admin, ROTATE, { id: theirs }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(admin, DELETE, { id: theirs }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(admin, DELIVERIES, { subscriptionId: theirs }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(admin, REDELIVER, { id: "b-delivery" }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(admin, REDELIVER_FAILED, { id: theirs, since: "2020-01-01T00:00:00Z" }))).toEqual(["NOT_FOUND"]);
    const row = await server.app.runtime.db.webhookSubscription.findUniqueOrThrow({ where: { id: theirs } });
    expect(row.active).toBe(true);
    expect((await server.app.runtime.db.webhookDelivery.findUniqueOrThrow({ where: { id: "b-delivery" } })).status).toBe("dead");
  });

  it("needs a developer key with workspace:admin", async () => {
    const leadsKey = (await a.developerKey(["leads:read", "leads:write", "tasks:read"])).secret;
    const token = (await a.token("write_all")).secret;
    for (const key of [leadsKey, token]) {
      const body = await create({}, key);
      expect(errorCodes(body)).toEqual(["PERMISSION_DENIED"]);
      expect(body.errors![0]!.message).toBe("Insufficient scope. Required: workspace:admin");
      expect(errorCodes(await gql(key, LIST))).toEqual(["PERMISSION_DENIED"]);
      expect(errorCodes(await gql(key, DELIVERIES, {}))).toEqual(["PERMISSION_DENIED"]);
    }
  });

  it("refuses a missing or wrong credential", async () => {
    const anonymous = await graphql(LIST);
    expect(errorCodes(anonymous.body)).toEqual(["PERMISSION_DENIED"]);
    const wrong = await graphql(LIST, { auth: "cw_dev_not-a-real-key" });
    expect(wrong.status).toBe(401);
    expect(errorCodes(wrong.body)).toEqual(["PERMISSION_DENIED"]);
  });

  it("a widget key can't see webhooks", async () => {
    const widget = (await a.widgetKey()).secret;
    expect(errorCodes(await gql(widget, LIST))).toEqual(["PERMISSION_DENIED"]);
  });
});
