import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { http } from "../helpers/http.ts";
import { wsSubscription } from "../helpers/live.ts";
import { until } from "../helpers/wait.ts";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.ts";
import { startCluster, type Cluster, type ParleyProcess } from "./helpers/cluster.ts";
import {
  createWebhook,
  followingSubscriber,
  gqlOk,
  operatorReplies,
  ordsOf,
  range,
  storedEvents,
  takeover,
  token,
  visitorSends,
  visitorStarts,
  widgetKey,
  type Event,
  type FollowingSubscriber,
} from "./helpers/clients.ts";

// Two Parley processes, A and B, on one PostgreSQL database and one Redis (npm run test:cluster):
// live events fan out from one to the other, rate limits are counted once for both, and each job
// and webhook delivery is done by exactly one of them.

let cluster: Cluster;
let A: ParleyProcess;
let B: ParleyProcess;
let receiver: Receiver;
const subscribers: FollowingSubscriber[] = [];
const wsClients: Client[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
  cluster = await startCluster(["A", "B"]);
  [A, B] = cluster.processes as [ParleyProcess, ParleyProcess];
});
afterEach(async () => {
  await Promise.all(subscribers.splice(0).map((s) => s.close()));
  await Promise.all(wsClients.splice(0).map((c) => c.dispose()));
});
afterAll(async () => {
  await cluster?.close();
  await receiver?.close();
});

/** On failure, the processes' logs go with the report. */
function logsOnFailure() {
  onTestFailed(() => console.log(cluster.logs()));
}

const follow = (...args: Parameters<typeof followingSubscriber>) => {
  const s = followingSubscriber(...args);
  subscribers.push(s);
  return s;
};
const wsClient = (p: ParleyProcess, secret: string) => {
  const c = createClient({ url: p.wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${secret}` }, retryAttempts: 0, lazy: true });
  wsClients.push(c);
  return c;
};
const messages = (events: Event[]) => events.filter((e) => e.type === "message");

describe("subscriptions fan out across instances", () => {
  it("a subscriber on A receives, in order, the messages posted through B (operator and visitor views)", async () => {
    logsOnFailure();
    const [site, writer, reader] = await Promise.all([widgetKey(cluster), token(cluster, "write_all"), token(cluster, "read_all")]);
    const v = await visitorStarts(B, site);
    // An operator holds the conversation: the assistant stays silent, so only what we post is added.
    await takeover(B, writer, v.conversationId);
    const start = await storedEvents(B, reader, v.conversationId);

    const operator = follow([A.wsUrl], reader, { id: v.conversationId, after: 0 });
    const visitor = follow([A.wsUrl], site, { id: v.conversationId, after: 0, token: v.visitorToken });
    // Both replayed the stored start, so both are subscribed live on A.
    await operator.until("the stored start", (items) => items.length >= start.length);
    await visitor.until("the stored start", (items) => items.length >= messages(start).length);

    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const text = `through B #${i}`;
      expect(i % 2 ? await operatorReplies(B, writer, v.conversationId, text) : await visitorSends(B, site, v.visitorToken, text)).toBe("ok");
      sent.push(text);
    }
    await operator.until("the last message", (items) => items.some((e) => e.content === sent.at(-1)));
    await visitor.until("the last message", (items) => items.some((e) => e.content === sent.at(-1)));

    const stored = await storedEvents(B, reader, v.conversationId);
    expect(ordsOf(stored)).toEqual(range(1, stored.length));
    // Everything, each once, in ord order; the messages in the order they were posted.
    expect(operator.items).toEqual(stored);
    expect(visitor.items.map((e) => e.id)).toEqual(messages(stored).map((e) => e.id));
    expect(operator.items.filter((e) => e.content.startsWith("through B")).map((e) => e.content)).toEqual(sent);
    expect([...operator.errors, ...visitor.errors]).toEqual([]);
    expect(operator.connections).toEqual([{ url: A.wsUrl }]);
  });

  it("domain events too: knowledge-base state changes of a retrain queued on B reach subscribers on A and B, and the job runs once", async () => {
    logsOnFailure();
    const [writer, reader] = await Promise.all([token(cluster, "write_all"), token(cluster, "read_all")]);
    const { scenarioId } = cluster.credentials;
    const STATE = `subscription ($s: ID!) { knowledgeBaseStateChanged(scenarioId: $s) { scenarioId retrainState failureReason at } }`;
    const RETRAIN = `mutation ($s: ID!) { retrainKnowledgeBase(scenarioId: $s) { retrainState job { id } } }`;
    const KB = `query ($s: ID!) { scenario(id: $s) { knowledgeBase { retrainState job { id status attempts } } } }`;
    const onA = wsSubscription<{ retrainState: string }>(wsClient(A, reader), STATE, { s: scenarioId });
    const onB = wsSubscription<{ retrainState: string }>(wsClient(B, reader), STATE, { s: scenarioId });
    const finished = (jobId?: string) =>
      until(
        "the retrain job to finish",
        async () => {
          const kb = (await gqlOk(A, reader, KB, { s: scenarioId })).scenario.knowledgeBase;
          const done = (!jobId || kb.job?.id === jobId) && ["succeeded", "failed"].includes(kb.job?.status) && kb.retrainState !== "to_be_retrained";
          return done && kb;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    // Not replayed: retrain until both subscribers have seen a change (they are live then), and let that settle.
    for (let i = 0; !(onA.items.length && onB.items.length); i++) {
      if (i === 30) throw new Error(`the subscribers never saw a change: ${onA.items.length} changes on A, ${onB.items.length} on B`);
      await gqlOk(B, writer, RETRAIN, { s: scenarioId });
      await Promise.all([onA.next(() => true, 2000), onB.next(() => true, 2000)]).catch(() => undefined);
    }
    await finished();
    const ended = (seenA: number, seenB: number) =>
      until(
        "both subscribers to see the retrain end",
        async () =>
          onA.items.length > seenA && onA.items.at(-1)?.retrainState === "up_to_date" && onB.items.length > seenB && onB.items.at(-1)?.retrainState === "up_to_date",
        { timeoutMs: 30_000 },
      );
    await ended(0, 0);
    const [seenA, seenB] = [onA.items.length, onB.items.length];

    const queued = await gqlOk(B, writer, RETRAIN, { s: scenarioId });
    const jobId = queued.retrainKnowledgeBase.job.id as string;
    const kb = await finished(jobId);
    expect(kb.job).toEqual({ id: jobId, status: "succeeded", attempts: 1 });
    expect(kb.retrainState).toBe("up_to_date");
    await ended(seenA, seenB);
    const changesA = onA.items.slice(seenA);
    const changesB = onB.items.slice(seenB);
    // Each change once, alike on both instances: one job, one run.
    const states = changesA.map((c) => c.retrainState);
    expect(states).toEqual([...new Set(states)]);
    expect(states).toContain("in_progress");
    expect(states.at(-1)).toBe("up_to_date");
    for (const c of changesA) expect(c).toMatchObject({ scenarioId, failureReason: null, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    // The same changes on both instances. Their order can differ between instances: to_be_retrained is
    // published by B (the mutation) and in_progress by whichever instance claimed the job, and Redis
    // orders each publisher's events, not two publishers' against each other.
    const byState = (cs: typeof changesA) => [...cs].sort((x, y) => String(x.retrainState).localeCompare(String(y.retrainState)));
    expect(byState(changesB)).toEqual(byState(changesA));
    expect([...onA.errors, ...onB.errors]).toEqual([]);
  });
});

describe("rate limits are shared", () => {
  it("a token's 120 reads a minute are counted across A and B: alternating, the 121st is 429 on either", async () => {
    logsOnFailure();
    const reader = await token(cluster, "read_all");
    const call = (p: ParleyProcess) => http(() => p).call("/v1/api_core/conversations?limit=1", { token: reader });
    for (let i = 1; i <= 120; i++) {
      const res = await call(i % 2 ? A : B);
      await res.arrayBuffer();
      expect(res.status, `request ${i}`).toBe(200);
      expect(res.headers.get("ratelimit"), `request ${i}`).toMatch(new RegExp(`^limit=120, remaining=${120 - i}, `));
    }
    for (const p of [A, B]) {
      const res = await call(p);
      expect(res.status, `on ${p.name}`).toBe(429);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await res.json()).toMatchObject({ errors: { root: [{ code: "TOO_MANY_REQUESTS" }] } });
    }
  });
});

describe("jobs and webhook deliveries run exactly once", () => {
  it("visitor messages through A and B: each answered by one assistant reply, each delivered to the webhook once", async () => {
    logsOnFailure();
    const [site, reader] = await Promise.all([widgetKey(cluster), token(cluster, "read_all")]);
    const path = "/exactly-once";
    const subscriptionId = await createWebhook(A, cluster.credentials.developerKey, receiver.url(path), ["conversation.message_received"]);
    const v = await visitorStarts(A, site, "First question");
    const questions: string[] = [];
    for (let i = 0; i < 8; i++) {
      const p = i % 2 ? A : B;
      const text = `Question ${i} through ${p.name}`;
      expect(await visitorSends(p, site, v.visitorToken, text)).toBe("ok");
      questions.push(text);
      // Waits for the answer before asking again (else one reply may answer two questions).
      await until(`the answer to "${text}"`, async () => {
        const events = await storedEvents(B, reader, v.conversationId);
        const asked = events.find((e) => e.content === text);
        return asked && events.some((e) => e.author === "ai_assistant" && replyTo(e).includes(asked.ord));
      }, { timeoutMs: 60_000, intervalMs: 100 });
    }
    const visitorMessages = (events: Event[]) => events.filter((e) => e.type === "message" && e.author === "visitor");
    await until("a delivery per visitor message", async () => receiver.hooks(path).length >= 9, { timeoutMs: 60_000, intervalMs: 100 });
    // Give a second sender every chance to show up: a later round of the same checks.
    expect(await visitorSends(B, site, v.visitorToken, "Last question")).toBe("ok");
    await until("the last delivery", async () => receiver.hooks(path).some((h) => h.body?.data?.message?.content === "Last question"), { timeoutMs: 60_000, intervalMs: 100 });
    await until("the last answer", async () => {
      const events = await storedEvents(B, reader, v.conversationId);
      const asked = events.find((e) => e.content === "Last question");
      return asked && events.some((e) => e.author === "ai_assistant" && replyTo(e).includes(asked.ord));
    }, { timeoutMs: 60_000, intervalMs: 100 });

    const stored = await storedEvents(A, reader, v.conversationId);
    expect(ordsOf(stored)).toEqual(range(1, stored.length));
    const asked = visitorMessages(stored);
    expect(asked.map((e) => e.content)).toEqual(["First question", ...questions, "Last question"]);
    // One answer per question: the reply job ran once although both instances run jobs.
    const answered = stored.filter((e) => e.author === "ai_assistant").flatMap(replyTo);
    expect(answered.sort((x, y) => x - y)).toEqual(asked.map((e) => e.ord));
    // One delivery per message, each sent once (the delivery id is the webhook-id header).
    const hooks = receiver.hooks(path);
    expect(hooks.map((h) => h.body.data.message.id).sort()).toEqual(asked.map((e) => e.id).sort());
    expect(new Set(hooks.map((h) => h.headers["webhook-id"])).size).toBe(hooks.length);
    const deliveries = await gqlOk(B, cluster.credentials.developerKey, `query ($id: ID) { webhookDeliveries(subscriptionId: $id, first: 50) { edges { node { id status attemptCount } } } }`, { id: subscriptionId });
    const nodes = deliveries.webhookDeliveries.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toHaveLength(asked.length);
    for (const n of nodes) expect(n).toMatchObject({ status: "succeeded", attemptCount: 1 });
  });
});

/** The visitor ords an assistant reply answers (messageInsights.in_reply_to). */
function replyTo(e: Event): number[] {
  const r = (e.messageInsights as { in_reply_to?: unknown } | null | undefined)?.in_reply_to;
  return Array.isArray(r) ? r.filter((x): x is number => typeof x === "number") : [];
}
