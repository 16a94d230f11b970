import { randomUUID } from "node:crypto";
import pino, { type Logger } from "pino";
import type { Db, Provider } from "../db/client.ts";
import { retryWhileUnavailable } from "../db/faults.ts";
import { json, PrismaRawLane, rowsOf, sql, sqlList, timestamp, type SqlLane, type SqlRunner } from "../db/sql.ts";
import {
  DEFAULT_JOB_OPTIONS,
  PermanentJobError,
  type HandlerOptions,
  type JobHandler,
  type JobRow,
  type JobRunnerDeps,
  type JobRunnerOptions,
  type JobSpec,
} from "./types.ts";

export * from "./types.ts";

const MAX_ERROR_LENGTH = 2000;
/** Longest pause between polls while claims keep failing: the runner notices a recovered database within this. */
const POLL_BACKOFF_MAX_MS = 5_000;

/**
 * Durable background jobs over the Job table. Any number of runners (in one process or on many
 * servers sharing a database) may poll the same table: a claim is one atomic statement, so exactly
 * one worker gets each job. A claim is a lease (lockedUntil) that the worker renews while the
 * handler runs; when a worker dies its lease expires and another worker (or the same server after a
 * restart) claims the job again. A failed try is retried with exponential backoff until
 * maxAttempts, then the job is failed with lastError.
 *
 * Time comparisons use the injected clock; polling and heartbeats use real timers.
 */
export class JobRunner {
  readonly workerId: string;
  readonly options: JobRunnerOptions;
  private readonly db: Db;
  private readonly provider: Provider;
  private readonly sql: SqlLane;
  private readonly clock: () => Date;
  private readonly log: Logger;
  private readonly handlers = new Map<string, { handler: JobHandler; options: HandlerOptions }>();
  private readonly inFlight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private running = false;
  private loop: Promise<void> | undefined;
  private woken = false;
  private wakeSleeper: (() => void) | undefined;

  constructor(deps: JobRunnerDeps, options: Partial<JobRunnerOptions> = {}) {
    this.db = deps.db;
    this.provider = deps.provider;
    this.sql = deps.sql ?? new PrismaRawLane(deps.db, deps.provider);
    this.clock = deps.clock;
    this.log = (deps.log ?? pino({ level: "silent" })).child({ component: "jobs" });
    this.workerId = deps.workerId ?? `worker-${randomUUID()}`;
    this.options = { ...DEFAULT_JOB_OPTIONS, ...options };
  }

  registerHandler(kind: string, handler: JobHandler, options: HandlerOptions = {}): void {
    if (this.handlers.has(kind)) throw new Error(`a handler for job kind ${kind} is already registered`);
    this.handlers.set(kind, { handler, options });
  }

  /**
   * Adds a job inside the caller's transaction. Runners pick it up within one poll interval; call
   * wake() after the transaction commits to have this process's runner look at once.
   */
  async enqueue(tx: Pick<Db, "job">, spec: JobSpec): Promise<JobRow> {
    return tx.job.create({
      data: {
        kind: spec.kind,
        workspaceId: spec.workspaceId ?? null,
        scenarioId: spec.scenarioId ?? null,
        payload: (spec.payload ?? {}) as object,
        runAt: spec.runAt ?? this.clock(),
        ...(spec.maxAttempts !== undefined ? { maxAttempts: spec.maxAttempts } : {}),
      },
    });
  }

  /** enqueue() for a transaction of the SQL lane (the chat path). */
  async enqueueSql(q: SqlRunner, spec: JobSpec): Promise<JobRow> {
    const now = this.clock();
    const [row] = await rowsOf<JobRow>(
      q,
      "Job",
      sql`INSERT INTO "Job" ("id", "kind", "workspaceId", "scenarioId", "payload", "runAt", "maxAttempts", "createdAt", "updatedAt")
        VALUES (${randomUUID()}, ${spec.kind}, ${spec.workspaceId ?? null}, ${spec.scenarioId ?? null}, ${json(spec.payload ?? {})},
          ${timestamp(spec.runAt ?? now)}, ${spec.maxAttempts ?? 5}, ${timestamp(now)}, ${timestamp(now)})
        RETURNING *`,
    );
    return row!;
  }

  /** Makes an idle runner poll now instead of at the end of its interval. */
  wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
    this.wakeRelay?.();
  }

  private wakeRelay: (() => void) | undefined;

  /** Also tells `relay` on wake(): the server passes its enqueues on to job worker processes. */
  relayWakes(relay: () => void): void {
    this.wakeRelay = relay;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pollLoop();
  }

  /**
   * Stops claiming, then waits up to stopTimeoutMs for running handlers. Handlers still running
   * after that lose their claim: the job goes back to the queue (the try does not count) for
   * another worker or the next start. Their signals are aborted, and stop() waits a little longer
   * (up to abortGraceMs) for them to wind down, so that none writes after the caller closes the
   * database.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    if (await this.settle(this.options.stopTimeoutMs)) return;
    // Release first, then abort: the handler's failure path then finds the claim gone and leaves
    // the job queued for the next worker instead of counting a failed try.
    for (const [id, { abort }] of this.inFlight) {
      await this.db.job
        .updateMany({
          where: { id, lockedBy: this.workerId, status: "running" },
          data: { status: "queued", lockedBy: null, lockedUntil: null, runAt: this.clock(), attempts: { decrement: 1 } },
        })
        .catch((err) => this.log.warn({ err, jobId: id }, "could not release a job claim"));
      abort.abort(new Error("runner stopped"));
    }
    if (!(await this.settle(this.options.abortGraceMs))) {
      this.log.warn({ jobIds: [...this.inFlight.keys()] }, "handlers still running after their signals were aborted");
    }
    this.inFlight.clear();
  }

  /** Waits up to `ms` for the handlers in flight; true when none is left. */
  private async settle(ms: number): Promise<boolean> {
    const pending = [...this.inFlight.values()];
    if (!pending.length) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.allSettled(pending.map((p) => p.done)).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return finished;
  }

  private async pollLoop(): Promise<void> {
    // Claims failing one after another (the database is down or restarting): the loop keeps going,
    // polling less often, and says so once when it starts failing and once when it recovers.
    let failures = 0;
    while (this.running) {
      this.woken = false;
      try {
        while (this.running && this.inFlight.size < this.options.concurrency) {
          const job = await this.claim();
          if (failures) {
            this.log.info({ failures }, "claiming jobs works again");
            failures = 0;
          }
          if (!job) break;
          this.execute(job);
        }
      } catch (err) {
        if (failures++ === 0) this.log.error({ err }, "claiming a job failed; retrying with back-off");
        else this.log.debug({ err, failures }, "claiming a job failed again");
      }
      // While claims fail, a wake() that came during the claim doesn't skip the pause (the next claim
      // would only fail again); one that comes during the pause still ends it (stop() relies on that).
      if (this.running && (failures || !this.woken)) await this.sleep(failures ? this.pollBackoff(failures) : this.options.pollMs);
    }
  }

  /** Poll interval after `failures` failed claims in a row: doubling from pollMs, at most 5 s. */
  private pollBackoff(failures: number): number {
    return Math.min(POLL_BACKOFF_MAX_MS, this.options.pollMs * 2 ** Math.min(failures, 16));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeSleeper = undefined;
        resolve();
      }
      this.wakeSleeper = done;
    });
  }

  /** Claims one due job of a kind this runner handles, or returns null. */
  async claim(): Promise<JobRow | null> {
    const kinds = [...this.handlers.keys()];
    if (!kinds.length) return null;
    const now = this.clock();
    const until = new Date(now.getTime() + this.options.leaseMs);
    // One statement with the candidate chosen in its own subquery: on PostgreSQL, SKIP LOCKED has
    // concurrent claimers lock different rows instead of queueing on one; SQLite serialises
    // writers, so there is exactly one winner. Through the SQL lane: this runs after every job and
    // on every idle poll.
    const skipLocked = this.provider === "postgres" ? sql`FOR UPDATE SKIP LOCKED` : sql``;
    const [job] = await rowsOf<JobRow>(
      this.sql,
      "Job",
      sql`UPDATE "Job" SET "status" = 'running', "lockedBy" = ${this.workerId}, "lockedUntil" = ${timestamp(until)},
          "attempts" = "attempts" + 1, "updatedAt" = ${timestamp(now)}
        WHERE "id" = (
          SELECT "id" FROM "Job"
          WHERE "kind" IN (${sqlList(kinds)})
            AND (("status" = 'queued' AND "runAt" <= ${timestamp(now)}) OR ("status" = 'running' AND "lockedUntil" < ${timestamp(now)}))
          ORDER BY "runAt", "createdAt"
          LIMIT 1
          ${skipLocked})
        RETURNING *`,
    );
    return job ?? null;
  }

  private execute(job: JobRow): void {
    const abort = new AbortController();
    const done = this.runOne(job, abort).finally(() => {
      this.inFlight.delete(job.id);
      this.wake();
    });
    this.inFlight.set(job.id, { done, abort });
  }

  private async runOne(job: JobRow, abort: AbortController): Promise<void> {
    const entry = this.handlers.get(job.kind)!;
    const log = this.log.child({ jobId: job.id, kind: job.kind, attempt: job.attempts });
    const heartbeat = setInterval(() => {
      this.db.job
        .updateMany({
          where: { id: job.id, lockedBy: this.workerId, status: "running" },
          data: { lockedUntil: new Date(this.clock().getTime() + this.options.leaseMs) },
        })
        .then(({ count }) => {
          if (count === 0) abort.abort(new Error("lease lost"));
        })
        .catch((err) => log.warn({ err }, "lease renewal failed"));
    }, this.options.heartbeatMs);
    heartbeat.unref?.();
    try {
      // A job whose earlier workers all died mid-try has used up its attempts: it fails here.
      if (job.attempts > job.maxAttempts) {
        throw new PermanentJobError(job.lastError ?? `gave up after ${job.maxAttempts} attempts (worker stopped responding)`);
      }
      const result = await entry.handler(job, { workerId: this.workerId, attempt: job.attempts, signal: abort.signal, log });
      const now = this.clock();
      const stored = result === undefined ? sql`` : sql`, "result" = ${json(JSON.parse(JSON.stringify(result)))}`;
      const succeeded = sql`UPDATE "Job" SET "status" = 'succeeded', "lockedBy" = NULL, "lockedUntil" = NULL, "finishedAt" = ${timestamp(now)},
            "updatedAt" = ${timestamp(now)}${stored}
          WHERE "id" = ${job.id} AND "lockedBy" = ${this.workerId} AND "status" = 'running'`;
      await retryWhileUnavailable(() => this.sql.run(succeeded), this.outcomeRetries(log, "recording a job's success"));
      log.debug("job succeeded");
    } catch (caught) {
      await retryWhileUnavailable(() => this.fail(job, caught, entry.options, log), this.outcomeRetries(log, "recording a job failure")).catch((err) =>
        log.error({ err }, "recording a job failure failed"),
      );
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * A try's outcome is written again while the database is unreachable (both writes are guarded
   * by the claim, so repeating them is safe): the job then doesn't sit claimed until its lease
   * expires and run once more after the outage. A stopping runner gives up; the lease brings the
   * job back.
   */
  private outcomeRetries(log: Logger, what: string) {
    return {
      keepTrying: () => this.running,
      firstPauseMs: this.options.pollMs,
      maxPauseMs: POLL_BACKOFF_MAX_MS,
      onRetry: (err: unknown) => log.warn({ err }, `${what} failed; retrying while the database is unavailable`),
    };
  }

  private async fail(job: JobRow, caught: unknown, options: HandlerOptions, log: Logger): Promise<void> {
    const error = caught instanceof Error ? caught : new Error(String(caught));
    const lastError = error.message.slice(0, MAX_ERROR_LENGTH) || error.name;
    const final = error instanceof PermanentJobError || job.attempts >= job.maxAttempts;
    const now = this.clock();
    const retryAt = final ? null : new Date(now.getTime() + this.backoff(job.attempts));
    const held = { id: job.id, lockedBy: this.workerId, status: "running" };
    // Lost the lease (another worker took over): that worker owns the outcome now.
    if (!(await this.db.job.count({ where: held }))) return;
    log.warn({ err: error, final, retryAt }, "job failed");
    // The handler's own bookkeeping first: if we die right after it, the expired lease brings the
    // job back and this runs again (onFailure must be idempotent).
    if (options.onFailure) {
      await options.onFailure({ ...job, lastError }, error, { final, retryAt });
    }
    await this.db.job.updateMany({
      where: held,
      data: final
        ? { status: "failed", lastError, lockedBy: null, lockedUntil: null, finishedAt: now }
        : { status: "queued", lastError, lockedBy: null, lockedUntil: null, runAt: retryAt! },
    });
  }

  /** Delay before the retry that follows try number `attempts`. */
  backoff(attempts: number): number {
    return Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  }
}
