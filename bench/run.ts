// Throughput and latency of Parley against a bare node:http server that answers the same JSON:
//   npm run bench                      (10 s per target after a 2 s warm-up, 10 connections)
//   BENCH_DURATION=5 BENCH_CONNECTIONS=20 npm run bench
// The servers (Parley on a fresh temp SQLite DATA_DIR, and the bare server) run in a child
// process; autocannon runs in this one, so the load generator does not share the servers' event
// loop. Rate limits are raised out of the way: every measured response must be a 2xx, else the
// bench fails. Prints a table and the same figures as JSON; writes no files.
import { createServer, type Server } from "node:http";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { forkBenchServer, startBenchParley } from "./harness.ts";
import autocannon from "autocannon";

interface Target {
  name: string;
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
}
interface Ready {
  parley: string;
  bare: string;
  targets: Target[];
}

const GRAPHQL_QUERY = "{ workspace { scenarios(first: 10) { totalCount edges { node { id name } } } } }";
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

if (process.argv.includes("--serve")) await serve();
else await main();

// ---------------------------------------------------------------- the servers (child process)
async function serve() {
  const { seed } = await import("../test/helpers/seed.ts");
  const parleyServer = await startBenchParley("parley-bench-");
  const { app, url: parley } = parleyServer;

  const tenant = await seed(app).workspace("Bench workspace");
  for (let i = 2; i <= 20; i++) await tenant.scenario(`Bench assistant ${i}`);
  const developerKey = (await tenant.developerKey()).secret;
  const readToken = (await tenant.token("read_all")).secret;

  const targets: Target[] = [
    {
      name: "GraphQL workspace.scenarios(first: 10)",
      method: "POST",
      path: "/graphql",
      headers: { authorization: `Bearer ${developerKey}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: GRAPHQL_QUERY }),
    },
    {
      name: "REST GET /v1/api/chatbot_settings",
      method: "GET",
      path: "/v1/api/chatbot_settings",
      headers: { authorization: `Bearer ${readToken}` },
    },
  ];

  // The bare server answers each target's path with the JSON Parley gave for it (serialized per
  // request, as a real handler would).
  const answers = new Map<string, unknown>();
  for (const t of targets) {
    const res = await fetch(parley + t.path, { method: t.method, headers: t.headers, body: t.body });
    const json = (await res.json()) as { errors?: unknown };
    if (res.status !== 200 || json.errors) throw new Error(`${t.name}: ${res.status} ${JSON.stringify(json)}`);
    answers.set(`${t.method} ${t.path}`, json);
  }
  const bareServer: Server = createServer((req, res) => {
    const answer = answers.get(`${req.method} ${req.url}`);
    req.resume();
    req.on("end", () => {
      if (answer === undefined) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.stringify(answer);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => bareServer.listen(0, "127.0.0.1", resolve));
  const address = bareServer.address();
  const bare = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  const shutdown = async () => {
    bareServer.close();
    await parleyServer.stop();
    process.exit(0);
  };
  process.on("message", (m) => {
    if (m === "stop") void shutdown();
  });
  process.on("disconnect", () => void shutdown());
  process.send!({ parley, bare, targets } satisfies Ready);
}

// ---------------------------------------------------------------- the load (parent process)
interface Figures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function load(base: string, t: Target, seconds: number): Promise<Figures> {
  const r = await autocannon({
    url: base + t.path,
    method: t.method,
    headers: t.headers,
    body: t.body,
    connections: CONNECTIONS,
    duration: seconds,
  });
  return {
    requestsPerSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

async function main() {
  console.log(`Parley bench: ${DURATION} s per target after ${WARMUP} s warm-up, ${CONNECTIONS} connections, node ${process.version}`);
  const load1 = loadavg()[0];
  console.log(`machine: ${cpus().length} cores, load average ${load1.toFixed(2)} now`);
  if (load1 > cpus().length / 2) console.log("WARNING: the machine is busy; figures will be low and noisy (both columns alike)");
  const { child, ready } = await forkBenchServer<Ready>(fileURLToPath(import.meta.url), { production: false });
  console.log(`Parley at ${ready.parley} (SQLite, temp DATA_DIR); bare node:http at ${ready.bare}\n`);

  const rows: { route: string; parley: Figures; bare: Figures; ratio: number }[] = [];
  const problems: string[] = [];
  try {
    for (const t of ready.targets) {
      const measured: Record<"parley" | "bare", Figures> = {} as never;
      for (const [which, base] of [["parley", ready.parley], ["bare", ready.bare]] as const) {
        process.stdout.write(`  ${t.name} on ${which}: warm-up… `);
        await load(base, t, WARMUP);
        process.stdout.write("measuring… ");
        const f = await load(base, t, DURATION);
        measured[which] = f;
        console.log(`${f.requestsPerSecond.toFixed(0)} req/s, ${f.requests} requests, ${f.non2xx} non-2xx, ${f.errors} errors`);
        if (f.non2xx || f.errors || f.timeouts || f.requests === 0) {
          problems.push(`${t.name} on ${which}: ${f.non2xx} non-2xx, ${f.errors} errors, ${f.timeouts} timeouts of ${f.requests}`);
        }
      }
      rows.push({ route: t.name, ...measured, ratio: measured.parley.requestsPerSecond / measured.bare.requestsPerSecond });
    }
  } finally {
    child.send("stop");
    await new Promise((resolve) => child.once("exit", resolve));
  }

  const header = ["route", "Parley req/s", "p50 ms", "p99 ms", "bare req/s", "p50 ms", "p99 ms", "Parley/bare"];
  const table = rows.map((r) => [
    r.route,
    r.parley.requestsPerSecond.toFixed(0),
    String(r.parley.p50Ms),
    String(r.parley.p99Ms),
    r.bare.requestsPerSecond.toFixed(0),
    String(r.bare.p50Ms),
    String(r.bare.p99Ms),
    r.ratio.toFixed(3),
  ]);
  console.log(`\n| ${header.join(" | ")} |\n|${header.map((_, i) => (i ? " ---: " : " --- ")).join("|")}|`);
  for (const row of table) console.log(`| ${row.join(" | ")} |`);
  console.log(`load average ${loadavg()[0].toFixed(2)} at the end`);
  console.log("\n" + JSON.stringify({ durationSeconds: DURATION, connections: CONNECTIONS, node: process.version, results: rows }, null, 2));

  if (problems.length) {
    console.error(`\nBENCH INVALID: not every response was a 2xx:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
}
