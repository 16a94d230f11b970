import { z } from "zod";
import { notFound, validationError } from "../errors.ts";
import { runnerIn } from "../db/sql.ts";
import type { WebhookSubscription } from "../generated/sqlite/client.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import { requireWorkspaceAdmin } from "./access.ts";
import { auditActor, recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput } from "./validation.ts";
import { newWebhookSecret, WEBHOOK_EVENTS } from "./webhook-events.ts";
import { ensureWebhookLoops } from "./webhook-jobs.ts";
import { disableSubscription } from "./webhook-sender.ts";

// Webhook subscriptions: a workspace's receivers, each with its URL, events and signing secret
// (shown once, at creation and on rotation). Managed by operators with a developer key that has
// workspace:admin; another workspace's subscription is NOT_FOUND.

const URL_MAX_CHARS = 2048;

const WebhookUrl = z
  .string()
  .trim()
  .max(URL_MAX_CHARS, `must be at most ${URL_MAX_CHARS} characters`)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "https:" || u.protocol === "http:") && u.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL, e.g. https://example.com/webhooks");

const EventName = z.string().refine((v) => (WEBHOOK_EVENTS as readonly string[]).includes(v), {
  error: (issue) => `unknown event "${String(issue.input)}" (one of ${WEBHOOK_EVENTS.join(", ")})`,
});
const Events = z.array(EventName).min(1, "name at least one event").transform((list) => [...new Set(list)]);
const Description = z.string().trim().max(500, "must be at most 500 characters").nullish();

const CreateInput = z.object({ url: WebhookUrl, events: Events, description: Description });
const UpdateInput = z.object({
  url: WebhookUrl.optional(),
  events: Events.optional(),
  description: Description,
  active: z.boolean().optional(),
});

export interface SubscriptionWithSecret {
  subscription: WebhookSubscription;
  /** The signing secret (whsec_…): returned here only. */
  secret: string;
}

/** The workspace whose webhooks the caller manages: a developer key with workspace:admin. */
export function webhookWorkspace(ctx: ServiceContext): string {
  const workspaceId = requireWorkspaceAdmin(ctx);
  if (!workspaceId) throw notFound("Workspace");
  return workspaceId;
}

/** A subscription of the caller's workspace, or NOT_FOUND. */
export async function ownSubscription(ctx: ServiceContext, id: string): Promise<WebhookSubscription> {
  const workspaceId = webhookWorkspace(ctx);
  const row = await ctx.db.webhookSubscription.findFirst({ where: { id, workspaceId } });
  if (!row) throw notFound("Webhook subscription");
  return row;
}

/** The save-time half of the outbound check (the other half runs on every connection). */
async function checkTarget(ctx: ServiceContext, url: string): Promise<void> {
  const refusal = await ctx.outbound.checkHost(new URL(url).hostname);
  if (refusal) throw validationError(`url: ${refusal}`, "url");
}

export async function createWebhookSubscription(ctx: ServiceContext, input: unknown): Promise<SubscriptionWithSecret> {
  const workspaceId = webhookWorkspace(ctx);
  const args = parseInput(CreateInput, input);
  await checkTarget(ctx, args.url);
  const secret = newWebhookSecret();
  const { subscription, events } = await ctx.db.$transaction(async (tx) => {
    const subscription = await tx.webhookSubscription.create({
      data: { workspaceId, url: args.url, events: args.events, description: args.description ?? null, secret, createdAt: ctx.clock() },
    });
    const details = { subscriptionId: subscription.id, url: subscription.url, events: args.events };
    await recordAudit(tx, { workspaceId, ...auditActor(ctx.principal), action: "webhook_subscription.created", details });
    const events = [await ctx.events.record(tx, { workspaceId, type: "webhook_subscription.created", payload: details })];
    return { subscription, events };
  });
  ctx.events.publish(events);
  await ensureWebhookLoops(ctx);
  return { subscription, secret };
}

export async function updateWebhookSubscription(ctx: ServiceContext, id: string, input: unknown): Promise<WebhookSubscription> {
  const before = await ownSubscription(ctx, id);
  const args = parseInput(UpdateInput, input);
  if (args.url !== undefined && args.url !== before.url) await checkTarget(ctx, args.url);
  const now = ctx.clock();
  let events: DomainEventRecord[] = [];
  const after = await ctx.db.$transaction(async (tx) => {
    const reactivated = args.active === true && !before.active;
    await tx.webhookSubscription.update({
      where: { id },
      data: {
        ...(args.url !== undefined ? { url: args.url } : {}),
        ...(args.events !== undefined ? { events: args.events } : {}),
        ...(args.description !== undefined ? { description: args.description } : {}),
        // Back on: healthy until its next failure.
        ...(reactivated ? { active: true, disabledAt: null, disabledReason: null, failingSince: null } : {}),
      },
    });
    if (args.active === false && before.active) await disableSubscription(runnerIn(tx, ctx.provider), id, "manual", now);
    const row = await tx.webhookSubscription.findUniqueOrThrow({ where: { id } });
    const changes = (["url", "events", "description", "active"] as const).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(row[k]));
    if (changes.length) {
      const details = { subscriptionId: id, changes };
      await recordAudit(tx, { workspaceId: row.workspaceId, ...auditActor(ctx.principal), action: "webhook_subscription.updated", details });
      events = [await ctx.events.record(tx, { workspaceId: row.workspaceId, type: "webhook_subscription.updated", payload: details })];
    }
    return row;
  });
  ctx.events.publish(events);
  if (after.active) await ensureWebhookLoops(ctx);
  return after;
}

export async function deleteWebhookSubscription(ctx: ServiceContext, id: string): Promise<string> {
  const row = await ownSubscription(ctx, id);
  const events = await ctx.db.$transaction(async (tx) => {
    // Its deliveries and their attempts go with it (cascade).
    await tx.webhookSubscription.delete({ where: { id } });
    const details = { subscriptionId: id, url: row.url };
    await recordAudit(tx, { workspaceId: row.workspaceId, ...auditActor(ctx.principal), action: "webhook_subscription.deleted", details });
    return [await ctx.events.record(tx, { workspaceId: row.workspaceId, type: "webhook_subscription.deleted", payload: details })];
  });
  ctx.events.publish(events);
  return id;
}

/**
 * A new secret replaces the old one at once: deliveries from now on (retries included) are signed
 * with it, so receivers should switch as soon as they have it.
 */
export async function rotateWebhookSecret(ctx: ServiceContext, id: string): Promise<SubscriptionWithSecret> {
  const row = await ownSubscription(ctx, id);
  const secret = newWebhookSecret();
  const subscription = await ctx.db.$transaction(async (tx) => {
    const updated = await tx.webhookSubscription.update({ where: { id }, data: { secret } });
    await recordAudit(tx, {
      workspaceId: row.workspaceId,
      ...auditActor(ctx.principal),
      action: "webhook_subscription.secret_rotated",
      details: { subscriptionId: id },
    });
    return updated;
  });
  return { subscription, secret };
}
