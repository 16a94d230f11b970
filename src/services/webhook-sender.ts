import { performance } from "node:perf_hooks";
import { bool, rowsOf, sql, sqlList, timestamp, type SqlRunner } from "../db/sql.ts";
import type { WebhookDelivery, WebhookSubscription } from "../generated/sqlite/client.ts";
import type { Runtime } from "./context.ts";
import { OutboundFetchError, type OutboundGuard } from "./outbound-guard.ts";
import { parseRetryAfter, retryDelay, webhookHeaders, type WebhookOptions } from "./webhook-events.ts";

// The sender: claims due deliveries (a lease in lockedBy/lockedUntil, taken in one statement, so
// one instance sends each attempt), POSTs them through the outbound guard, and records every
// attempt: the WebhookAttempt row, the delivery's outcome and next try, the subscription's health.
// A delivery whose sender died keeps its lease until lockedUntil and is then claimed again: at
// least once, with the same delivery id (webhook-id) every time.

const MAX_ERROR = 500;

type Outcome =
  | { kind: "succeeded"; statusCode: number }
  | { kind: "gone"; statusCode: number; error: string }
  | { kind: "failed"; statusCode: number | null; error: string; retryAfterMs: number | null };

export interface SendResult {
  claimed: number;
}

export async function sendDueDeliveries(
  runtime: Pick<Runtime, "sql" | "clock" | "log">,
  guard: OutboundGuard,
  options: WebhookOptions,
  workerId: string,
  signal?: AbortSignal,
): Promise<SendResult> {
  const claimed = await claimDeliveries(runtime, options, workerId);
  if (!claimed.length) return { claimed: 0 };
  const subscriptions = await rowsOf<WebhookSubscription>(
    runtime.sql,
    "WebhookSubscription",
    sql`SELECT * FROM "WebhookSubscription" WHERE "id" IN (${sqlList([...new Set(claimed.map((d) => d.subscriptionId))])})`,
  );
  const byId = new Map(subscriptions.map((s) => [s.id, s]));
  const results: Attempted[] = [];
  await Promise.all(
    claimed.map(async (delivery) => {
      const subscription = byId.get(delivery.subscriptionId);
      if (!subscription) return; // deleted meanwhile: its deliveries went with it
      const started = performance.now();
      const outcome = await post(runtime, guard, options, subscription, delivery, signal);
      results.push({ delivery, outcome, latencyMs: Math.round(performance.now() - started), at: runtime.clock() });
    }),
  );
  if (!results.length) return { claimed: claimed.length };
  if (signal?.aborted) {
    // The runner is stopping (or lost this pass): no attempts to record; the next sender, here or
    // after the restart, takes the deliveries again.
    await runtime.sql.run(
      sql`UPDATE "WebhookDelivery" SET "lockedBy" = NULL, "lockedUntil" = NULL
        WHERE "id" IN (${sqlList(results.map((r) => r.delivery.id))}) AND "lockedBy" = ${workerId}`,
    );
    return { claimed: claimed.length };
  }
  // One transaction for the whole batch: a commit per attempt would cost more than the POSTs.
  // Should it fail, the leases run out and the deliveries are tried again.
  await runtime.sql.transaction(async (q) => {
    for (const r of results) await recordAttempt(q, options, workerId, r);
  });
  return { claimed: claimed.length };
}

interface Attempted {
  delivery: WebhookDelivery;
  outcome: Outcome;
  latencyMs: number;
  /** When the attempt ended. */
  at: Date;
}

/** Leases up to sendBatch due deliveries of active subscriptions. */
async function claimDeliveries(runtime: Pick<Runtime, "sql" | "clock">, options: WebhookOptions, workerId: string): Promise<WebhookDelivery[]> {
  const now = runtime.clock();
  // Long enough for the request and for recording it; after that another sender may take over.
  const until = new Date(now.getTime() + 2 * options.timeoutMs + 30_000);
  const skipLocked = runtime.sql.dialect === "postgres" ? sql`FOR UPDATE SKIP LOCKED` : sql``;
  return rowsOf<WebhookDelivery>(
    runtime.sql,
    "WebhookDelivery",
    sql`UPDATE "WebhookDelivery" SET "lockedBy" = ${workerId}, "lockedUntil" = ${timestamp(until)}
      WHERE "id" IN (
        SELECT d."id" FROM "WebhookDelivery" d
        WHERE d."status" IN ('pending', 'failed') AND d."nextAttemptAt" <= ${timestamp(now)}
          AND (d."lockedUntil" IS NULL OR d."lockedUntil" < ${timestamp(now)})
          AND EXISTS (SELECT 1 FROM "WebhookSubscription" s WHERE s."id" = d."subscriptionId" AND s."active" = ${bool(true)})
        ORDER BY d."nextAttemptAt"
        LIMIT ${options.sendBatch}
        ${skipLocked})
      RETURNING *`,
  );
}

/** One POST of the delivery's stored body, signed for this attempt. */
async function post(
  runtime: Pick<Runtime, "clock">,
  guard: OutboundGuard,
  options: WebhookOptions,
  subscription: WebhookSubscription,
  delivery: WebhookDelivery,
  signal?: AbortSignal,
): Promise<Outcome> {
  const body = JSON.stringify(delivery.payload);
  const headers = webhookHeaders(subscription.secret, delivery.id, delivery.eventType, body, runtime.clock());
  try {
    const res = await guard.request(subscription.url, {
      method: "POST",
      headers,
      body,
      timeoutMs: options.timeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      signal,
    });
    const status = res.status;
    if (status >= 200 && status < 300) return { kind: "succeeded", statusCode: status };
    if (status === 410) return { kind: "gone", statusCode: status, error: "410 Gone: the receiver asked to stop these deliveries" };
    let error = `HTTP ${status}`;
    if (status >= 300 && status < 400) {
      const location = res.headers.location;
      error += `: redirect${location ? ` to ${String(location).slice(0, 200)}` : ""} not followed`;
    } else {
      const text = res.body.toString("utf8").replace(/\s+/g, " ").trim();
      if (text) error += `: ${text.slice(0, 200)}`;
    }
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers["retry-after"], runtime.clock()) : null;
    return { kind: "failed", statusCode: status, error, retryAfterMs };
  } catch (err) {
    return { kind: "failed", statusCode: null, error: describe(err), retryAfterMs: null };
  }
}

/** A failed attempt in a line: the guard's refusal, or its OutboundFetchError (which already names the socket's error). */
function describe(err: unknown): string {
  if (err instanceof OutboundFetchError && err.code === "TIMEOUT") return "timed out";
  return (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR);
}

/** The attempt's row, the delivery's outcome and next try, and the subscription's health. */
async function recordAttempt(q: SqlRunner, options: WebhookOptions, workerId: string, attempted: Attempted): Promise<void> {
  const { delivery, outcome, latencyMs, at: now } = attempted;
  const error = outcome.kind === "succeeded" ? null : outcome.error.slice(0, MAX_ERROR);
  const [sub] = await rowsOf<WebhookSubscription>(
    q,
    "WebhookSubscription",
    outcome.kind === "succeeded"
      ? sql`UPDATE "WebhookSubscription" SET "lastSuccessAt" = ${timestamp(now)}, "failingSince" = NULL, "updatedAt" = ${timestamp(now)}
          WHERE "id" = ${delivery.subscriptionId} RETURNING *`
      : sql`UPDATE "WebhookSubscription" SET "lastFailureAt" = ${timestamp(now)}, "failingSince" = COALESCE("failingSince", ${timestamp(now)}),
          "updatedAt" = ${timestamp(now)}
          WHERE "id" = ${delivery.subscriptionId} RETURNING *`,
  );
  if (!sub) return;
  let disable: "gone" | "failing" | null = null;
  if (sub.active && outcome.kind === "gone") disable = "gone";
  else if (sub.active && outcome.kind === "failed" && sub.failingSince && now.getTime() - sub.failingSince.getTime() >= options.disableAfterMs) disable = "failing";
  const active = sub.active && !disable;

  let status: string;
  let nextAttemptAt: Date | null = null;
  if (outcome.kind === "succeeded") status = "succeeded";
  else if (outcome.kind === "gone" || !active) status = "dead";
  else {
    const backoff = retryDelay(options, delivery.attempts + 1);
    const wait = Math.max(backoff, Math.min(outcome.retryAfterMs ?? 0, options.maxRetryAfterMs));
    nextAttemptAt = new Date(now.getTime() + wait);
    // Automatic retries stay within the window from the delivery's creation; then it is dead (redeliver to try again).
    if (nextAttemptAt.getTime() > delivery.createdAt.getTime() + options.retryWindowMs) {
      status = "dead";
      nextAttemptAt = null;
    } else status = "failed";
  }
  const [updated] = await q.all<{ attempts: number | bigint }>(
    sql`UPDATE "WebhookDelivery" SET "status" = ${status}, "attempts" = "attempts" + 1, "nextAttemptAt" = ${timestamp(nextAttemptAt)},
        "lockedBy" = NULL, "lockedUntil" = NULL, "lastStatusCode" = ${outcome.statusCode}, "lastError" = ${error},
        "lastLatencyMs" = ${latencyMs}, "updatedAt" = ${timestamp(now)}${status === "succeeded" ? sql`, "deliveredAt" = ${timestamp(now)}` : sql``}
      WHERE "id" = ${delivery.id} AND "lockedBy" = ${workerId}
      RETURNING "attempts"`,
  );
  // Lost the lease (another sender took the delivery over): its attempt is the one on record.
  if (!updated) return;
  await q.run(
    sql`INSERT INTO "WebhookAttempt" ("deliveryId", "number", "at", "statusCode", "latencyMs", "error")
      VALUES (${delivery.id}, ${Number(updated.attempts)}, ${timestamp(now)}, ${outcome.statusCode}, ${latencyMs}, ${error})`,
  );
  if (disable) await disableSubscription(q, delivery.subscriptionId, disable, now);
}

/**
 * Turns a subscription off (gone, failing or manual) and gives up its outstanding deliveries: they
 * stay in the log as dead, and redeliverFailed sends them once it is active again.
 */
export async function disableSubscription(q: SqlRunner, subscriptionId: string, reason: "gone" | "failing" | "manual", now: Date): Promise<void> {
  await q.run(
    sql`UPDATE "WebhookSubscription" SET "active" = ${bool(false)}, "disabledAt" = ${timestamp(now)}, "disabledReason" = ${reason},
        "updatedAt" = ${timestamp(now)}
      WHERE "id" = ${subscriptionId}`,
  );
  await q.run(
    sql`UPDATE "WebhookDelivery" SET "status" = 'dead', "nextAttemptAt" = NULL, "updatedAt" = ${timestamp(now)},
        "lastError" = COALESCE("lastError", ${`subscription disabled (${reason})`})
      WHERE "subscriptionId" = ${subscriptionId} AND "status" IN ('pending', 'failed') AND ("lockedUntil" IS NULL OR "lockedUntil" < ${timestamp(now)})`,
  );
}
