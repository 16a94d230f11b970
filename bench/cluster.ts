// Scale-out bench (issue 8): visitor messages/s and delivery latency with two Parley instances on
// one PostgreSQL + one Redis, next to one instance on the same servers, in the same run.
//   npm run bench:cluster                      (bench/cluster.sh starts a throwaway PostgreSQL and Redis)
//   BENCH_RATE=60 BENCH_SECONDS=20 BENCH_CONVERSATIONS=100 npm run bench:cluster
// Each run gets a fresh database (startCluster) and real processes (`node --import tsx src/main.ts`,
// JOB_WORKERS=0, no LLM: the knowledge-base responder answers every message). N conversations are
// opened through the site-key API; conversation c is posted to through instance c % k and watched
// by an operator's messageAdded subscription on instance (c + 1) % k, so with two instances every
// delivery crosses Redis. Visitor messages are sent open-loop at a constant rate (a slow server shows
// up as latency, not as a politely slower client); delivery latency is POST start → the operator's
// subscription receives the message. "Lost": answered 201 but never delivered within the drain time.
// Each visitor comes from its own address (X-Forwarded-For, TRUST_PROXY=true), as behind a load
// balancer: the per-visitor limit (20 messages/min) is the production one, so keep
// RATE * SECONDS / CONVERSATIONS under 20.
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { Agent, request } from "undici";
import { startCluster, type Cluster, type ParleyProcess } from "../test/cluster/helpers/cluster.ts";

const RATE = Number(process.env.BENCH_RATE ?? 60);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 100);
const DRAIN_MS = Number(process.env.BENCH_DRAIN_MS ?? 15_000);
/** A read_all token's GraphQL budget is 120 operations a minute: one token per this many subscriptions. */
const SUBSCRIPTIONS_PER_TOKEN = 100;

const MESSAGE_ADDED = `subscription ($id: ID!) { messageAdded(conversationId: $id, afterOrd: 0) { ord author content } }`;

interface Sent {
  text: string;
  at: number;
  status: number;
  /** When the operator's subscription received it (performance.now()). */
  deliveredAt?: number;
}

interface Result {
  instances: number;
  offered: number;
  achieved: number;
  accepted: number;
  notAccepted: number;
  delivered: number;
  lost: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
const round1 = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A distinct visitor address per conversation (and run: Redis keeps rate-limit counters between runs). */
const visitorIp = (run: number, c: number) => `10.${run}.${Math.floor(c / 250)}.${(c % 250) + 1}`;

async function post(agent: Agent, p: ParleyProcess, path: string, site: string, ip: string, body: unknown) {
  const res = await request(`${p.url}${path}`, {
    method: "POST",
    dispatcher: agent,
    headers: { authorization: `Bearer ${site}`, "content-type": "application/json", "x-forwarded-for": ip },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function runOnce(run: number, instances: number): Promise<Result> {
  const names = Array.from({ length: instances }, (_, i) => String.fromCharCode(65 + i));
  const cluster: Cluster = await startCluster(names, { TRUST_PROXY: "true" });
  const agent = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const clients: Client[] = [];
  try {
    const procs = cluster.processes;
    const site = (await cluster.cli<{ key: string }>("key", "create", "--kind", "widget", "--scenario", cluster.credentials.scenarioId)).key;
    const tokens: string[] = [];
    for (let i = 0; i < Math.ceil(CONVERSATIONS / SUBSCRIPTIONS_PER_TOKEN); i++) {
      tokens.push((await cluster.cli<{ token: string }>("token", "create", "--scenario", cluster.credentials.scenarioId, "--scope", "read_all")).token);
    }

    // Open the conversations, each through its posting instance.
    const visitors: { token: string; id: string; ip: string; postTo: ParleyProcess; watchOn: ParleyProcess }[] = [];
    for (let c = 0; c < CONVERSATIONS; c++) {
      const visitorToken = `bench-${run}-${c}-${Date.now().toString(36)}`;
      const ip = visitorIp(run, c);
      const postTo = procs[c % instances]!;
      const res = await post(agent, postTo, "/api/v1/chat/conversations", site, ip, { name: `Visitor ${c}`, email: `v${c}@example.com`, message: `open ${c}`, visitor_token: visitorToken });
      if (res.status !== 201) throw new Error(`opening conversation ${c}: ${res.status} ${res.text}`);
      const id = (JSON.parse(res.text) as { conversation_token: string }).conversation_token;
      visitors.push({ token: visitorToken, id, ip, postTo, watchOn: procs[(c + 1) % instances]! });
    }

    // One operator connection per instance and token; a messageAdded subscription per conversation.
    const byText = new Map<string, Sent>();
    const opened = new Set<number>();
    const subscriptionErrors: string[] = [];
    const clientFor = new Map<string, Client>();
    for (const [c, v] of visitors.entries()) {
      const tokenIndex = Math.floor(c / SUBSCRIPTIONS_PER_TOKEN);
      const key = `${v.watchOn.name}:${tokenIndex}`;
      let client = clientFor.get(key);
      if (!client) {
        client = createClient({ url: v.watchOn.wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${tokens[tokenIndex]}` }, retryAttempts: 0 });
        clientFor.set(key, client);
        clients.push(client);
      }
      client.subscribe<{ messageAdded: { ord: number; author: string; content: string } }>(
        { query: MESSAGE_ADDED, variables: { id: v.id } },
        {
          next: (r) => {
            const now = performance.now();
            if (r.errors?.length) subscriptionErrors.push(JSON.stringify(r.errors));
            const m = r.data?.messageAdded;
            if (!m || m.author !== "visitor") return;
            if (m.content === `open ${c}`) opened.add(c);
            const s = byText.get(m.content);
            if (s && s.deliveredAt === undefined) s.deliveredAt = now;
          },
          error: (err) => subscriptionErrors.push(`conversation ${c}: ${err instanceof Error ? err.message : JSON.stringify(err)}`),
          complete: () => undefined,
        },
      );
    }
    // Every subscription has replayed its conversation's first message: all are live.
    const subscribedBy = Date.now() + 60_000;
    while (opened.size < CONVERSATIONS) {
      if (subscriptionErrors.length) throw new Error(`subscription errors: ${subscriptionErrors.slice(0, 3).join("; ")}`);
      if (Date.now() > subscribedBy) throw new Error(`only ${opened.size}/${CONVERSATIONS} subscriptions replayed their first message`);
      await sleep(50);
    }
    await sleep(1000); // let the opening messages' replies settle

    // Open-loop load: message n goes to conversation n % N, through that conversation's instance.
    const sent: Sent[] = [];
    const inFlight = new Set<Promise<void>>();
    const seq = new Array<number>(CONVERSATIONS).fill(0);
    const total = Math.round(RATE * SECONDS);
    const start = performance.now();
    let n = 0;
    while (n < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
      while (n < due) {
        const c = n++ % CONVERSATIONS;
        const v = visitors[c]!;
        const s: Sent = { text: `load ${c}-${seq[c]!++} how long does shipping take?`, at: performance.now(), status: 0 };
        sent.push(s);
        byText.set(s.text, s);
        const p = post(agent, v.postTo, `/api/v1/chat/conversations/${v.token}/messages`, site, v.ip, { message: s.text })
          .then((r) => void (s.status = r.status), () => void (s.status = -1))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(2);
    }
    const sendSeconds = (performance.now() - start) / 1000;
    await Promise.all(inFlight);
    const accepted = sent.filter((s) => s.status === 201);
    const drainBy = performance.now() + DRAIN_MS;
    while (accepted.some((s) => s.deliveredAt === undefined) && performance.now() < drainBy) await sleep(50);

    const delivered = accepted.filter((s) => s.deliveredAt !== undefined);
    const latencies = delivered.map((s) => s.deliveredAt! - s.at).sort((a, b) => a - b);
    const lastDelivery = Math.max(...delivered.map((s) => s.deliveredAt!));
    const notAccepted: Record<string, number> = {};
    for (const s of sent) if (s.status !== 201) notAccepted[s.status] = (notAccepted[s.status] ?? 0) + 1;
    if (Object.keys(notAccepted).length) console.log(`  run ${run}: POSTs not answered 201, by status: ${JSON.stringify(notAccepted)}`);
    if (subscriptionErrors.length) console.log(`  run ${run}: subscription errors: ${subscriptionErrors.slice(0, 3).join("; ")}`);
    return {
      instances,
      offered: round1(sent.length / sendSeconds),
      // Delivered messages over the time from the first send to the last delivery.
      achieved: round1(delivered.length / ((lastDelivery - start) / 1000)),
      accepted: accepted.length,
      notAccepted: sent.length - accepted.length,
      delivered: delivered.length,
      lost: accepted.length - delivered.length,
      p50: round1(quantile(latencies, 0.5)),
      p95: round1(quantile(latencies, 0.95)),
      p99: round1(quantile(latencies, 0.99)),
      max: round1(latencies.at(-1) ?? NaN),
    };
  } catch (err) {
    console.error(cluster.logs().split("\n").slice(-40).join("\n"));
    throw err;
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await agent.close();
    await cluster.close();
  }
}

async function main() {
  console.log(
    `Parley cluster bench: ${RATE} visitor messages/s for ${SECONDS} s over ${CONVERSATIONS} conversations, site-key API, ` +
      `PostgreSQL + Redis, JOB_WORKERS=0, knowledge-base responder (no LLM), node ${process.version}`,
  );
  const loadStart = loadavg()[0];
  console.log(`machine: ${cpus().length} cores, load average ${loadStart.toFixed(2)} now`);
  if (loadStart > cpus().length / 2) console.log("WARNING: the machine is busy; figures will be high and noisy");

  const results: Result[] = [];
  for (const [i, instances] of [1, 2].entries()) {
    console.log(`run ${i + 1}: ${instances} instance(s) on a fresh database...`);
    results.push(await runOnce(i + 1, instances));
  }
  const [one, two] = results as [Result, Result];

  console.log(`\n| instances | offered msg/s | achieved msg/s | p50 ms | p95 ms | p99 ms | max ms | accepted | lost |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of results) console.log(`| ${r.instances} | ${r.offered} | ${r.achieved} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.accepted} | ${r.lost} |`);
  const ratio = { achieved: Math.round((two.achieved / one.achieved) * 100) / 100, p99: Math.round((two.p99 / one.p99) * 100) / 100 };
  console.log(`two/one: achieved msg/s ×${ratio.achieved}, p99 delivery latency ×${ratio.p99}`);
  console.log(`load average ${loadavg()[0].toFixed(2)} at the end`);
  console.log("\n" + JSON.stringify({ rate: RATE, seconds: SECONDS, conversations: CONVERSATIONS, results, ratio, loadAverage: [round1(loadStart), round1(loadavg()[0])] }, null, 2));
  if (results.some((r) => r.lost || r.notAccepted)) {
    console.error("\nBENCH INVALID: some messages were refused or never delivered (see above)");
    process.exit(1);
  }
}

await main();
