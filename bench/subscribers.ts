// Live fan-out: 1,000 graphql-ws subscribers on one scenario's inbox, a visitor posting messages
// through the site-key API, and per message the time from the POST's start to its receipt by EVERY
// subscriber (the slowest one). Baseline in the same run: a bare `ws` server that, on an HTTP POST,
// broadcasts a payload of the same size to 1,000 plain `ws` clients (POST start → last receipt).
//   npm run bench                                   (runs bench/run.ts, bench/search.ts, then this)
//   BENCH_SUBSCRIBERS=1000 BENCH_MESSAGES=200 BENCH_GAP_MS=50 tsx bench/subscribers.ts
//   BENCH_CPU_PROF=/tmp/prof tsx bench/subscribers.ts   (the server's V8 CPU profile, for where the time goes)
//   BENCH_CREDENTIALS=1000 tsx bench/subscribers.ts     (subscribers spread over that many read_all tokens;
//     default 1, one dashboard token: subscribers with one credential share each event's execution)
// The servers (Parley on a fresh temp SQLite DATA_DIR, and the bare one) run in a child process;
// the subscribers and the visitor run in this one, so both measurements pay the same client costs.
// Rate limits are raised out of the way (same limiter code path). Targets: p99 ≤ 100 ms and
// p99 within 2× of the bare broadcast's p99.
import { createServer } from "node:http";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { forkBenchServer, startBenchParley } from "./harness.ts";
import { createClient, type Client } from "graphql-ws";
import WebSocket, { WebSocketServer } from "ws";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP_MESSAGES ?? 20);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 50);
const CREDENTIALS = Math.max(1, Number(process.env.BENCH_CREDENTIALS ?? 1));
const ROUND_TIMEOUT_MS = 10_000;
const TARGET_P99_MS = 100;
const TARGET_RATIO = 2;

interface Ready {
  parley: string;
  bare: string;
  widgetKey: string;
  operatorTokens: string[];
  visitorToken: string;
  scenarioId: string;
  subscription: Subscription;
}

/** Which inbox subscription the schema has: inboxUpdated when present, else workspaceEvents. */
interface Subscription {
  name: "inboxUpdated" | "workspaceEvents";
  query: string;
}

// ---------------------------------------------------------------- the servers (child process)
async function serve() {
  const { seed } = await import("../test/helpers/seed.ts");
  // BENCH_JOB_WORKERS=1: the reply jobs (and their own inbox updates) run in a worker process.
  const parleyServer = await startBenchParley("parley-bench-subs-", { jobWorkers: Number(process.env.BENCH_JOB_WORKERS ?? 0) });
  const { app, url: parley } = parleyServer;

  const tenant = await seed(app).workspace("Bench workspace");
  await tenant.knowledgeBase([
    { title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 working days." },
    { title: "Returns", content: "You can return any item within 30 days of delivery for a full refund." },
  ]);
  const widgetKey = (await tenant.widgetKey()).secret;
  const operatorTokens: string[] = [];
  for (let i = 0; i < CREDENTIALS; i++) operatorTokens.push((await tenant.token("read_all")).secret);
  const visitorToken = `bench-visitor-${Date.now()}`;
  const created = await fetch(`${parley}/api/v1/chat/conversations`, {
    method: "POST",
    headers: { authorization: `Bearer ${widgetKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Bench visitor", email: "visitor@example.com", message: "Hello", visitor_token: visitorToken }),
  });
  if (created.status !== 201) throw new Error(`creating the visitor conversation: ${created.status} ${await created.text()}`);
  const subscription = await pickSubscription(tenant.scenarioId);

  // The baseline: POST /broadcast sends the request body, as it is, to every connected client.
  const bareHttp = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const payload = Buffer.concat(chunks).toString("utf8");
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(payload);
      res.writeHead(201, { "content-type": "application/json" }).end('{"status":"ok"}');
    });
  });
  const wss = new WebSocketServer({ server: bareHttp });
  await new Promise<void>((resolve) => bareHttp.listen(0, "127.0.0.1", resolve));
  const address = bareHttp.address();
  const bare = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  const shutdown = async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    bareHttp.close();
    await parleyServer.stop();
    process.exit(0);
  };
  process.on("message", (m) => {
    if (m === "stop") void shutdown();
  });
  process.on("disconnect", () => void shutdown());
  process.send!({ parley, bare, widgetKey, operatorTokens, visitorToken, scenarioId: tenant.scenarioId, subscription } satisfies Ready);
}

async function pickSubscription(scenarioId: string): Promise<Subscription> {
  const { schema } = await import("../src/graphql/schema.ts");
  if (schema.getSubscriptionType()?.getFields().inboxUpdated) {
    return {
      name: "inboxUpdated",
      query: `subscription { inboxUpdated(scenarioId: ${JSON.stringify(scenarioId)}) { reason conversation { id lastMessageContent hasUnreadMessages } } }`,
    };
  }
  return { name: "workspaceEvents", query: "subscription { workspaceEvents { id type payload } }" };
}

// ---------------------------------------------------------------- measuring (parent process)

/** One round at a time: each subscriber reports its first matching receipt; the round ends when all did. */
class Rounds {
  private current = -1;
  private received = new Set<number>();
  private last = 0;
  private done: (() => void) | null = null;
  constructor(private readonly subscribers: number) {}

  start(round: number): Promise<void> {
    this.current = round;
    this.received = new Set();
    this.last = 0;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.done = null;
        reject(new Error(`round ${round}: only ${this.received.size} of ${this.subscribers} subscribers received it in ${ROUND_TIMEOUT_MS} ms`));
      }, ROUND_TIMEOUT_MS);
      this.done = () => {
        clearTimeout(timer);
        this.done = null;
        resolve();
      };
    });
  }

  receipt(subscriber: number, round: number): void {
    if (round !== this.current || this.received.has(subscriber)) return;
    this.received.add(subscriber);
    this.last = performance.now();
    if (this.received.size === this.subscribers) this.done?.();
  }

  get lastReceipt(): number {
    return this.last;
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const round1 = (n: number) => Math.round(n * 10) / 10;

interface Figures {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  postP50Ms: number;
  messages: number;
  /** Share of the time the subscribers' process was busy during the measured messages. */
  clientLoopBusy: number;
}

function figures(latencies: number[], posts: number[], clientBusy: number): Figures {
  const s = [...latencies].sort((a, b) => a - b);
  const p = [...posts].sort((a, b) => a - b);
  return {
    p50Ms: round1(quantile(s, 0.5)),
    p99Ms: round1(quantile(s, 0.99)),
    maxMs: round1(s[s.length - 1]!),
    meanMs: round1(s.reduce((a, b) => a + b, 0) / s.length),
    postP50Ms: round1(quantile(p, 0.5)),
    messages: s.length,
    clientLoopBusy: Math.round(clientBusy * 100) / 100,
  };
}

async function inBatches<T>(n: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, k) => make(i + k)))));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `count` messages one after another; `send(round)` starts one and resolves when its POST
 * answered. Returns per-message latency (POST start → last receipt) and POST time.
 */
async function measure(rounds: Rounds, count: number, firstRound: number, send: (round: number) => Promise<void>) {
  const latencies: number[] = [];
  const posts: number[] = [];
  const elu = performance.eventLoopUtilization();
  for (let i = 0; i < count; i++) {
    const round = firstRound + i;
    const all = rounds.start(round);
    const t0 = performance.now();
    await send(round);
    posts.push(performance.now() - t0);
    await all;
    latencies.push(rounds.lastReceipt - t0);
    await sleep(GAP_MS);
  }
  // The subscribers' own process: when its loop is saturated, receipts wait on the client side.
  const clientBusy = performance.eventLoopUtilization(elu).utilization;
  return { latencies, posts, clientBusy };
}

async function parleyPhase(ready: Ready): Promise<{ figures: Figures; payloadBytes: number }> {
  const rounds = new Rounds(SUBSCRIBERS);
  const wsUrl = ready.parley.replace(/^http/, "ws") + "/graphql";
  let payloadBytes = 0;
  // Sequential sends: the visitor's message of round r is the only one in flight, so a subscriber
  // attributes the first visitor-message notification it sees after the round started to it.
  let round = -1;
  const isVisitorMessage = (data: Record<string, any> | null | undefined): boolean => {
    if (!data) return false;
    if (ready.subscription.name === "inboxUpdated") {
      const u = data.inboxUpdated;
      return typeof u?.conversation?.lastMessageContent === "string" && u.conversation.lastMessageContent.startsWith(`bench message ${round} `);
    }
    return data.workspaceEvents?.type === "conversation.message_received";
  };

  const clients: Client[] = [];
  process.stdout.write(`  connecting ${SUBSCRIBERS} graphql-ws subscribers (${ready.subscription.name})… `);
  await inBatches(SUBSCRIBERS, 50, async (i) => {
    await new Promise<void>((resolve, reject) => {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${ready.operatorTokens[i % ready.operatorTokens.length]}` },
        retryAttempts: 0,
        lazy: false,
        on: { connected: () => resolve(), closed: (e) => reject(new Error(`subscriber ${i} closed: ${(e as { code?: number }).code}`)) },
      });
      clients.push(client);
      client.subscribe<Record<string, any>>(
        { query: ready.subscription.query },
        {
          next: (result) => {
            if (result.errors) throw new Error(`subscriber ${i}: ${JSON.stringify(result.errors)}`);
            if (!isVisitorMessage(result.data)) return;
            if (!payloadBytes) payloadBytes = JSON.stringify({ id: "00000000-0000-0000-0000-000000000000", type: "next", payload: result }).length;
            rounds.receipt(i, round);
          },
          error: (err) => console.error(`subscriber ${i} error`, err),
          complete: () => {},
        },
      );
    });
  });
  console.log("connected");

  const visitorPost = async (r: number) => {
    round = r;
    const res = await fetch(`${ready.parley}/api/v1/chat/conversations/${ready.visitorToken}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${ready.widgetKey}`, "content-type": "application/json" },
      body: JSON.stringify({ message: `bench message ${r} — how long does shipping take?` }),
    });
    if (res.status !== 201) throw new Error(`visitor POST: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };

  // Warm-up: the first rounds also prove every subscription is live on the server.
  process.stdout.write(`  warm-up (${WARMUP} messages)… `);
  await measure(rounds, WARMUP, 0, visitorPost);
  process.stdout.write(`measuring ${MESSAGES} messages… `);
  const { latencies, posts, clientBusy } = await measure(rounds, MESSAGES, WARMUP, visitorPost);
  console.log("done");
  await Promise.all(clients.map((c) => c.dispose()));
  return { figures: figures(latencies, posts, clientBusy), payloadBytes };
}

async function barePhase(ready: Ready, payloadBytes: number): Promise<Figures> {
  const rounds = new Rounds(SUBSCRIBERS);
  const wsUrl = ready.bare.replace(/^http/, "ws");
  process.stdout.write(`  connecting ${SUBSCRIBERS} plain ws clients… `);
  const sockets = await inBatches(SUBSCRIBERS, 50, (i) => {
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      ws.on("open", () => resolve(ws));
      ws.on("error", reject);
      ws.on("message", (raw) => {
        const m = JSON.parse(raw.toString()) as { round: number };
        rounds.receipt(i, m.round);
      });
    });
  });
  console.log("connected");
  const payload = (r: number) => {
    const base = JSON.stringify({ round: r, pad: "" });
    return JSON.stringify({ round: r, pad: "x".repeat(Math.max(0, payloadBytes - base.length)) });
  };
  const broadcast = async (r: number) => {
    const res = await fetch(`${ready.bare}/broadcast`, { method: "POST", headers: { "content-type": "application/json" }, body: payload(r) });
    if (res.status !== 201) throw new Error(`bare POST: ${res.status}`);
    await res.arrayBuffer();
  };
  process.stdout.write(`  warm-up (${WARMUP} broadcasts)… `);
  await measure(rounds, WARMUP, 0, broadcast);
  process.stdout.write(`measuring ${MESSAGES} broadcasts of ${payloadBytes} bytes… `);
  const { latencies, posts, clientBusy } = await measure(rounds, MESSAGES, WARMUP, broadcast);
  console.log("done");
  for (const s of sockets) s.terminate();
  return figures(latencies, posts, clientBusy);
}

async function main() {
  console.log(
    `Parley subscriber fan-out bench: ${SUBSCRIBERS} subscribers (${CREDENTIALS} credential${CREDENTIALS === 1 ? "" : "s"}), ${MESSAGES} messages (${GAP_MS} ms apart), node ${process.version}`,
  );
  const loadStart = loadavg()[0];
  console.log(`machine: ${cpus().length} cores, load average ${loadStart.toFixed(2)} now`);
  if (loadStart > cpus().length / 2) console.log("WARNING: the machine is busy; figures will be high and noisy");
  const { child, ready } = await forkBenchServer<Ready>(fileURLToPath(import.meta.url), { production: true });
  console.log(`Parley at ${ready.parley} (SQLite, temp DATA_DIR), subscription ${ready.subscription.name}; bare ws at ${ready.bare}\n`);

  let parley: Figures;
  let bare: Figures;
  let payloadBytes: number;
  try {
    ({ figures: parley, payloadBytes } = await parleyPhase(ready));
    bare = await barePhase(ready, payloadBytes);
  } finally {
    child.send("stop");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  const ratio = parley.p99Ms / Math.max(bare.p99Ms, 0.1);
  const header = ["", "p50 ms", "p99 ms", "max ms", "mean ms", "POST p50 ms", "subscribers' loop busy"];
  const row = (name: string, f: Figures) => [name, f.p50Ms, f.p99Ms, f.maxMs, f.meanMs, f.postP50Ms, `${Math.round(f.clientLoopBusy * 100)}%`].map(String);
  console.log(`\nPOST start → received by all ${SUBSCRIBERS} subscribers (payload ${payloadBytes} bytes)`);
  console.log(`| ${header.join(" | ")} |\n|${header.map((_, i) => (i ? " ---: " : " --- ")).join("|")}|`);
  console.log(`| ${row(`Parley (site-key POST → ${ready.subscription.name})`, parley).join(" | ")} |`);
  console.log(`| ${row("bare ws broadcast (POST → all clients)", bare).join(" | ")} |`);
  console.log(`Parley p99 / bare p99 = ${ratio.toFixed(2)}; load average ${loadavg()[0].toFixed(2)} at the end`);
  const ok = parley.p99Ms <= TARGET_P99_MS && ratio <= TARGET_RATIO;
  console.log(`target (p99 ≤ ${TARGET_P99_MS} ms and ≤ ${TARGET_RATIO}× bare): ${ok ? "met" : "MISSED"}`);
  console.log(
    "\n" +
      JSON.stringify(
        { subscribers: SUBSCRIBERS, credentials: CREDENTIALS, messages: MESSAGES, gapMs: GAP_MS, subscription: ready.subscription.name, payloadBytes, parley, bare, ratioP99: round1(ratio), loadAverage: [round1(loadStart), round1(loadavg()[0])] },
        null,
        2,
      ),
  );
}

// Last: the classes and constants above are initialised by now.
if (process.argv.includes("--serve")) await serve();
else await main();
