import type { SqlLane } from "../db/sql.ts";
import type { Logger } from "pino";
import type { Db, Provider } from "../db/client.ts";
import type { Job } from "../generated/sqlite/client.ts";

export type JobRow = Job;
export type JobStatus = "queued" | "running" | "succeeded" | "failed";

/** What a service hands to `enqueue`. */
export interface JobSpec {
  kind: string;
  workspaceId?: string | null;
  scenarioId?: string | null;
  payload?: Record<string, unknown>;
  /** Not before this time; default: now (the runner's clock). */
  runAt?: Date;
  maxAttempts?: number;
}

/** What a handler gets besides its job row. */
export interface JobContext {
  /** Id of the worker (runner instance) holding the job's lease. */
  workerId: string;
  /** 1 for the first try, 2 for the first retry, … */
  attempt: number;
  /** Aborted when the runner loses the lease (another worker took the job over) or gives up waiting on stop. */
  signal: AbortSignal;
  log: Logger;
}

export type JobHandler = (job: JobRow, ctx: JobContext) => Promise<unknown>;

export interface HandlerOptions {
  /**
   * Called after a try failed. `final` says no retry follows (maxAttempts reached, or the handler
   * threw a PermanentJobError); the job row then has status failed and lastError set.
   */
  onFailure?: (job: JobRow, error: Error, info: { final: boolean; retryAt: Date | null }) => Promise<void>;
}

/** A failure no retry can fix: the job fails at once. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export interface JobRunnerOptions {
  /** How long a claim lasts without a heartbeat; an expired claim makes the job claimable again. */
  leaseMs: number;
  /** How often a running handler renews its lease. */
  heartbeatMs: number;
  /** Idle poll interval (real time). */
  pollMs: number;
  /** Retry delay: backoffBaseMs · 2^(attempts-1), capped at backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Jobs handled at once by one runner. */
  concurrency: number;
  /** stop() waits this long for running handlers before releasing their claims. */
  stopTimeoutMs: number;
  /** After aborting the handlers that outlasted stopTimeoutMs, stop() waits this long for them to end. */
  abortGraceMs: number;
}

export const DEFAULT_JOB_OPTIONS: JobRunnerOptions = {
  leaseMs: 30_000,
  heartbeatMs: 10_000,
  pollMs: 250,
  backoffBaseMs: 2_000,
  backoffMaxMs: 10 * 60_000,
  concurrency: 4,
  stopTimeoutMs: 10_000,
  abortGraceMs: 2_000,
};

export interface JobRunnerDeps {
  db: Db;
  provider: Provider;
  clock: () => Date;
  log?: Logger;
  /** The SQL lane for the hot statements (claim, finish); defaults to one over Prisma's raw queries. */
  sql?: SqlLane;
  /** Defaults to a random id; shows up in Job.lockedBy. */
  workerId?: string;
}
