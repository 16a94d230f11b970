// Sustained chat load: 150 visitor messages per second for 60 s through the site-key API
// (POST /api/v1/chat/conversations/:visitor_token/messages), spread over 150 visitors, each with
// its own conversation, on SQLite. Arrivals are open-loop: sends are scheduled on a clock at a
// constant rate and never wait for earlier responses, so a slow server shows up as latency (and a
// falling achieved rate), not as a politely slower client. Afterwards the database is checked:
// every POST answered 201 stored exactly one visitor message, nothing else was stored, event ords
// are 1..n in every conversation, and the assistant's replies are counted once the reply jobs drain.
//   npm run bench                                  (runs the other benches, then this)
//   BENCH_SECONDS=10 BENCH_RATE=150 BENCH_VISITORS=150 tsx bench/chat-load.ts
//   BENCH_CPU_PROF=/tmp/prof tsx bench/chat-load.ts     (the server's V8 CPU profile, for where the time goes)
// The server runs in a child process; the load generator in this one. Rate limits are raised out
// of the way (same limiter code path). Target: p95 < 100 ms with no lost or duplicated event.
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { forkBenchServer, startBenchParley } from "./harness.ts";
import { Agent, request } from "undici";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const RATE = Number(process.env.BENCH_RATE ?? 150);
const VISITORS = Number(process.env.BENCH_VISITORS ?? 150);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? Math.min(5, SECONDS));
const TARGET_P95_MS = 100;
const DRAIN_TIMEOUT_MS = 120_000;
/** Job worker processes beside the server (JOB_WORKERS): replies and analysis run there. */
const JOB_WORKERS = Number(process.env.BENCH_JOB_WORKERS ?? 1);

interface Ready {
  parley: string;
  widgetKey: string;
  visitors: string[];
}

/** What the server process finds in its database after the run. */
interface Check {
  conversations: number;
  /** Conversations whose event ords are not exactly 1..eventCount (or disagree with eventCount). */
  brokenOrds: { conversationId: string; ords: number[]; eventCount: number }[];
  /** Stored visitor messages by content. */
  visitorMessages: Record<string, number>;
  assistantReplies: number;
  welcomeMessages: number;
  jobs: Record<string, number>;
}

/** The server process's CPU time and event-loop utilisation so far (deltas taken around the measured window). */
interface Stats {
  cpu: NodeJS.CpuUsage;
  elu: ReturnType<typeof performance.eventLoopUtilization>;
}

// ---------------------------------------------------------------- the server (child process)
async function serve() {
  const { seed } = await import("../test/helpers/seed.ts");
  const parleyServer = await startBenchParley("parley-bench-chat-", { jobWorkers: JOB_WORKERS });
  const { app, url: parley } = parleyServer;
  const db = app.runtime.db;

  const tenant = await seed(app).workspace("Bench workspace");
  await tenant.knowledgeBase([
    { title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 working days." },
    { title: "Returns", content: "You can return any item within 30 days of delivery for a full refund." },
    { title: "Payment", content: "We accept credit cards, PayPal and bank transfers. Invoices are sent by email." },
  ]);
  const widgetKey = (await tenant.widgetKey()).secret;

  // Each visitor opens a conversation through the API, as a widget would.
  const visitors: string[] = [];
  for (let i = 0; i < VISITORS; i++) {
    const visitorToken = `bench-visitor-${i}-${Date.now().toString(36)}`;
    const res = await fetch(`${parley}/api/v1/chat/conversations`, {
      method: "POST",
      headers: { authorization: `Bearer ${widgetKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `Visitor ${i}`, email: `visitor${i}@example.com`, message: `open ${i}`, visitor_token: visitorToken }),
    });
    if (res.status !== 201) throw new Error(`creating visitor ${i}: ${res.status} ${await res.text()}`);
    visitors.push(visitorToken);
  }

  const check = async (): Promise<Check> => {
    const conversations = await db.conversation.findMany({ where: { scenarioId: tenant.scenarioId }, select: { id: true, eventCount: true } });
    const events = await db.conversationEvent.findMany({
      where: { conversation: { scenarioId: tenant.scenarioId } },
      select: { conversationId: true, ord: true, author: true, content: true, isWelcome: true },
    });
    const ordsBy = new Map<string, number[]>();
    const visitorMessages: Record<string, number> = {};
    let assistantReplies = 0;
    let welcomeMessages = 0;
    for (const e of events) {
      let list = ordsBy.get(e.conversationId);
      if (!list) ordsBy.set(e.conversationId, (list = []));
      list.push(e.ord);
      if (e.author === "visitor") visitorMessages[e.content] = (visitorMessages[e.content] ?? 0) + 1;
      else if (e.isWelcome) welcomeMessages++;
      else assistantReplies++;
    }
    const brokenOrds: Check["brokenOrds"] = [];
    for (const c of conversations) {
      const ords = (ordsBy.get(c.id) ?? []).sort((a, b) => a - b);
      if (ords.length !== c.eventCount || ords.some((o, i) => o !== i + 1)) brokenOrds.push({ conversationId: c.id, ords, eventCount: c.eventCount });
    }
    const jobs: Record<string, number> = {};
    for (const g of await db.job.groupBy({ by: ["status"], _count: { _all: true } })) jobs[g.status] = g._count._all;
    return { conversations: conversations.length, brokenOrds, visitorMessages, assistantReplies, welcomeMessages, jobs };
  };

  const shutdown = async () => {
    await parleyServer.stop();
    process.exit(0);
  };
  process.on("message", (m) => {
    if (m === "stop") void shutdown();
    if (m === "check") void check().then((c) => process.send!({ check: c }));
    if (m === "jobs") void db.job.count({ where: { status: { in: ["queued", "running"] } } }).then((n) => process.send!({ jobs: n }));
    if (m === "stats") process.send!({ stats: { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() } satisfies Stats });
  });
  process.on("disconnect", () => void shutdown());
  process.send!({ parley, widgetKey, visitors } satisfies Ready);
}

// ---------------------------------------------------------------- the load (parent process)
interface Sent {
  text: string;
  at: number;
  ms: number;
  status: number;
  measured: boolean;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
const round1 = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(ready: Ready): Promise<{ sent: Sent[]; seconds: number }> {
  // No client timeouts: when the server falls behind, the latency is the finding.
  const agent = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const sent: Sent[] = [];
  const inFlight = new Set<Promise<void>>();
  const seq = new Array<number>(ready.visitors.length).fill(0);
  const total = Math.round(RATE * (WARMUP_SECONDS + SECONDS));
  const send = (n: number) => {
    const v = n % ready.visitors.length;
    const text = `load ${v}-${seq[v]++} how long does shipping take?`;
    const s: Sent = { text, at: performance.now(), ms: NaN, status: 0, measured: n >= RATE * WARMUP_SECONDS };
    sent.push(s);
    const p = request(`${ready.parley}/api/v1/chat/conversations/${ready.visitors[v]}/messages`, {
      method: "POST",
      dispatcher: agent,
      headers: { authorization: `Bearer ${ready.widgetKey}`, "content-type": "application/json" },
      body: JSON.stringify({ message: text }),
    })
      .then(async (res) => {
        await res.body.dump();
        s.status = res.statusCode;
      })
      .catch(() => {
        s.status = -1;
      })
      .finally(() => {
        s.ms = performance.now() - s.at;
        inFlight.delete(p);
      });
    inFlight.add(p);
  };

  // Open loop: every tick sends whatever the clock says is due, however the earlier sends fare.
  const start = performance.now();
  let n = 0;
  let lastReport = start;
  while (n < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
    while (n < due) send(n++);
    const now = performance.now();
    if (now - lastReport >= 10_000) {
      lastReport = now;
      const done = sent.filter((s) => s.status !== 0);
      process.stdout.write(`  ${((now - start) / 1000).toFixed(0)} s: ${n} sent, ${done.length} answered, ${inFlight.size} in flight\n`);
    }
    await sleep(2);
  }
  const sendSeconds = (performance.now() - start) / 1000;
  await Promise.all(inFlight);
  await agent.close();
  return { sent, seconds: sendSeconds };
}

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

async function main() {
  console.log(
    `Parley chat load bench: ${RATE} visitor messages/s for ${SECONDS} s (after ${WARMUP_SECONDS} s warm-up) over ${VISITORS} visitors, site-key API, SQLite, ${JOB_WORKERS} job worker process(es), node ${process.version}`,
  );
  const loadStart = loadavg()[0];
  console.log(`machine: ${cpus().length} cores, load average ${loadStart.toFixed(2)} now`);
  if (loadStart > cpus().length / 2) console.log("WARNING: the machine is busy; figures will be high and noisy");
  const { child, ready } = await forkBenchServer<Ready>(fileURLToPath(import.meta.url), { production: true });
  console.log(`Parley at ${ready.parley} (SQLite, temp DATA_DIR), ${ready.visitors.length} visitor conversations open\n`);

  let check: Check;
  let result: Awaited<ReturnType<typeof run>>;
  let server: { cpuMsPerMessage: number; loopMsPerMessage: number; eventLoopUtilization: number };
  const problems: string[] = [];
  try {
    const before = await ask<Stats>(child, "stats", "stats");
    result = await run(ready);
    // Let the reply jobs finish before counting replies.
    const drainStart = performance.now();
    for (;;) {
      const unfinished = await ask<number>(child, "jobs", "jobs");
      if (!unfinished) break;
      if (performance.now() - drainStart > DRAIN_TIMEOUT_MS) {
        problems.push(`${unfinished} reply jobs still unfinished after ${DRAIN_TIMEOUT_MS / 1000} s`);
        break;
      }
      await sleep(500);
    }
    console.log(`  reply jobs drained ${((performance.now() - drainStart) / 1000).toFixed(1)} s after the last response`);
    // All the server's work for the load messages (POSTs, reply jobs, analysis, polling) from the
    // first send until the queue drained, per message: what one message costs the event loop.
    const after = await ask<Stats>(child, "stats", "stats");
    const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
    const activeMs = after.elu.active - before.elu.active;
    const idleMs = after.elu.idle - before.elu.idle;
    server = {
      cpuMsPerMessage: round1(cpuMs / result.sent.length),
      loopMsPerMessage: round1(activeMs / result.sent.length),
      eventLoopUtilization: Math.round((activeMs / (activeMs + idleMs)) * 100) / 100,
    };
    check = await ask<Check>(child, "check", "check");
  } finally {
    child.send("stop");
    await new Promise((resolve) => child.once("exit", resolve));
  }

  const { sent, seconds } = result;
  const measured = sent.filter((s) => s.measured);
  const ok = measured.filter((s) => s.status === 201);
  const latencies = measured.map((s) => s.ms).sort((a, b) => a - b);
  // Achieved: accepted messages over the time from the first measured send to the last answer.
  const firstAt = measured[0]?.at ?? 0;
  const lastDone = Math.max(...measured.map((s) => s.at + s.ms));
  const measuredSeconds = Math.max(seconds - WARMUP_SECONDS, (lastDone - firstAt) / 1000);
  const statusCounts: Record<string, number> = {};
  for (const s of sent) statusCounts[s.status] = (statusCounts[s.status] ?? 0) + 1;

  // Every accepted POST: exactly one stored message; nothing stored that was not accepted.
  const accepted = new Set(sent.filter((s) => s.status === 201).map((s) => s.text));
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const text of accepted) {
    const stored = check!.visitorMessages[text] ?? 0;
    if (stored === 0) lost++;
    if (stored > 1) duplicated++;
  }
  for (const [text, count] of Object.entries(check!.visitorMessages)) {
    if (text.startsWith("load ") && !accepted.has(text)) unexpected += count;
  }
  if (sent.length !== accepted.size) problems.push(`${sent.length - accepted.size} POSTs were not answered 201: ${JSON.stringify(statusCounts)}`);
  if (lost || duplicated || unexpected) problems.push(`${lost} lost, ${duplicated} duplicated, ${unexpected} stored without a 201`);
  if (check!.brokenOrds.length) problems.push(`${check!.brokenOrds.length} conversations with broken ords, e.g. ${JSON.stringify(check!.brokenOrds[0])}`);

  const figures = {
    offeredRate: round1(measured.length / (seconds - WARMUP_SECONDS)),
    achievedRate: round1(ok.length / measuredSeconds),
    requests: measured.length,
    p50Ms: round1(quantile(latencies, 0.5)),
    p95Ms: round1(quantile(latencies, 0.95)),
    p99Ms: round1(quantile(latencies, 0.99)),
    maxMs: round1(latencies[latencies.length - 1] ?? NaN),
  };
  const visitorMessagesStored = Object.entries(check!.visitorMessages).reduce((n, [text, c]) => n + (text.startsWith("load ") ? c : 0), 0);
  console.log(`\n| offered msg/s | achieved msg/s | p50 ms | p95 ms | p99 ms | max ms |\n| ---: | ---: | ---: | ---: | ---: | ---: |`);
  console.log(`| ${figures.offeredRate} | ${figures.achievedRate} | ${figures.p50Ms} | ${figures.p95Ms} | ${figures.p99Ms} | ${figures.maxMs} |`);
  console.log(
    `database: ${check!.conversations} conversations; ${visitorMessagesStored} load messages stored for ${accepted.size} accepted POSTs (${lost} lost, ${duplicated} duplicated, ${unexpected} unexpected); ` +
      `${check!.assistantReplies} assistant replies, ${check!.welcomeMessages} greetings; ords contiguous in ${check!.conversations - check!.brokenOrds.length}/${check!.conversations} conversations; jobs ${JSON.stringify(check!.jobs)}`,
  );
  console.log(
    `server process, first send to drained queue: ${server!.cpuMsPerMessage} ms CPU and ${server!.loopMsPerMessage} ms of busy event loop per message ` +
      `(the loop's budget at ${RATE} msg/s: ${round1(1000 / RATE)} ms), event loop ${Math.round(server!.eventLoopUtilization * 100)}% busy`,
  );
  console.log(`load average ${loadavg()[0].toFixed(2)} at the end`);
  const met = figures.p95Ms < TARGET_P95_MS && figures.achievedRate >= RATE * 0.98 && !problems.length;
  console.log(`target (${RATE} msg/s sustained, p95 < ${TARGET_P95_MS} ms, nothing lost or duplicated): ${met ? "met" : "MISSED"}`);
  console.log(
    "\n" +
      JSON.stringify(
        {
          seconds: SECONDS,
          rate: RATE,
          visitors: VISITORS,
          ...figures,
          stored: visitorMessagesStored,
          accepted: accepted.size,
          lost,
          duplicated,
          unexpected,
          assistantReplies: check!.assistantReplies,
          brokenOrds: check!.brokenOrds.length,
          server: server!,
          jobs: check!.jobs,
          loadAverage: [round1(loadStart), round1(loadavg()[0])],
        },
        null,
        2,
      ),
  );
  if (problems.length) {
    console.error(`\nBENCH INVALID:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
}

if (process.argv.includes("--serve")) await serve();
else await main();
