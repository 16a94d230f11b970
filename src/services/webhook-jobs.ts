import { randomUUID } from "node:crypto";
import { json, sql, sqlList, timestamp, type SqlRunner } from "../db/sql.ts";
import type { Config } from "../config.ts";
import type { Runtime } from "./context.ts";
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from "./webhook-events.ts";
import { relayEvents } from "./webhook-relay.ts";
import { sendDueDeliveries } from "./webhook-sender.ts";

// The relay and the sender run as two loops of durable jobs: each job does one pass and queues the
// next (right away when it had a full batch, after an idle pause otherwise). Being jobs, they run
// where the job runner runs (the server, or one of the JOB_WORKERS processes), one pass at a time
// across all processes and servers sharing the database, and they resume after a restart from the
// queued job. A pass is short (one batch), so a stopping runner waits for it briefly.
//
// A loop keeps at most one job queued: a pass queues its successor only when none is queued
// (a pass retried after its worker died finds the successor it queued the first time). Should two
// loops ever run at once, the next passes see each other's queued job and one ends; both are safe
// meanwhile, since events and deliveries are claimed atomically.

export const RELAY_JOB = "webhooks.relay";
export const SEND_JOB = "webhooks.send";
type LoopKind = typeof RELAY_JOB | typeof SEND_JOB;

/** A loop job never fails for good: a database outage only delays it (the runner backs off). */
const LOOP_MAX_ATTEMPTS = 1_000_000;

export function webhookOptions(config: Pick<Config, "webhooks">): WebhookOptions {
  return { ...DEFAULT_WEBHOOK_OPTIONS, ...config.webhooks };
}

export function registerWebhookJobs(runtime: Runtime, config: Pick<Config, "webhooks">): void {
  const options = webhookOptions(config);
  const guard = runtime.outbound;

  runtime.jobs.registerHandler(RELAY_JOB, async (job, ctx) => {
    let delay = options.relayIdleMs;
    try {
      const result = await relayEvents(runtime, options);
      if (result.events >= options.relayBatch) delay = 0;
      // New deliveries go out now, not when the sender next looks.
      if (result.deliveries) await ensureWebhookLoop(runtime, SEND_JOB);
    } catch (err) {
      ctx.log.error({ err }, "webhook relay pass failed");
    }
    await continueLoop(runtime, RELAY_JOB, job.id, new Date(runtime.clock().getTime() + delay));
  });

  runtime.jobs.registerHandler(SEND_JOB, async (job, ctx) => {
    let delay = options.sendIdleMs;
    try {
      const result = await sendDueDeliveries({ ...runtime, log: ctx.log }, guard, options, ctx.workerId, ctx.signal);
      if (result.claimed >= options.sendBatch) delay = 0;
    } catch (err) {
      ctx.log.error({ err }, "webhook send pass failed");
    }
    await continueLoop(runtime, SEND_JOB, job.id, new Date(runtime.clock().getTime() + delay));
  });
}

async function queued(q: SqlRunner, kind: LoopKind, statuses: string[]): Promise<{ id: string; runAt: unknown }[]> {
  return q.all(sql`SELECT "id", "runAt" FROM "Job" WHERE "kind" = ${kind} AND "status" IN (${sqlList(statuses)}) LIMIT 1`);
}

async function insertLoopJob(q: SqlRunner, kind: LoopKind, runAt: Date, now: Date): Promise<void> {
  await q.run(
    sql`INSERT INTO "Job" ("id", "kind", "payload", "runAt", "maxAttempts", "createdAt", "updatedAt")
      VALUES (${randomUUID()}, ${kind}, ${json({})}, ${timestamp(runAt)}, ${LOOP_MAX_ATTEMPTS}, ${timestamp(now)}, ${timestamp(now)})`,
  );
}

/** Queues the loop's next pass (unless one is queued already) and clears its finished passes. */
async function continueLoop(runtime: Pick<Runtime, "sql" | "clock">, kind: LoopKind, currentId: string, runAt: Date): Promise<void> {
  const now = runtime.clock();
  await runtime.sql.transaction(async (q) => {
    await q.run(sql`DELETE FROM "Job" WHERE "kind" = ${kind} AND "status" = 'succeeded' AND "id" <> ${currentId}`);
    if (!(await queued(q, kind, ["queued"])).length) await insertLoopJob(q, kind, runAt, now);
  });
}

/**
 * Makes sure a loop is going and looks now: starts it when no pass is queued or running (the
 * first subscription, a loop that was never started on this database), or moves its queued pass
 * forward. Called after the change that gives the loop work has committed.
 */
export async function ensureWebhookLoop(runtime: Pick<Runtime, "sql" | "clock" | "jobs">, kind: LoopKind): Promise<void> {
  const now = runtime.clock();
  await runtime.sql.transaction(async (q) => {
    const moved = await q.run(
      sql`UPDATE "Job" SET "runAt" = ${timestamp(now)} WHERE "kind" = ${kind} AND "status" = 'queued' AND "runAt" > ${timestamp(now)}`,
    );
    if (!moved && !(await queued(q, kind, ["queued", "running"])).length) await insertLoopJob(q, kind, now, now);
  });
  runtime.jobs.wake();
}

/** Both loops: when subscriptions change. */
export async function ensureWebhookLoops(runtime: Pick<Runtime, "sql" | "clock" | "jobs">): Promise<void> {
  await ensureWebhookLoop(runtime, RELAY_JOB);
  await ensureWebhookLoop(runtime, SEND_JOB);
}
