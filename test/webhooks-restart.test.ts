import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { freshDatabase } from "./helpers/server.ts";
import { seed } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { poller } from "./helpers/wait.ts";
import { startReceiver, type Receiver } from "./helpers/webhook-receiver.ts";

// Deliveries outlive the server: one stopped in the middle of a delivery's retries is finished by
// the next server on the same database (here with its jobs in a worker process), under the same
// delivery id. And the outbound check runs on connect: a subscription saved while its host was
// allowed is refused once the server runs without that allowance.

const JOBS = { pollMs: 20, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const WEBHOOKS = { relayIdleMs: 20, sendIdleMs: 20, retryScheduleMs: [150], retryWindowMs: 600_000, disableAfterMs: 600_000, timeoutMs: 3000 };
const CREATE = `mutation($url: String!, $events: [String!]!) { createWebhookSubscription(url: $url, events: $events) { subscription { id } } }`;
const DELIVERIES = `query($id: ID) { webhookDeliveries(subscriptionId: $id, first: 10) { edges { node {
  id status attemptCount lastError attempts { number statusCode error } } } } }`;
const CREATE_LEAD = `mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }`;
const UPDATE_LEAD = `mutation($id: ID!, $input: UpdateLeadInput!) { updateLead(id: $id, input: $input) { id } }`;

let db: Awaited<ReturnType<typeof freshDatabase>>;
let receiver: Receiver;
let app: App | undefined;
let url = "";
const { gql } = http(() => url);
const until = poller({ timeoutMs: 20_000, intervalMs: 25 });

/** A server on the shared database. */
async function boot(env: Record<string, string>): Promise<App> {
  const config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", ...env }),
    port: 0,
    host: "127.0.0.1",
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    jobs: JOBS,
    webhooks: WEBHOOKS,
  };
  const started = await buildApp(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }) });
  url = (await started.start()).url;
  return started;
}

async function shutdown(): Promise<void> {
  await app?.stop();
  app = undefined;
}

beforeAll(async () => {
  db = await freshDatabase();
  receiver = await startReceiver();
});
afterAll(async () => {
  await shutdown();
  await receiver?.close();
  await db?.drop();
});

describe("across restarts", () => {
  let keys: string[] = [];
  let restartSub = "";
  let rebindSub = "";
  let leadId = "";
  // Developer keys may write 30 times a minute: several, used in turn.
  let turn = 0;
  const key = () => keys[turn++ % keys.length]!;

  beforeAll(async () => {
    app = await boot({ OUTBOUND_ALLOWLIST: "127.0.0.1,localhost" });
    const tenant = await seed(app).workspace("Restarts");
    keys = await Promise.all([1, 2, 3, 4].map(async () => (await tenant.developerKey()).secret));
  });

  it("a delivery retried when the server stops is completed by the next server, with the same delivery id", async () => {
    let serverUp: "first" | "second" = "first";
    receiver.on("/restart", () => ({ status: serverUp === "first" ? 500 : 200 }));
    restartSub = (await gql(key(), CREATE, { url: receiver.url("/restart"), events: ["lead.created"] })).data.createWebhookSubscription.subscription.id;
    // Saved while "localhost" is allowed; the last test runs without that.
    const rebind = await gql(key(), CREATE, { url: receiver.url("/rebind", "localhost"), events: ["lead.stage_changed"] });
    expect(rebind.errors).toBeUndefined();
    rebindSub = rebind.data.createWebhookSubscription.subscription.id;
    leadId = (await gql(key(), CREATE_LEAD, { input: { name: "Restart Lead", email: "restart@example.com" } })).data.createLead.id;
    await until("a failed attempt", async () => receiver.hooks("/restart").length >= 1);
    await shutdown();
    const failedBefore = receiver.hooks("/restart").length;

    serverUp = "second";
    app = await boot({ OUTBOUND_ALLOWLIST: "127.0.0.1", JOB_WORKERS: "1" });
    const [delivery] = await until("the delivery to succeed", async () => {
      const list = (await gql(key(), DELIVERIES, { id: restartSub })).data.webhookDeliveries.edges.map((e: { node: any }) => e.node);
      return list[0]?.status === "succeeded" && list;
    });
    const hooks = receiver.hooks("/restart");
    expect(hooks.length).toBe(failedBefore + 1);
    expect(new Set(hooks.map((h) => h.headers["webhook-id"]))).toEqual(new Set([delivery.id]));
    expect(new Set(hooks.map((h) => h.rawBody)).size).toBe(1);
    expect(delivery.attempts.map((x: { statusCode: number }) => x.statusCode)).toEqual([...Array(failedBefore).fill(500), 200]);
    expect(delivery.attemptCount).toBe(failedBefore + 1);
    await shutdown();
  });

  it("without the allowlist, saving a loopback target is refused, and a saved name resolving to loopback is refused on connect", async () => {
    app = await boot({});
    for (const target of [receiver.url("/refused"), receiver.url("/refused", "localhost")]) {
      const body = await gql(key(), CREATE, { url: target, events: ["lead.created"] });
      expect(errorCodes(body)).toEqual(["VALIDATION_ERROR"]);
      expect(body.errors![0]!.message).toMatch(/^url: refused to connect to (127\.0\.0\.1|localhost): .*(127\.0\.0\.1|::1).* loopback address \(OUTBOUND_ALLOWLIST can permit it\)$/);
    }
    expect((await gql(key(), CREATE, { url: "http://169.254.169.254/latest", events: ["lead.created"] })).errors![0]!.message).toContain(
      "169.254.169.254 is a cloud metadata address",
    );

    expect((await gql(key(), UPDATE_LEAD, { id: leadId, input: { stage: "contacted" } })).errors).toBeUndefined();
    const [delivery] = await until("a refused attempt", async () => {
      const list = (await gql(key(), DELIVERIES, { id: rebindSub })).data.webhookDeliveries.edges.map((e: { node: any }) => e.node);
      return list[0]?.attemptCount >= 1 && list;
    });
    expect(delivery.status).toBe("failed");
    expect(delivery.attempts[0]).toMatchObject({ number: 1, statusCode: null });
    expect(delivery.attempts[0].error).toMatch(/refused to connect to localhost: it resolves to (127\.0\.0\.1|::1), which is a loopback address/);
    expect(receiver.hooks("/rebind")).toHaveLength(0);
    expect(receiver.hooks("/refused")).toHaveLength(0);
  });
});
