import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/db/client.ts";
import { JobRunner, PermanentJobError, type JobRow, type JobRunnerOptions } from "../src/jobs/runner.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { sleep, until } from "./helpers/wait.ts";

// The server provides a migrated database (SQLite, or PostgreSQL under npm run test:postgres); the
// runners under test are separate instances handling test-only job kinds, which the server's own
// runner never claims.
let server: TestServer;
let second: Database;
const runners: JobRunner[] = [];

beforeAll(async () => {
  server = await startServer();
  // A second connection, like a second server: on PostgreSQL its own pool. On SQLite the runners
  // share the server's connection (SQLite serialises writers in any case).
  second = server.app.database.provider === "postgres" ? openDatabase(server.config) : server.app.database;
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  if (second && second !== server.app.database) await second.close();
  await server?.stop();
});

const FAST: Partial<JobRunnerOptions> = { pollMs: 20, leaseMs: 2000, heartbeatMs: 200, backoffBaseMs: 100, backoffMaxMs: 1000, stopTimeoutMs: 2000 };

function runner(options: Partial<JobRunnerOptions> = {}, db: Database = server.app.database, workerId?: string) {
  const r = new JobRunner({ db: db.prisma, provider: db.provider, clock: () => new Date(), workerId }, { ...FAST, ...options });
  runners.push(r);
  return r;
}

const db = () => server.app.runtime.db;
let kindSeq = 0;
const uniqueKind = (name: string) => `test.${name}.${++kindSeq}`;

const job = (id: string) => db().job.findUniqueOrThrow({ where: { id } });
const settled = (id: string) => until(`job ${id} to finish`, async () => {
  const j = await job(id);
  return j.status === "succeeded" || j.status === "failed" ? j : null;
});

describe("job runner", () => {
  it("two runners on one database execute each of N jobs exactly once", async () => {
    const kind = uniqueKind("once");
    const calls = new Map<string, number>();
    const byWorker = new Map<string, number>();
    const handler = async (j: JobRow, ctx: { workerId: string }) => {
      calls.set(j.id, (calls.get(j.id) ?? 0) + 1);
      byWorker.set(ctx.workerId, (byWorker.get(ctx.workerId) ?? 0) + 1);
      await sleep(Math.random() * 15);
      return { n: (j.payload as { n: number }).n };
    };
    const r1 = runner({ concurrency: 3 }, server.app.database, "worker-one");
    const r2 = runner({ concurrency: 3 }, second, "worker-two");
    r1.registerHandler(kind, handler);
    r2.registerHandler(kind, handler);
    const N = 60;
    const ids: string[] = [];
    for (let n = 0; n < N; n++) ids.push((await r1.enqueue(db(), { kind, payload: { n } })).id);
    r1.start();
    r2.start();
    await until("all jobs to succeed", async () => (await db().job.count({ where: { kind, status: "succeeded" } })) === N);
    expect(calls.size).toBe(N);
    expect([...calls.values()].every((c) => c === 1)).toBe(true);
    expect([...byWorker.values()].reduce((a, b) => a + b, 0)).toBe(N);
    const rows = await db().job.findMany({ where: { kind } });
    expect(rows.every((r) => r.attempts === 1 && r.lockedBy === null && r.finishedAt !== null)).toBe(true);
    expect(rows.find((r) => r.id === ids[7])!.result).toEqual({ n: 7 });
  });

  it("retries a failing job with exponential backoff and ends failed with the last error", async () => {
    const kind = uniqueKind("fail");
    const at: number[] = [];
    const failures: { final: boolean }[] = [];
    const r = runner({ backoffBaseMs: 150 });
    r.registerHandler(
      kind,
      async () => {
        at.push(Date.now());
        throw new Error(`boom ${at.length}`);
      },
      { onFailure: async (_j, _e, info) => void failures.push({ final: info.final }) },
    );
    const { id } = await r.enqueue(db(), { kind, maxAttempts: 3 });
    r.start();
    const done = await settled(id);
    expect(done).toMatchObject({ status: "failed", attempts: 3, lastError: "boom 3", lockedBy: null });
    expect(at).toHaveLength(3);
    // base · 2^0, then base · 2^1 (timer slack allowed downwards only by a few ms).
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(140);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(290);
    expect(failures).toEqual([{ final: false }, { final: false }, { final: true }]);
    expect(r.backoff(1)).toBe(150);
    expect(r.backoff(3)).toBe(600);
    expect(r.backoff(30)).toBe(1000);
  });

  it("a retry that succeeds ends succeeded with the result; while waiting the job is queued with lastError", async () => {
    const kind = uniqueKind("flaky");
    let tries = 0;
    const r = runner({ backoffBaseMs: 400 });
    r.registerHandler(kind, async () => {
      if (++tries === 1) throw new Error("transient");
      return { ok: true };
    });
    const { id } = await r.enqueue(db(), { kind });
    r.start();
    const waiting = await until("the first failure", async () => {
      const j = await job(id);
      return j.lastError ? j : null;
    });
    expect(waiting).toMatchObject({ status: "queued", attempts: 1, lastError: "transient", lockedBy: null });
    expect(waiting.runAt.getTime()).toBeGreaterThan(Date.now() + 100);
    expect(await settled(id)).toMatchObject({ status: "succeeded", attempts: 2, result: { ok: true } });
  });

  it("a PermanentJobError fails at once, without retries", async () => {
    const kind = uniqueKind("permanent");
    let tries = 0;
    const r = runner();
    r.registerHandler(kind, async () => {
      tries++;
      throw new PermanentJobError("nothing to retry");
    });
    const { id } = await r.enqueue(db(), { kind });
    r.start();
    expect(await settled(id)).toMatchObject({ status: "failed", attempts: 1, lastError: "nothing to retry" });
    expect(tries).toBe(1);
  });

  it("claims a running job whose lease expired (its worker died), but not one whose lease holds", async () => {
    const kind = uniqueKind("lease");
    const seen: string[] = [];
    const r = runner();
    r.registerHandler(kind, async (j) => void seen.push(j.id));
    const past = new Date(Date.now() - 60_000);
    const dead = await db().job.create({
      data: { kind, payload: {}, status: "running", attempts: 1, lockedBy: "dead-worker", lockedUntil: new Date(Date.now() - 1000), runAt: past },
    });
    const alive = await db().job.create({
      data: { kind, payload: {}, status: "running", attempts: 1, lockedBy: "live-worker", lockedUntil: new Date(Date.now() + 60_000), runAt: past },
    });
    r.start();
    expect(await settled(dead.id)).toMatchObject({ status: "succeeded", attempts: 2 });
    await sleep(200);
    expect(seen).toEqual([dead.id]);
    expect(await job(alive.id)).toMatchObject({ status: "running", lockedBy: "live-worker", attempts: 1 });
  });

  it("a job whose workers kept dying fails once its attempts are used up", async () => {
    const kind = uniqueKind("exhausted");
    let tries = 0;
    const r = runner();
    r.registerHandler(kind, async () => void tries++);
    const crashed = await db().job.create({
      data: { kind, payload: {}, status: "running", attempts: 3, maxAttempts: 3, lockedBy: "dead-worker", lockedUntil: new Date(Date.now() - 1000) },
    });
    r.start();
    const done = await settled(crashed.id);
    expect(done.status).toBe("failed");
    expect(done.lastError).toMatch(/gave up after 3 attempts/);
    expect(tries).toBe(0);
  });

  it("the heartbeat keeps a long job's lease: a second runner does not take it over", async () => {
    const kind = uniqueKind("heartbeat");
    let calls = 0;
    const slow = async () => {
      calls++;
      await sleep(1200);
    };
    const r1 = runner({ leaseMs: 300, heartbeatMs: 60 }, server.app.database, "hb-one");
    const r2 = runner({ leaseMs: 300, heartbeatMs: 60 }, second, "hb-two");
    r1.registerHandler(kind, slow);
    r2.registerHandler(kind, slow);
    const { id } = await r1.enqueue(db(), { kind });
    r1.start();
    await until("the claim", async () => (await job(id)).status === "running");
    r2.start();
    expect(await settled(id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(calls).toBe(1);
  });

  it("wake() makes an idle runner pick a new job at once", async () => {
    const kind = uniqueKind("wake");
    const r = runner({ pollMs: 60_000 });
    r.registerHandler(kind, async () => "done");
    r.start();
    await sleep(50);
    const started = Date.now();
    const { id } = await r.enqueue(db(), { kind });
    r.wake();
    expect(await settled(id)).toMatchObject({ status: "succeeded", result: "done" });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("does not run a job before runAt", async () => {
    const kind = uniqueKind("later");
    const r = runner();
    r.registerHandler(kind, async () => "ran");
    const { id } = await r.enqueue(db(), { kind, runAt: new Date(Date.now() + 500) });
    r.start();
    await sleep(200);
    expect((await job(id)).status).toBe("queued");
    expect(await settled(id)).toMatchObject({ status: "succeeded" });
  });

  it("stop() waits for running handlers to finish", async () => {
    const kind = uniqueKind("stop-wait");
    const r = runner();
    let finished = false;
    r.registerHandler(kind, async () => {
      await sleep(300);
      finished = true;
    });
    const { id } = await r.enqueue(db(), { kind });
    r.start();
    await until("the claim", async () => (await job(id)).status === "running");
    await r.stop();
    expect(finished).toBe(true);
    expect((await job(id)).status).toBe("succeeded");
  });

  it("stop() releases the claim of a handler that outlasts stopTimeoutMs; another runner then does the job", async () => {
    const kind = uniqueKind("stop-release");
    const r = runner({ stopTimeoutMs: 100 });
    let aborted = false;
    r.registerHandler(kind, async (_j, ctx) => {
      await new Promise<void>((res) => ctx.signal.addEventListener("abort", () => ((aborted = true), res())));
      throw new Error("aborted");
    });
    const { id } = await r.enqueue(db(), { kind });
    r.start();
    await until("the claim", async () => (await job(id)).status === "running");
    await r.stop();
    expect(aborted).toBe(true);
    expect(await job(id)).toMatchObject({ status: "queued", lockedBy: null, lockedUntil: null, attempts: 0 });
    const next = runner();
    next.registerHandler(kind, async () => "second time");
    next.start();
    expect(await settled(id)).toMatchObject({ status: "succeeded", attempts: 1, result: "second time" });
  });

  it("stop() waits for a handler it aborted to wind down, so nothing writes after it returns", async () => {
    const kind = uniqueKind("stop-grace");
    const r = runner({ stopTimeoutMs: 100, abortGraceMs: 2000 });
    let woundDown = false;
    r.registerHandler(kind, async (_j, ctx) => {
      await new Promise<void>((res) => ctx.signal.addEventListener("abort", () => res()));
      // Clean-up after the abort (a last write, say) takes a while.
      await sleep(200);
      woundDown = true;
      throw new Error("aborted");
    });
    const { id } = await r.enqueue(db(), { kind });
    r.start();
    await until("the claim", async () => (await job(id)).status === "running");
    await r.stop();
    expect(woundDown).toBe(true);
    expect(await job(id)).toMatchObject({ status: "queued", lockedBy: null, attempts: 0 });
  });

  it("stop() gives up on a handler that ignores its aborted signal after abortGraceMs", async () => {
    const kind = uniqueKind("stop-ignore");
    const r = runner({ stopTimeoutMs: 100, abortGraceMs: 100 });
    r.registerHandler(kind, () => sleep(1500));
    const { id } = await r.enqueue(db(), { kind });
    r.start();
    await until("the claim", async () => (await job(id)).status === "running");
    const started = Date.now();
    await r.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await job(id)).toMatchObject({ status: "queued", lockedBy: null, attempts: 0 });
    // Let the stubborn handler end before the next test (its late success finds the claim gone).
    await sleep(1500);
    expect((await job(id)).status).toBe("queued");
  });
});
