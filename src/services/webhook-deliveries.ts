import { z } from "zod";
import { conflict, notFound } from "../errors.ts";
import type { WebhookDelivery, WebhookSubscription } from "../generated/sqlite/client.ts";
import { auditActor, recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput } from "./validation.ts";
import { DEFAULT_WEBHOOK_OPTIONS } from "./webhook-events.ts";
import { ensureWebhookLoop, SEND_JOB } from "./webhook-jobs.ts";
import { ownSubscription, webhookWorkspace } from "./webhooks.ts";

// The delivery log (every delivery with its attempts), manual redelivery, and a subscription's
// health as operators see it.

export const DELIVERY_STATUSES = ["pending", "failed", "succeeded", "dead"] as const;

const LogFilter = z.object({
  subscriptionId: z.string().min(1).nullish(),
  status: z.enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(", ")}` }).nullish(),
});

/** The Prisma filter for a caller's delivery log; a subscription of another workspace is NOT_FOUND. */
export async function deliveryLogScope(
  ctx: ServiceContext,
  input: { subscriptionId?: string | null; status?: string | null },
): Promise<{ workspaceId: string; subscriptionId?: string; status?: string }> {
  const workspaceId = webhookWorkspace(ctx);
  const args = parseInput(LogFilter, input);
  if (args.subscriptionId) await ownSubscription(ctx, args.subscriptionId);
  return { workspaceId, ...(args.subscriptionId ? { subscriptionId: args.subscriptionId } : {}), ...(args.status ? { status: args.status } : {}) };
}

function requireActive(subscription: Pick<WebhookSubscription, "active">): void {
  if (!subscription.active) throw conflict("The webhook subscription is disabled: set active to true first");
}

/**
 * Sends a delivery again now: the same delivery (same webhook-id, same body, newly signed), one more
 * attempt in its log. Automatic retries after it stay within the delivery's original window.
 */
export async function redeliverWebhookDelivery(ctx: ServiceContext, deliveryId: string): Promise<WebhookDelivery> {
  const workspaceId = webhookWorkspace(ctx);
  const delivery = await ctx.db.webhookDelivery.findFirst({ where: { id: deliveryId, workspaceId }, include: { subscription: true } });
  if (!delivery) throw notFound("Webhook delivery");
  requireActive(delivery.subscription);
  const now = ctx.clock();
  const updated = await ctx.db.$transaction(async (tx) => {
    const row = await tx.webhookDelivery.update({ where: { id: deliveryId }, data: { status: "pending", nextAttemptAt: now } });
    await recordAudit(tx, {
      workspaceId,
      ...auditActor(ctx.principal),
      action: "webhook_delivery.redelivered",
      details: { deliveryId, subscriptionId: delivery.subscriptionId },
    });
    return row;
  });
  await ensureWebhookLoop(ctx, SEND_JOB);
  return updated;
}

/** Sends every failed or dead delivery of a subscription created since `since` again now; answers how many. */
const Since = z.object({
  since: z.iso
    .datetime({ offset: true, error: "must be an ISO-8601 date-time, e.g. 2026-01-15T10:30:00Z" })
    .transform((v) => new Date(v)),
});

export async function redeliverFailedWebhookDeliveries(ctx: ServiceContext, subscriptionId: string, since: string): Promise<number> {
  const subscription = await ownSubscription(ctx, subscriptionId);
  const args = parseInput(Since, { since });
  requireActive(subscription);
  const now = ctx.clock();
  const count = await ctx.db.$transaction(async (tx) => {
    const { count } = await tx.webhookDelivery.updateMany({
      where: { subscriptionId, status: { in: ["failed", "dead"] }, createdAt: { gte: args.since } },
      data: { status: "pending", nextAttemptAt: now },
    });
    await recordAudit(tx, {
      workspaceId: subscription.workspaceId,
      ...auditActor(ctx.principal),
      action: "webhook_delivery.redelivered",
      details: { subscriptionId, since: args.since.toISOString(), count },
    });
    return count;
  });
  if (count) await ensureWebhookLoop(ctx, SEND_JOB);
  return count;
}

export interface WebhookHealth {
  /** healthy | failing (its latest attempts failed) | disabled */
  state: "healthy" | "failing" | "disabled";
  active: boolean;
  disabledAt: Date | null;
  disabledReason: string | null;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  /** Attempts in the recent window, and the share of them that succeeded (null without attempts). */
  recentAttempts: number;
  recentSuccessRate: number | null;
  windowHours: number;
}

export async function webhookHealth(ctx: Pick<ServiceContext, "db" | "clock">, s: WebhookSubscription): Promise<WebhookHealth> {
  const windowMs = DEFAULT_WEBHOOK_OPTIONS.healthWindowMs;
  const since = new Date(ctx.clock().getTime() - windowMs);
  const recent = { at: { gte: since }, delivery: { subscriptionId: s.id } };
  const [recentAttempts, succeeded] = await Promise.all([
    ctx.db.webhookAttempt.count({ where: recent }),
    ctx.db.webhookAttempt.count({ where: { ...recent, statusCode: { gte: 200, lt: 300 } } }),
  ]);
  return {
    state: !s.active ? "disabled" : s.failingSince ? "failing" : "healthy",
    active: s.active,
    disabledAt: s.disabledAt,
    disabledReason: s.disabledReason,
    failingSince: s.failingSince,
    lastSuccessAt: s.lastSuccessAt,
    lastFailureAt: s.lastFailureAt,
    recentAttempts,
    recentSuccessRate: recentAttempts ? succeeded / recentAttempts : null,
    windowHours: windowMs / 3_600_000,
  };
}
