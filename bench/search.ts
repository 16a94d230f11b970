// Knowledge-base search latency: 10,000 articles in a fresh SQLite DATA_DIR, ~200 sequential
// GET /v1/api/knowledge_base/articles/search requests with varied queries, p50/p95/p99 against a
// bare node:http server answering a fixed search-shaped JSON (the floor of HTTP + JSON here).
//   npm run bench                 (runs bench/run.ts, then this)
//   BENCH_ARTICLES=20000 BENCH_QUERIES=500 tsx bench/search.ts
//   BENCH_DATABASE_URL=postgresql://…/empty_db tsx bench/search.ts   (PostgreSQL: an empty database)
// The articles are generated from a word list with a fixed seed and inserted in batches straight
// into the Article table; the FTS5 triggers index every row as the service layer's writes do.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { RateLimits } from "../src/services/rate-limit.ts";
import { seed } from "../test/helpers/seed.ts";

const ARTICLES = Number(process.env.BENCH_ARTICLES ?? 10_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const WARMUP = 20;
const TARGET_P95_MS = 50;

// ---------------------------------------------------------------- deterministic text
function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(20260115);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

const WORDS = (
  "account address adjust agent answer app appointment assistant available balance battery bill booking box brand " +
  "browser calendar cancel card cart change charge chat checkout city claim code color confirm contact contract cost " +
  "country coupon courier credit customer damage data date day deadline delivery deposit device discount document " +
  "download driver email error exchange expire export fee file filter fix free gift guarantee guide hardware help " +
  "holiday home hotel hour identity import install insurance invoice item key label language laptop late license " +
  "limit link login loyalty manual member membership message method mobile model month network notification number " +
  "offer online order package page parcel partner password payment phone photo plan point policy premium price " +
  "printer privacy problem product profile promotion purchase quality question rate receipt refund region register " +
  "renewal repair replacement report request reservation reset restore return review room router safety sale " +
  "schedule screen security seller service setting shipment shipping shop size software speed store subscription " +
  "support survey tax team ticket time tracking transfer travel trial upgrade upload user voucher warehouse warranty " +
  "website week weight window"
).split(" ");
const GLUE = "the a our your every each this that with within for to from of in on by after before and or is are can will may".split(" ");
const TAGS = "billing shipping returns account security devices travel faq policies pricing".split(" ");

function sentence(): string {
  const n = between(6, 14);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(i % 2 ? pick(GLUE) : pick(WORDS));
  const s = words.join(" ");
  return s[0]!.toUpperCase() + s.slice(1) + ".";
}
function article() {
  const title = Array.from({ length: between(2, 5) }, () => pick(WORDS)).join(" ");
  const content = Array.from({ length: between(3, 9) }, sentence).join(" ");
  const tags = [...new Set(Array.from({ length: between(0, 3) }, () => pick(TAGS)))];
  return { title: title[0]!.toUpperCase() + title.slice(1), content, tags };
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(url: (i: number) => string, headers: Record<string, string>) {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + QUERIES; i++) {
    const started = performance.now();
    const res = await fetch(url(i), { headers });
    const body = await res.text();
    const elapsed = performance.now() - started;
    if (res.status !== 200) throw new Error(`${url(i)}: ${res.status} ${body}`);
    if (i >= WARMUP) times.push(elapsed);
  }
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99), max: times.at(-1)! };
}

// ---------------------------------------------------------------- main
const dataDir = mkdtempSync(join(tmpdir(), "parley-bench-search-"));
const config = {
  ...loadConfig({ NODE_ENV: "production", LOG_LEVEL: "silent", DATA_DIR: dataDir, DATABASE_URL: process.env.BENCH_DATABASE_URL }),
  port: 0,
  host: "127.0.0.1",
};
const rateLimits = new RateLimits((p) => new RateLimiterMemory({ points: 1e9, duration: p.windowSeconds, keyPrefix: p.name }));
const app = await buildApp(config, { rateLimits });
const bare = createServer();
try {
  console.log(`database: ${app.database.provider}`);
  console.log(`Parley search bench: ${ARTICLES} articles, ${QUERIES} sequential queries (+${WARMUP} warm-up), node ${process.version}`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)} now`);
  const { url: parley } = await app.start();
  const tenant = await seed(app).workspace("Bench search");
  const token = (await tenant.token("read_all")).secret;

  const seeding = performance.now();
  const samples: string[] = [];
  const now = new Date();
  for (let done = 0; done < ARTICLES; ) {
    const batch = Array.from({ length: Math.min(500, ARTICLES - done) }, () => {
      const a = article();
      if (samples.length < 50 && random() < 0.05) samples.push(a.content.split(" ").slice(2, 4).join(" "));
      return { scenarioId: tenant.scenarioId, title: a.title, content: a.content, tags: a.tags, tagsText: a.tags.join(" "), createdAt: now, updatedAt: now, downloadedAt: now };
    });
    await app.runtime.db.article.createMany({ data: batch });
    done += batch.length;
  }
  const indexed = await app.runtime.db.$queryRawUnsafe<{ n: number | bigint }[]>(
    app.database.provider === "sqlite"
      ? `SELECT COUNT(*) AS n FROM "ArticleSearch"`
      : `SELECT COUNT(*) AS n FROM "Article" WHERE "searchAll" IS NOT NULL`,
  );
  if (app.database.provider === "postgres") await app.runtime.db.$executeRawUnsafe(`ANALYZE "Article"`);
  console.log(`seeded ${ARTICLES} articles in ${((performance.now() - seeding) / 1000).toFixed(1)} s; indexed rows: ${Number(indexed[0]!.n)}\n`);

  // Varied queries: one to three words (loose, prefix), exact phrases taken from the articles,
  // content-only and case-sensitive searches.
  const queries = Array.from({ length: WARMUP + QUERIES }, (_, i) => {
    const kind = i % 10;
    if (kind === 7) return `query=${encodeURIComponent(pick(samples))}&strict_search=true`;
    if (kind === 8) return `query=${encodeURIComponent(pick(WORDS))}&with_title_url_and_tags=false`;
    if (kind === 9) return `query=${encodeURIComponent(pick(WORDS))}&is_case_insensitive=false`;
    const words = Array.from({ length: between(1, 3) }, () => pick(WORDS));
    if (kind === 6) words[0] = words[0]!.slice(0, Math.max(3, words[0]!.length - 2)); // a prefix
    return `query=${encodeURIComponent(words.join(" "))}`;
  });
  const path = "/v1/api/knowledge_base/articles/search";
  const headers = { authorization: `Bearer ${token}` };

  const sample = await (await fetch(`${parley}${path}?query=refund%20policy`, { headers })).text();
  bare.on("request", (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(sample) });
      res.end(sample);
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  const address = bare.address();
  const bareUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  const p = await measure((i) => `${parley}${path}?${queries[i]}`, headers);
  const b = await measure((i) => `${bareUrl}${path}?${queries[i]}`, headers);
  const ms = (x: number) => x.toFixed(2);
  console.log("| target | p50 ms | p95 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |");
  console.log(`| Parley search (${ARTICLES} articles) | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} | ${ms(p.max)} |`);
  console.log(`| bare node:http, fixed JSON | ${ms(b.p50)} | ${ms(b.p95)} | ${ms(b.p99)} | ${ms(b.max)} |`);
  console.log(`Parley/bare p50 ratio: ${(p.p50 / b.p50).toFixed(1)}x; p95 ratio: ${(p.p95 / b.p95).toFixed(1)}x`);
  console.log(`load average ${loadavg()[0]!.toFixed(2)} at the end`);
  console.log(`\nsearch p95 ${ms(p.p95)} ms < ${TARGET_P95_MS} ms: ${p.p95 < TARGET_P95_MS ? "PASS" : "FAIL"}`);
  console.log(JSON.stringify({ articles: ARTICLES, queries: QUERIES, parley: p, bare: b }));
} finally {
  bare.close();
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
