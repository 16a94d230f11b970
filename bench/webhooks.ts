// Webhook delivery under a burst, and what the outbox costs the write that fills it.
//  1. Burst: 10,000 lead.updated events produced as fast as the API takes them (PATCH
//     /api/v1/leads/:id with a developer key, 32 requests in flight, each changing one lead's tags),
//     delivered by the relay and sender job loops to a local receiver (node:http in this process,
//     on 127.0.0.1, allowed through OUTBOUND_ALLOWLIST) that verifies X-Quincer-Signature and the
//     Standard Webhooks signature, counts requests by webhook-id and by event id, and answers 200,
//     except that a fraction of the deliveries (2%) get a 503 on their first attempt, so they are
//     retried. Reported: the time until the receiver has every event, the lag from an event's
//     creation to its first 2xx receipt, events lost (must be none) and duplicates (only where a
//     delivery was retried: every repeated request must follow a failed attempt of that delivery).
//  2. Outbox overhead: in the server process, 2,000 lead updates as the leads service makes them
//     (read, update, audit entry, in one transaction) with and 2,000 without the DomainEvent row
//     (runtime.events.record with the lead.updated payload), interleaved; p50/p95 of each.
//   npm run bench                                  (runs the other benches, then this)
//   BENCH_EVENTS=10000 BENCH_CONCURRENCY=32 BENCH_FAIL_FRACTION=0.02 BENCH_OUTBOX_N=2000 tsx bench/webhooks.ts
//   BENCH_JOB_WORKERS=1 tsx bench/webhooks.ts      (relay and sender in a job worker process; default 0, as deployed by default)
//   BENCH_CPU_PROF=/tmp/prof tsx bench/webhooks.ts (the server's V8 CPU profile)
// The server (Parley on a fresh temp SQLite DATA_DIR) runs in a child process; the load and the
// receiver in this one. Rate limits are raised out of the way (same limiter code path); webhook
// timings are the defaults except the retry schedule, shortened (BENCH_RETRY_MS) so retries land
// within the run. Target (issue 6): none lost, duplicates only where a delivery was retried,
// recording the outbox row adds < 2 ms p95 to the write. Exits 1 when an event was lost, a
// duplicate has no retry behind it, a signature failed or a write was refused.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import type { Config } from "../src/config.ts";
import { forkBenchServer, startBenchParley } from "./harness.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const LEADS = Number(process.env.BENCH_LEADS ?? 100);
const FAIL_FRACTION = Number(process.env.BENCH_FAIL_FRACTION ?? 0.02);
/** Retry schedule ceilings (full jitter) instead of 5 s, 5 min, …: the retried 2% arrive within the run. */
const RETRY_MS = (process.env.BENCH_RETRY_MS ?? "250,1000").split(",").map(Number);
const OUTBOX_N = Number(process.env.BENCH_OUTBOX_N ?? 2000);
const OUTBOX_WARMUP = Number(process.env.BENCH_OUTBOX_WARMUP ?? 200);
const JOB_WORKERS = Number(process.env.BENCH_JOB_WORKERS ?? 0);
const DRAIN_TIMEOUT_MS = Number(process.env.BENCH_DRAIN_TIMEOUT_S ?? 300) * 1000;
/** After the last delivery is recorded: time for a stray duplicate to show up. */
const SETTLE_MS = 2000;
const TARGET_EVENTS = 10_000;
const TARGET_OVERHEAD_P95_MS = 2;
const EVENT_TYPE = "lead.updated";

interface Ready {
  parley: string;
  developerKey: string;
  workspaceId: string;
}

/** What the server's database says about the burst. */
interface Check {
  /** lead.updated DomainEvents of the bench workspace. */
  eventIds: string[];
  unrelayed: number;
  deliveries: { id: string; domainEventId: string | null; status: string; attempts: number }[];
  /** Attempts that did not get a 2xx (503s, timeouts, refused connections), by delivery id. */
  failedAttempts: Record<string, number>;
  attempts: number;
}

interface Progress {
  unrelayed: number;
  outstanding: number;
}

interface OutboxSamples {
  withEvent: number[];
  withoutEvent: number[];
  /** The outbox insert alone (runtime.events.record), timed inside the writes that have one. */
  record: number[];
}

// ---------------------------------------------------------------- the server (child process)
async function serve() {
  const { seed } = await import("../test/helpers/seed.ts");
  const { parseAllowlist } = await import("../src/services/outbound-policy.ts");
  const { recordAudit } = await import("../src/services/audit.ts");
  const { LEAD_INCLUDE, leadChanges, leadPayload } = await import("../src/services/leads-view.ts");
  const overrides: Partial<Config> = {
    jobWorkers: JOB_WORKERS,
    outboundAllowlist: parseAllowlist("127.0.0.1"),
    webhooks: { retryScheduleMs: RETRY_MS },
  };
  const parleyServer = await startBenchParley("parley-bench-webhooks-", overrides);
  const { app, url: parley } = parleyServer;
  const { db, events } = app.runtime;

  const tenant = await seed(app).workspace("Bench workspace");
  const developerKey = (await tenant.developerKey()).secret;

  const check = async (): Promise<Check> => {
    const [eventRows, unrelayed, deliveries, attemptRows] = await Promise.all([
      db.domainEvent.findMany({ where: { workspaceId: tenant.workspaceId, type: EVENT_TYPE }, select: { id: true } }),
      db.domainEvent.count({ where: { workspaceId: tenant.workspaceId, relayedAt: null } }),
      db.webhookDelivery.findMany({ where: { workspaceId: tenant.workspaceId }, select: { id: true, domainEventId: true, status: true, attempts: true } }),
      db.webhookAttempt.findMany({ where: { delivery: { workspaceId: tenant.workspaceId } }, select: { deliveryId: true, statusCode: true } }),
    ]);
    const failedAttempts: Record<string, number> = {};
    for (const a of attemptRows) {
      if (a.statusCode === null || a.statusCode < 200 || a.statusCode >= 300) failedAttempts[a.deliveryId] = (failedAttempts[a.deliveryId] ?? 0) + 1;
    }
    return { eventIds: eventRows.map((e) => e.id), unrelayed, deliveries, failedAttempts, attempts: attemptRows.length };
  };

  const progress = async (): Promise<Progress> => {
    const [unrelayed, outstanding] = await Promise.all([
      db.domainEvent.count({ where: { workspaceId: tenant.workspaceId, relayedAt: null } }),
      db.webhookDelivery.count({ where: { workspaceId: tenant.workspaceId, status: { in: ["pending", "failed"] } } }),
    ]);
    return { unrelayed, outstanding };
  };

  // The write PATCH /api/v1/leads/:id makes (changeLead + recordLeadUpdated): the lead read, its
  // update, the audit entry, in one transaction; `withEvent` adds the lead.updated outbox row.
  // In a workspace of its own without subscriptions, so none of these events is delivered.
  const outbox = async (): Promise<OutboxSamples> => {
    const ws = await seed(app).workspace("Outbox overhead workspace");
    const leadIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const lead = await db.lead.create({
        data: { workspaceId: ws.workspaceId, scenarioId: ws.scenarioId, name: `Overhead ${i}`, tags: [], source: "api" },
      });
      leadIds.push(lead.id);
    }
    let seq = 0;
    let recordMs = 0;
    const write = async (withEvent: boolean): Promise<number> => {
      const n = seq++;
      const leadId = leadIds[n % leadIds.length]!;
      const started = performance.now();
      await db.$transaction(async (tx) => {
        const before = await tx.lead.findUniqueOrThrow({ where: { id: leadId }, include: LEAD_INCLUDE });
        const row = await tx.lead.update({ where: { id: leadId }, data: { tags: ["overhead", `w${n}`], score: n % 101 }, include: LEAD_INCLUDE });
        const { changes, previous } = leadChanges(before, row);
        const at = { workspaceId: row.workspaceId, scenarioId: row.scenarioId };
        if (withEvent) {
          const t0 = performance.now();
          await events.record(tx, { ...at, type: EVENT_TYPE, payload: { leadId, changes, previous, lead: leadPayload(row) } });
          recordMs = performance.now() - t0;
        }
        await recordAudit(tx, { ...at, memberId: null, credentialId: null, action: "lead.updated", details: { leadId, changes, previous } });
      });
      return performance.now() - started;
    };
    const samples: OutboxSamples = { withEvent: [], withoutEvent: [], record: [] };
    for (let i = 0; i < OUTBOX_WARMUP + OUTBOX_N; i++) {
      // Alternating which goes first, so neither always follows the other.
      const order = i % 2 ? [true, false] : [false, true];
      for (const withEvent of order) {
        const ms = await write(withEvent);
        if (i >= OUTBOX_WARMUP) (withEvent ? samples.withEvent : samples.withoutEvent).push(ms);
        if (i >= OUTBOX_WARMUP && withEvent) samples.record.push(recordMs);
      }
    }
    return samples;
  };

  const shutdown = async () => {
    await parleyServer.stop();
    process.exit(0);
  };
  process.on("message", (m) => {
    if (m === "stop") void shutdown();
    if (m === "check") void check().then((c) => process.send!({ check: c }));
    if (m === "progress") void progress().then((p) => process.send!({ progress: p }));
    if (m === "cpu") process.send!({ cpu: process.cpuUsage() });
    if (m === "outbox") void outbox().then((s) => process.send!({ outbox: s }));
  });
  process.on("disconnect", () => void shutdown());
  process.send!({ parley, developerKey, workspaceId: tenant.workspaceId } satisfies Ready);
}

// ---------------------------------------------------------------- the receiver (parent process)
interface DeliverySeen {
  eventId: string;
  requests: number;
  ok: number;
  /** First attempts we answered 503 (the deliberate failures). */
  failedByUs: number;
}

interface EventSeen {
  webhookIds: Set<string>;
  /** Index of the PATCH that caused it (its tag), -1 when unreadable. */
  index: number;
  createdAt: number;
  firstOkAt: number | null;
}

async function startReceiver() {
  let secret = "";
  const byDelivery = new Map<string, DeliverySeen>();
  const byEvent = new Map<string, EventSeen>();
  const stats = { requests: 0, answered503: 0, badSignatures: 0, unreadable: 0, lastOkPerf: 0 };
  /** Whether a delivery gets a 503 on its first attempt: a fixed share of delivery ids. */
  const failsFirst = (webhookId: string) => createHash("sha256").update(webhookId).digest().readUInt32BE(0) / 2 ** 32 < FAIL_FRACTION;

  const verify = (headers: Record<string, string | string[] | undefined>, raw: Buffer): boolean => {
    const quincer = Buffer.from(String(headers["x-quincer-signature"] ?? ""));
    const expected = Buffer.from("sha256=" + createHmac("sha256", secret).update(raw).digest("hex"));
    if (quincer.length !== expected.length || !timingSafeEqual(quincer, expected)) return false;
    const id = String(headers["webhook-id"] ?? "");
    const ts = String(headers["webhook-timestamp"] ?? "");
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const standard = "v1," + createHmac("sha256", key).update(`${id}.${ts}.`).update(raw).digest("base64");
    return String(headers["webhook-signature"] ?? "").split(" ").includes(standard);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      stats.requests++;
      const raw = Buffer.concat(chunks);
      if (!verify(req.headers, raw)) {
        stats.badSignatures++;
        res.writeHead(401).end("invalid signature");
        return;
      }
      let body: { id?: string; type?: string; timestamp?: string; data?: { lead?: { tags?: string[] } } };
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        stats.unreadable++;
        res.writeHead(400).end("not JSON");
        return;
      }
      const webhookId = String(req.headers["webhook-id"]);
      const eventId = String(body.id);
      let d = byDelivery.get(webhookId);
      if (!d) byDelivery.set(webhookId, (d = { eventId, requests: 0, ok: 0, failedByUs: 0 }));
      d.requests++;
      let e = byEvent.get(eventId);
      if (!e) {
        const tag = body.data?.lead?.tags?.find((t) => /^e\d+$/.test(t));
        byEvent.set(eventId, (e = { webhookIds: new Set(), index: tag ? Number(tag.slice(1)) : -1, createdAt: Date.parse(body.timestamp ?? ""), firstOkAt: null }));
      }
      e.webhookIds.add(webhookId);
      if (d.requests === 1 && failsFirst(webhookId)) {
        d.failedByUs++;
        stats.answered503++;
        res.writeHead(503).end("busy, try again");
        return;
      }
      d.ok++;
      if (e.firstOkAt === null) {
        e.firstOkAt = Date.now();
        stats.lastOkPerf = performance.now();
      }
      res.writeHead(200).end("ok");
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/parley-webhooks`,
    byDelivery,
    byEvent,
    stats,
    setSecret(s: string) {
      secret = s;
    },
    /** Events received with a 2xx answer. */
    okEvents: () => {
      let n = 0;
      for (const e of byEvent.values()) if (e.firstOkAt !== null) n++;
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- the load (parent process)
const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
const round1 = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

function ask<T>(child: ChildProcess, message: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (m && typeof m === "object" && key in m) {
        child.off("message", on);
        resolve((m as Record<string, T>)[key]!);
      }
    };
    child.on("message", on);
    child.send(message);
  });
}

async function gql(ready: Ready, query: string, variables: Record<string, unknown>) {
  const res = await fetch(`${ready.parley}/graphql`, {
    method: "POST",
    headers: { authorization: `Bearer ${ready.developerKey}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (res.status !== 200 || body.errors) throw new Error(`GraphQL ${res.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

const CREATE_LEAD = `mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }`;
const SUBSCRIBE = `mutation($url: String!, $events: [String!]!) {
  createWebhookSubscription(url: $url, events: $events, description: "bench receiver") { secret subscription { id } } }`;

async function main() {
  console.log(
    `Parley webhooks bench: a burst of ${EVENTS} ${EVENT_TYPE} events (PATCH /api/v1/leads/:id, ${CONCURRENCY} in flight, over ${LEADS} leads) to a local receiver ` +
      `answering ${round1(FAIL_FRACTION * 100)}% of first attempts 503 (retry ceilings ${RETRY_MS.join(", ")} ms); outbox overhead over ${OUTBOX_N} writes each way; ` +
      `SQLite, ${JOB_WORKERS} job worker process(es), node ${process.version}`,
  );
  const loadStart = loadavg();
  console.log(`machine: ${cpus().length} cores, load average ${loadStart.map((l) => l.toFixed(2)).join(" ")} now`);
  if (loadStart[0]! > cpus().length / 2) console.log("WARNING: the machine is busy; figures will be high and noisy");

  const receiver = await startReceiver();
  const { child, ready } = await forkBenchServer<Ready>(fileURLToPath(import.meta.url), { production: true });
  const problems: string[] = [];
  let check: Check;
  let outbox: OutboxSamples;
  let timing: { writesSeconds: number; allSeconds: number | null; tailSeconds: number | null; cpuMsPerEvent: number };
  const statuses: Record<string, number> = {};
  let accepted = 0;
  try {
    // Leads first (their lead.created predate the subscription, which wants lead.updated only anyway).
    const leadIds: string[] = [];
    for (let i = 0; i < LEADS; i++) leadIds.push((await gql(ready, CREATE_LEAD, { input: { name: `Bench lead ${i}`, email: `bench${i}@example.com` } })).createLead.id);
    const created = await gql(ready, SUBSCRIBE, { url: receiver.url, events: [EVENT_TYPE] });
    receiver.setSecret(created.createWebhookSubscription.secret);
    console.log(`Parley at ${ready.parley} (SQLite, temp DATA_DIR); ${LEADS} leads; subscription ${created.createWebhookSubscription.subscription.id} → ${receiver.url}\n`);

    // The burst: closed loop, CONCURRENCY requests in flight, as fast as the server answers.
    const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
    const cpuBefore = await ask<NodeJS.CpuUsage>(child, "cpu", "cpu");
    const start = performance.now();
    let next = 0;
    let lastReport = start;
    const report = (what: string) => {
      const now = performance.now();
      if (now - lastReport < 5000) return;
      lastReport = now;
      console.log(`  ${((now - start) / 1000).toFixed(0)} s: ${what}, ${receiver.okEvents()} events received, ${receiver.stats.answered503} answered 503`);
    };
    const worker = async () => {
      while (next < EVENTS) {
        const i = next++;
        try {
          const res = await request(`${ready.parley}/api/v1/leads/${leadIds[i % LEADS]}`, {
            method: "PATCH",
            dispatcher: agent,
            headers: { authorization: `Bearer ${ready.developerKey}`, "content-type": "application/json" },
            body: JSON.stringify({ tags: ["bench", `e${i}`] }),
          });
          await res.body.dump();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode === 200) accepted++;
        } catch {
          statuses.error = (statuses.error ?? 0) + 1;
        }
        report(`${i + 1} PATCHes sent`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const writesDone = performance.now();
    await agent.close();
    console.log(`  writes done in ${((writesDone - start) / 1000).toFixed(1)} s: ${JSON.stringify(statuses)}`);
    if (accepted !== EVENTS) problems.push(`${EVENTS - accepted} PATCHes not answered 200: ${JSON.stringify(statuses)}`);

    // Until the receiver has every accepted write's event (or the timeout).
    let allAt: number | null = null;
    for (;;) {
      if (receiver.okEvents() >= accepted) {
        allAt = receiver.stats.lastOkPerf;
        break;
      }
      if (performance.now() - writesDone > DRAIN_TIMEOUT_MS) {
        problems.push(`after ${DRAIN_TIMEOUT_MS / 1000} s only ${receiver.okEvents()} of ${accepted} events received`);
        break;
      }
      report("waiting for deliveries");
      await sleep(20);
    }
    const cpuAfter = await ask<NodeJS.CpuUsage>(child, "cpu", "cpu");
    timing = {
      writesSeconds: (writesDone - start) / 1000,
      allSeconds: allAt === null ? null : (allAt - start) / 1000,
      tailSeconds: allAt === null ? null : Math.max(0, allAt - writesDone) / 1000,
      cpuMsPerEvent: (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000 / Math.max(1, accepted),
    };
    if (allAt !== null) console.log(`  every event received ${timing.allSeconds!.toFixed(1)} s after the first PATCH`);

    // Until the server has recorded every delivery's outcome, then a while for stray duplicates.
    const recordStart = performance.now();
    for (;;) {
      const p = await ask<Progress>(child, "progress", "progress");
      if (!p.unrelayed && !p.outstanding) break;
      if (performance.now() - recordStart > 60_000) {
        problems.push(`60 s after the receiver had everything, ${p.unrelayed} events unrelayed and ${p.outstanding} deliveries outstanding`);
        break;
      }
      await sleep(100);
    }
    await sleep(SETTLE_MS);
    check = await ask<Check>(child, "check", "check");

    console.log(`  outbox overhead: ${OUTBOX_WARMUP} warm-up pairs, then ${OUTBOX_N} writes with and ${OUTBOX_N} without the outbox row, interleaved…`);
    outbox = await ask<OutboxSamples>(child, "outbox", "outbox");
  } finally {
    child.send("stop");
    await new Promise((resolve) => child.once("exit", resolve));
    await receiver.close();
  }

  // ---------------------------------------------------------------- the verdict
  const { byDelivery, byEvent, stats } = receiver;
  const dbEvents = new Set(check!.eventIds);
  const deliveryOf = new Map(check!.deliveries.map((d) => [d.id, d]));
  // Lost: an event in the outbox, or an accepted PATCH, that never reached the receiver with a 2xx.
  let lost = 0;
  for (const id of dbEvents) if (byEvent.get(id)?.firstOkAt == null) lost++;
  const indices = new Set<number>();
  for (const e of byEvent.values()) if (e.firstOkAt !== null && e.index >= 0) indices.add(e.index);
  const writesWithoutEvent = accepted - dbEvents.size;
  const writesNotReceived = Math.max(0, accepted - indices.size);
  const foreign = [...byEvent.keys()].filter((id) => !dbEvents.has(id)).length;
  // Duplicates: requests beyond the first per delivery id, and event ids under more than one delivery id.
  let repeats = 0;
  let repeatsAfterRetry = 0;
  let unexplained = 0;
  let okTwice = 0;
  let retriedDeliveries = 0;
  for (const [webhookId, d] of byDelivery) {
    if (d.ok > 1) okTwice++;
    if (d.requests <= 1) continue;
    retriedDeliveries++;
    const extra = d.requests - 1;
    repeats += extra;
    // Each repeat must follow a failed attempt: ours (503) or one the server recorded (timeout, reset).
    const failed = Math.max(d.failedByUs, check!.failedAttempts[webhookId] ?? 0);
    repeatsAfterRetry += Math.min(extra, failed);
    unexplained += Math.max(0, extra - failed);
  }
  const eventsUnderSeveralIds = [...byEvent.values()].filter((e) => e.webhookIds.size > 1).length;
  const deliveriesPerEvent = new Map<string, number>();
  for (const d of check!.deliveries) if (d.domainEventId) deliveriesPerEvent.set(d.domainEventId, (deliveriesPerEvent.get(d.domainEventId) ?? 0) + 1);
  const dbDuplicateDeliveries = [...deliveriesPerEvent.values()].filter((n) => n > 1).length;
  const notSucceeded = check!.deliveries.filter((d) => d.status !== "succeeded").length;
  const unknownDeliveries = [...byDelivery.keys()].filter((id) => !deliveryOf.has(id)).length;

  if (lost) problems.push(`${lost} events lost (in the outbox, never received with a 2xx)`);
  if (writesWithoutEvent) problems.push(`${writesWithoutEvent} accepted PATCHes have no lead.updated event (${dbEvents.size} events for ${accepted} writes)`);
  if (writesNotReceived) problems.push(`${writesNotReceived} accepted PATCHes whose event (by its tag) never reached the receiver`);
  if (foreign) problems.push(`${foreign} events received that are not in the outbox`);
  if (unexplained) problems.push(`${unexplained} repeated requests without a failed attempt before them`);
  if (eventsUnderSeveralIds || dbDuplicateDeliveries) problems.push(`${eventsUnderSeveralIds} events received under several delivery ids; ${dbDuplicateDeliveries} events with several deliveries`);
  if (stats.badSignatures || stats.unreadable) problems.push(`${stats.badSignatures} requests with a bad signature, ${stats.unreadable} unreadable`);
  if (notSucceeded) problems.push(`${notSucceeded} deliveries not succeeded in the database`);
  if (unknownDeliveries) problems.push(`${unknownDeliveries} webhook-ids received that are not deliveries in the database`);
  if (check!.attempts !== stats.requests) problems.push(`the server recorded ${check!.attempts} attempts, the receiver saw ${stats.requests} requests`);

  const lags = sorted([...byEvent.values()].filter((e) => e.firstOkAt !== null).map((e) => e.firstOkAt! - e.createdAt));
  const w = sorted(outbox!.withEvent);
  const wo = sorted(outbox!.withoutEvent);
  const outboxFigures = {
    n: w.length,
    withEvent: { p50Ms: round2(quantile(w, 0.5)), p95Ms: round2(quantile(w, 0.95)), p99Ms: round2(quantile(w, 0.99)), meanMs: round2(mean(w)) },
    withoutEvent: { p50Ms: round2(quantile(wo, 0.5)), p95Ms: round2(quantile(wo, 0.95)), p99Ms: round2(quantile(wo, 0.99)), meanMs: round2(mean(wo)) },
    p50DiffMs: round2(quantile(w, 0.5) - quantile(wo, 0.5)),
    p95DiffMs: round2(quantile(w, 0.95) - quantile(wo, 0.95)),
    meanDiffMs: round2(mean(w) - mean(wo)),
    record: (() => {
      const r = sorted(outbox!.record);
      return { p50Ms: round2(quantile(r, 0.5)), p95Ms: round2(quantile(r, 0.95)), p99Ms: round2(quantile(r, 0.99)), meanMs: round2(mean(r)) };
    })(),
  };
  const burst = {
    events: EVENTS,
    accepted,
    writesSeconds: round2(timing!.writesSeconds),
    writesPerSecond: round1(accepted / timing!.writesSeconds),
    allReceivedSeconds: timing!.allSeconds === null ? null : round2(timing!.allSeconds),
    deliveredPerSecond: timing!.allSeconds === null ? null : round1(accepted / timing!.allSeconds),
    tailAfterLastWriteSeconds: timing!.tailSeconds === null ? null : round2(timing!.tailSeconds),
    lagP50Ms: Math.round(quantile(lags, 0.5)),
    lagP95Ms: Math.round(quantile(lags, 0.95)),
    lagMaxMs: Math.round(lags[lags.length - 1] ?? NaN),
    serverCpuMsPerEvent: round2(timing!.cpuMsPerEvent),
  };
  const delivery = {
    requests: stats.requests,
    deliveries: check!.deliveries.length,
    eventsInOutbox: dbEvents.size,
    eventsReceived: [...byEvent.values()].filter((e) => e.firstOkAt !== null).length,
    lost,
    answered503: stats.answered503,
    retriedDeliveries,
    duplicateRequests: repeats,
    duplicatesAfterRetry: repeatsAfterRetry,
    unexplainedDuplicates: unexplained,
    deliveriesAnswered2xxTwice: okTwice,
    eventsUnderSeveralDeliveryIds: eventsUnderSeveralIds,
    badSignatures: stats.badSignatures,
    serverAttempts: check!.attempts,
  };

  console.log(`\n| events | writes/s | writes done s | all received s | after last write s | lag p50 ms | lag p95 ms | lag max ms | lost | answered 503 | repeats (after a retry) | unexplained |`);
  console.log(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  console.log(
    `| ${accepted} | ${burst.writesPerSecond} | ${burst.writesSeconds} | ${burst.allReceivedSeconds ?? "—"} | ${burst.tailAfterLastWriteSeconds ?? "—"} | ` +
      `${burst.lagP50Ms} | ${burst.lagP95Ms} | ${burst.lagMaxMs} | ${lost} | ${stats.answered503} | ${repeats} (${repeatsAfterRetry}) | ${unexplained} |`,
  );
  console.log(`\n| lead update transaction (n = ${outboxFigures.n} each) | p50 ms | p95 ms | p99 ms | mean ms |\n| --- | ---: | ---: | ---: | ---: |`);
  console.log(`| without the outbox row | ${outboxFigures.withoutEvent.p50Ms} | ${outboxFigures.withoutEvent.p95Ms} | ${outboxFigures.withoutEvent.p99Ms} | ${outboxFigures.withoutEvent.meanMs} |`);
  console.log(`| with the outbox row | ${outboxFigures.withEvent.p50Ms} | ${outboxFigures.withEvent.p95Ms} | ${outboxFigures.withEvent.p99Ms} | ${outboxFigures.withEvent.meanMs} |`);
  console.log(`| difference of the two | ${outboxFigures.p50DiffMs} | ${outboxFigures.p95DiffMs} | | ${outboxFigures.meanDiffMs} |`);
  console.log(
    `| the outbox insert itself, inside the write | ${outboxFigures.record.p50Ms} | ${outboxFigures.record.p95Ms} | ${outboxFigures.record.p99Ms} | ${outboxFigures.record.meanMs} |`,
  );
  console.log(
    `receiver: ${stats.requests} requests for ${delivery.deliveries} deliveries of ${dbEvents.size} events; ${retriedDeliveries} deliveries retried; ` +
      `${okTwice} answered 2xx more than once; ${eventsUnderSeveralIds} events under several delivery ids; ${stats.badSignatures} bad signatures; ` +
      `server: ${check!.attempts} attempts recorded, ${burst.serverCpuMsPerEvent} ms CPU per event (first PATCH to last receipt, writes included)`,
  );
  const loadEnd = loadavg();
  console.log(`load average ${loadEnd.map((l) => l.toFixed(2)).join(" ")} at the end`);
  const deliveryMet = !problems.length;
  // What the row adds to its write is the insert's own time (its p95); the difference of two
  // p95s of ~7 ms ORM transactions is dominated by their own spread, so it is shown, not graded.
  const overheadMet = outboxFigures.record.p95Ms < TARGET_OVERHEAD_P95_MS;
  const size = EVENTS < TARGET_EVENTS ? ` [burst shrunk to ${EVENTS} events; the target's is ${TARGET_EVENTS}]` : "";
  console.log(
    `target (a burst of ${TARGET_EVENTS} events with none lost and duplicates only after a retry: ${deliveryMet ? "yes" : "NO"}; ` +
      `outbox insert < ${TARGET_OVERHEAD_P95_MS} ms p95 inside its write: ${outboxFigures.record.p95Ms} ms): ${deliveryMet && overheadMet ? "met" : "MISSED"}${size}`,
  );
  console.log(
    "\n" +
      JSON.stringify(
        {
          events: EVENTS,
          concurrency: CONCURRENCY,
          leads: LEADS,
          failFraction: FAIL_FRACTION,
          retryScheduleMs: RETRY_MS,
          jobWorkers: JOB_WORKERS,
          burst,
          delivery,
          patchStatuses: statuses,
          outbox: outboxFigures,
          loadAverage: [loadStart.map(round2), loadEnd.map(round2)],
        },
        null,
        2,
      ),
  );
  if (problems.length) {
    console.error(`\nBENCH FAILED:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
}

if (process.argv.includes("--serve")) await serve();
else await main();
