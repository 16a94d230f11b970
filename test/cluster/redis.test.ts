import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { createClient, type Client } from "graphql-ws";
import { FORGETS_CHANNEL } from "../../src/events/redis-bridge.ts";
import { encodeLive } from "../../src/events/wire.ts";
import { forget, registerCache } from "../../src/services/caches.ts";
import { freshDatabase } from "../helpers/server.ts";
import { seed } from "../helpers/seed.ts";
import { wsSubscription } from "../helpers/live.ts";
import { until } from "../helpers/wait.ts";
import { anonymousQuery, collect, countLogs, LocalRedis, readyz, record, startInstance, untilFanOut, type Instance } from "./helpers/in-process.ts";

// Two Parley instances in this process sharing one Redis (started here, on a free port): live
// events fan out between them in order with their Dates, rate-limit counters are shared, and when
// Redis is killed both keep serving (local pubsub, per-instance limits), say so once, and pick up
// again by themselves when it is back. With TEST_DATABASE_URL (npm run test:cluster) both instances
// share one PostgreSQL database and the GraphQL/REST paths are tested across them too; otherwise
// each has its own SQLite file and only the Redis parts are.

const SHARED_DB = Boolean(process.env.TEST_DATABASE_URL);
const DEGRADED = "redis unavailable: serving with local pubsub and in-memory rate limits";
const RECOVERED = "redis available again: live events fan out and rate limits are shared across instances";

let redis: LocalRedis;
let admin: Redis;
let a: Instance;
let b: Instance;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await LocalRedis.start();
  cleanups.push(() => redis.kill());
  admin = new Redis(redis.url, { retryStrategy: () => 50 });
  // Refused reconnects while Redis is down on purpose.
  admin.on("error", () => undefined);
  cleanups.push(async () => admin.disconnect());
  await admin.ping();

  const secret = randomBytes(32).toString("hex");
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  // A runs its jobs in a worker process: what the worker publishes reaches A over IPC, and A sends it on.
  a = await startInstance("A", redis.url, { dataDir: db.dataDir, databaseUrl: db.databaseUrl, secret, jobWorkers: 1 });
  cleanups.push(() => a.app.stop());
  // B shares A's database when it is PostgreSQL; on SQLite it has a file of its own.
  const bDir = mkdtempSync(join(tmpdir(), "parley-test-"));
  cleanups.push(async () => rmSync(bDir, { recursive: true, force: true }));
  b = await startInstance("B", redis.url, { dataDir: bDir, databaseUrl: db.databaseUrl, secret });
  cleanups.push(() => b.app.stop());
  await until("both instances connected to redis", async () => a.app.redis!.status() === "up" && b.app.redis!.status() === "up");
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe("live events across instances", () => {
  it("50 events published on A reach B's subscribers in order, Dates revived, each once", async () => {
    await untilFanOut(a, b);
    const workspaceId = randomUUID();
    const importId = randomUUID();
    const onB = collect(b.app.runtime.events.subscribe(workspaceId));
    const progressOnB = collect(b.app.runtime.events.subscribeImport(importId));
    const onA = collect(a.app.runtime.events.subscribe(workspaceId));
    const sent = Array.from({ length: 50 }, (_, i) => record(workspaceId, i));
    for (const [i, e] of sent.entries()) {
      a.app.runtime.events.publish([e]);
      a.app.runtime.events.publishImport(importId, { step: i });
    }
    await onB.has(50);
    await progressOnB.has(50);
    // A last event: anything duplicated would have arrived before it (one publisher, one order).
    const last = record(workspaceId, 50);
    a.app.runtime.events.publish([last]);
    await onB.has(51);
    expect(onB.items).toEqual([...sent, last]);
    expect(onB.items[3]!.createdAt).toBeInstanceOf(Date);
    expect(onB.items[3]!.createdAt.toISOString()).toBe("2024-06-01T12:00:03.007Z");
    expect((onB.items[3]!.payload as { forged: unknown }).forged).toEqual({ $date: "2024-01-01T00:00:00.000Z" });
    expect(progressOnB.items).toEqual(sent.map((_, i) => ({ step: i })));
    // A's own subscriber got each event once: its own messages coming back from Redis are dropped.
    await onA.has(51);
    expect(onA.items).toEqual([...sent, last]);
    for (const s of [onA, onB, progressOnB]) s.stop();
  });

  it("what A's job workers relay goes on to B; what A received from another instance does not go back out", async () => {
    await untilFanOut(a, b);
    const workspaceId = randomUUID();
    const onB = collect(b.app.runtime.events.subscribe(workspaceId));
    const relayed = record(workspaceId, 1);
    const delivered = record(workspaceId, 2);
    const last = record(workspaceId, 3);
    // As the worker pool does with an event a worker process sent over IPC.
    a.app.runtime.events.publishRelayed(`workspace:${workspaceId}`, relayed);
    // As the bridge does with an event from another instance: local only.
    a.app.runtime.events.deliver(`workspace:${workspaceId}`, delivered);
    a.app.runtime.events.publish([last]);
    await onB.has(2);
    expect(onB.items).toEqual([relayed, last]);
    onB.stop();
  });

  it("a reply published in A's job worker process reaches B once: over IPC to A, then through Redis", async () => {
    await untilFanOut(a, b);
    const t = await seed(a.app).workspace("Workers");
    await t.knowledgeBase([{ title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." }]);
    const site = (await t.widgetKey()).secret;
    const visitorToken = `vt-${randomUUID()}`;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${a.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${site}` }, body: JSON.stringify(body) });
      expect(res.status).toBe(201);
      return (await res.json()) as { conversation_token?: string };
    };
    const started = await post("/api/v1/chat/conversations", { name: "Jane", email: "jane@example.com", message: "Hi", visitor_token: visitorToken });
    // B's bus needs no database: on SQLite B can't even see this conversation, only its live events.
    const onB = collect(b.app.runtime.events.subscribeConversation(started.conversation_token!));
    const events = () => onB.items.flatMap((m) => (m.kind === "event" ? [m.event] : []));
    await post(`/api/v1/chat/conversations/${visitorToken}/messages`, { message: "Do you ship to the UK?" });
    await until("the worker's reply on B", async () => events().some((e) => e.author === "ai_assistant"));
    // One more message from A's server process: a duplicate of the reply would have come before it.
    await post(`/api/v1/chat/conversations/${visitorToken}/messages`, { message: "Thanks" });
    await until("the next message on B", async () => events().some((e) => e.content === "Thanks"));
    // (The first answer, ord 3, may be on its way still when B subscribes: not counted.)
    expect(events().filter((e) => e.ord >= 4 && e.ord <= 6).map((e) => [e.ord, e.author])).toEqual([
      [4, "visitor"],
      [5, "ai_assistant"],
      [6, "visitor"],
    ]);
    onB.stop();
  });

  it.runIf(SHARED_DB)("a GraphQL subscriber on B gets, in order and without gaps, a conversation carried on through A", async () => {
    await untilFanOut(a, b);
    await untilFanOut(b, a);
    const t = await seed(a.app).workspace("Cluster");
    await t.knowledgeBase([{ title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." }]);
    const site = (await t.widgetKey()).secret;
    const reader = (await t.token("read_all")).secret;
    const visitorToken = `vt-${randomUUID()}`;
    const post = (path: string, body: unknown) =>
      fetch(`${a.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${site}` }, body: JSON.stringify(body) });
    const started = await post("/api/v1/chat/conversations", { name: "Jane", email: "jane@example.com", message: "Hi", visitor_token: visitorToken });
    expect(started.status).toBe(201);
    const conversationId = ((await started.json()) as { conversation_token: string }).conversation_token;

    const client: Client = createClient({ url: b.wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${reader}` }, retryAttempts: 0, lazy: true });
    try {
      const sub = wsSubscription(client, `subscription ($id: ID!) { messageAdded(conversationId: $id, afterOrd: 0) { ord author content } }`, { id: conversationId });
      await sub.count(3);
      // Each question through A, and its answer (from a job on A or B), reach the subscriber on B.
      for (let i = 0; i < 10; i++) {
        const content = `Question ${i} about shipping?`;
        const res = await post(`/api/v1/chat/conversations/${visitorToken}/messages`, { message: content });
        expect(res.status).toBe(201);
        const question = await sub.next((e) => e.content === content, 10_000);
        await sub.next((e) => e.author === "ai_assistant" && e.ord > question.ord, 10_000);
      }
      const last = await a.app.runtime.db.conversationEvent.findFirst({ where: { conversationId }, orderBy: { ord: "desc" } });
      await sub.next((e) => e.ord === last!.ord);
      expect(sub.items.map((e) => e.ord)).toEqual(Array.from({ length: last!.ord }, (_, i) => i + 1));
      expect(sub.items.filter((e) => e.author === "visitor").map((e) => e.content)).toEqual(["Hi", ...Array.from({ length: 10 }, (_, i) => `Question ${i} about shipping?`)]);
      expect(sub.errors).toEqual([]);
    } finally {
      await client.dispose();
    }
  });
});

describe("rate limits across instances", () => {
  it("one budget is counted across A and B: the 121st anonymous query from one address is 429 wherever it lands", async () => {
    await admin.flushdb();
    for (let i = 0; i < 120; i++) expect(await anonymousQuery(i % 2 ? b : a), `request ${i + 1}`).toBe(200);
    expect(await anonymousQuery(a)).toBe(429);
    expect(await anonymousQuery(b)).toBe(429);
    expect((await admin.keys("parley:rl:*")).length).toBeGreaterThan(0);
  });

  it.runIf(SHARED_DB)("a token's 121st READ across A and B is 429", async () => {
    const t = await seed(a.app).workspace("Limits");
    const token = (await t.token("read_all")).secret;
    const read = async (i: Instance) => {
      const res = await fetch(`${i.url}/v1/api/chatbot_settings`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      return res;
    };
    for (let i = 0; i < 120; i++) expect((await read(i % 2 ? a : b)).status, `request ${i + 1}`).toBe(200);
    const res = await read(a);
    expect(res.status).toBe(429);
    expect(res.headers.get("ratelimit-policy")).toBe("120;w=60");
  });
});

describe("cache forgets across instances", () => {
  it("a forget on one instance is published, and a forget from another instance is applied here", async () => {
    const forgotten: string[] = [];
    registerCache("h5-test", (key) => forgotten.push(key));
    const heard: { from: string; cache: string; key: string }[] = [];
    const listener = admin.duplicate();
    try {
      await listener.subscribe(FORGETS_CHANNEL);
      listener.on("message", (_channel: string, text: string) => heard.push(JSON.parse(text)));
      forget("h5-test", "scenario-1");
      expect(forgotten).toEqual(["scenario-1"]);
      await until("the forget on the channel", async () => heard.some((m) => m.cache === "h5-test" && m.key === "scenario-1"));

      // From an instance that is neither A nor B: each of them drops the entry (both live in this
      // process and share the module's caches, hence two calls).
      forgotten.length = 0;
      await admin.publish(FORGETS_CHANNEL, encodeLive({ from: "elsewhere", cache: "h5-test", key: "scenario-2" }));
      await until("both instances applied it", async () => forgotten.length >= 2);
      expect(forgotten).toEqual(["scenario-2", "scenario-2"]);
    } finally {
      listener.disconnect();
    }
  });
});

describe("Redis goes away and comes back", () => {
  it("both instances keep serving on local pubsub and per-instance limits, log it once, and fan out again once Redis is back", async () => {
    await untilFanOut(a, b);
    for (const i of [a, b]) expect(countLogs(i, DEGRADED)).toBe(0);
    expect((await readyz(a)).body.redis).toBe("up");

    await redis.kill();
    const reconnectsAtKill = Math.max(a.reconnects, b.reconnects);
    await until("both instances saw Redis go", async () => a.app.redis!.status() === "down" && b.app.redis!.status() === "down");
    // Several reconnect attempts have failed by now; the degradation was logged once all the same.
    await until("three failed reconnects", async () => a.reconnects >= reconnectsAtKill + 3 && b.reconnects >= reconnectsAtKill + 3, { timeoutMs: 20_000 });
    for (const i of [a, b]) expect(countLogs(i, DEGRADED), i.name).toBe(1);

    // Ready (degraded), serving.
    for (const i of [a, b]) {
      const r = await readyz(i);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ status: "ready", redis: "down" });
      expect((await fetch(`${i.url}/healthz`)).status).toBe(200);
    }

    // Local subscribers still get local events; nothing throws at the publisher.
    const workspaceId = randomUUID();
    const onA = collect(a.app.runtime.events.subscribe(workspaceId));
    const local = Array.from({ length: 5 }, (_, i) => record(workspaceId, i));
    for (const e of local) a.app.runtime.events.publish([e]);
    await onA.has(5);
    expect(onA.items).toEqual(local);
    onA.stop();

    // Limits hold, per instance: A's 121st query is refused, B's budget is its own.
    for (let i = 0; i < 120; i++) expect(await anonymousQuery(a), `request ${i + 1} on A`).toBe(200);
    expect(await anonymousQuery(a)).toBe(429);
    expect(await anonymousQuery(b)).toBe(200);

    // Redis back on the same port: the instances reconnect and fan out again by themselves.
    redis.restart();
    await admin.ping();
    await until("both instances reconnected", async () => a.app.redis!.status() === "up" && b.app.redis!.status() === "up", { timeoutMs: 20_000 });
    expect((await readyz(b)).body.redis).toBe("up");
    await untilFanOut(a, b);
    await untilFanOut(b, a);
    const onB = collect(b.app.runtime.events.subscribe(workspaceId));
    const after = Array.from({ length: 20 }, (_, i) => record(workspaceId, 100 + i));
    for (const e of after) a.app.runtime.events.publish([e]);
    await onB.has(20);
    expect(onB.items).toEqual(after);
    onB.stop();
    for (const i of [a, b]) {
      expect(countLogs(i, DEGRADED), i.name).toBe(1);
      expect(countLogs(i, RECOVERED), i.name).toBe(1);
    }
    // Shared counting is back too (the new Redis starts empty).
    await admin.flushdb();
    for (let i = 0; i < 120; i++) expect(await anonymousQuery(i % 2 ? b : a), `request ${i + 1}`).toBe(200);
    expect(await anonymousQuery(b)).toBe(429);
  });
});
