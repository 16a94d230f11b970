import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { startServer, type TestServer } from "./server.ts";
import { seed, type Tenant } from "./seed.ts";
import { http } from "./http.ts";
import { poller } from "./wait.ts";
import { startReceiver, type HookReply, type ReceivedHook, type Receiver } from "./webhook-receiver.ts";

// A test server with short webhook timings, a local receiver, a workspace, and the GraphQL
// operations the webhook tests share. Call webhookHarness() at the top of a test file.

const JOBS = { pollMs: 20, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
// Short retries; the window and the failing switch-off are the "three days" scaled down.
const WEBHOOKS = { relayIdleMs: 20, sendIdleMs: 20, retryScheduleMs: [100, 200], retryWindowMs: 20_000, disableAfterMs: 1500, timeoutMs: 3000 };

export const CREATE = `mutation($url: String!, $events: [String!]!) {
  createWebhookSubscription(url: $url, events: $events) { secret subscription { id } } }`;
export const SUBSCRIPTION = `query($id: ID!) { webhookSubscription(id: $id) {
  active health { state disabledReason failingSince lastSuccessAt lastFailureAt recentAttempts recentSuccessRate } } }`;
export const DELIVERIES = `query($id: ID, $status: String) { webhookDeliveries(subscriptionId: $id, status: $status, first: 50) { totalCount edges { node {
  id eventType status attemptCount nextAttemptAt lastStatusCode lastError lastLatencyMs deliveredAt payload
  attempts { number at statusCode latencyMs error } } } } }`;
export const REDELIVER = `mutation($id: ID!) { redeliverWebhookDelivery(deliveryId: $id) { id status attemptCount } }`;
export const REDELIVER_FAILED = `mutation($id: ID!, $since: String!) { redeliverFailedWebhookDeliveries(subscriptionId: $id, since: $since) }`;
export const UPDATE = `mutation($id: ID!, $active: Boolean) { updateWebhookSubscription(id: $id, active: $active) { active } }`;
export const CREATE_LEAD = `mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }`;
export const UPDATE_LEAD = `mutation($id: ID!, $input: UpdateLeadInput!) { updateLead(id: $id, input: $input) { id } }`;

export type Delivery = {
  id: string;
  eventType: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  payload: any;
  attempts: { number: number; at: string; statusCode: number | null; latencyMs: number | null; error: string | null }[];
};

/** The reference's "Verifying signatures" snippet, ported: 401 unless X-Quincer-Signature matches. */
export function referenceVerifier(secret: string, then: (hook: ReceivedHook, nth: number) => HookReply = () => ({ status: 200 })) {
  return (req: ReceivedHook & { rawBody: string }, nth: number): HookReply => {
    const signature = req.headers["x-quincer-signature"];
    const expected = "sha256=" + createHmac("sha256", secret).update(req.rawBody).digest("hex");
    if (signature !== expected) {
      return { status: 401, body: "invalid signature" };
    }
    return then(req, nth);
  };
}

/** A received request's headers as the standardwebhooks package takes them. */
export const headerMap = (hook: ReceivedHook) => Object.fromEntries(Object.entries(hook.headers).map(([k, v]) => [k, String(v)]));

export function webhookHarness() {
  let server: TestServer;
  let receiver: Receiver;
  let tenant: Tenant;
  let admin = "";
  const client = http(() => server);
  const until = poller({ timeoutMs: 15_000, intervalMs: 20 });

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startServer({ jobs: JOBS, webhooks: WEBHOOKS }, { OUTBOUND_ALLOWLIST: "127.0.0.1" });
    tenant = await seed(server.app).workspace("Alpha");
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });
  // Developer keys may write 30 times a minute: a fresh key per test.
  beforeEach(async () => {
    admin = (await tenant.developerKey()).secret;
  });

  /** GraphQL with this test's key. */
  const gql = (query: string, variables?: Record<string, unknown>) => client.gql(admin, query, variables);

  return {
    get server() {
      return server;
    },
    get receiver() {
      return receiver;
    },
    get tenant() {
      return tenant;
    },
    gql,
    callJson: client.callJson,
    until,
    async subscribe(path: string, events: string[]) {
      const body = await gql(CREATE, { url: receiver.url(path), events });
      expect(body.errors).toBeUndefined();
      return { id: body.data.createWebhookSubscription.subscription.id as string, secret: body.data.createWebhookSubscription.secret as string };
    },
    async deliveries(subscriptionId: string, status?: string): Promise<Delivery[]> {
      const body = await gql(DELIVERIES, { id: subscriptionId, status });
      expect(body.errors).toBeUndefined();
      return body.data.webhookDeliveries.edges.map((e: { node: Delivery }) => e.node);
    },
  };
}
