import { builder } from "./builder.ts";
import { WEBHOOK_EVENTS } from "../services/webhook-events.ts";
import {
  createWebhookSubscription,
  deleteWebhookSubscription,
  ownSubscription,
  rotateWebhookSecret,
  updateWebhookSubscription,
  webhookWorkspace,
  type SubscriptionWithSecret,
} from "../services/webhooks.ts";
import {
  deliveryLogScope,
  redeliverFailedWebhookDeliveries,
  redeliverWebhookDelivery,
  webhookHealth,
  type WebhookHealth,
} from "../services/webhook-deliveries.ts";

// Webhooks for operators (a developer key with workspace:admin): subscriptions with their health,
// the delivery log with every attempt, and manual redelivery.

const WebhookHealthRef = builder.objectRef<WebhookHealth>("WebhookHealth").implement({
  description: "How a subscription's deliveries are going",
  fields: (t) => ({
    state: t.exposeString("state", { description: "healthy | failing (failures since the last success) | disabled" }),
    active: t.exposeBoolean("active"),
    disabledAt: t.expose("disabledAt", { type: "DateTime", nullable: true }),
    disabledReason: t.exposeString("disabledReason", {
      nullable: true,
      description: "gone (the receiver answered 410), failing (three days of failures) or manual",
    }),
    failingSince: t.expose("failingSince", { type: "DateTime", nullable: true, description: "The first failure since the last success" }),
    lastSuccessAt: t.expose("lastSuccessAt", { type: "DateTime", nullable: true }),
    lastFailureAt: t.expose("lastFailureAt", { type: "DateTime", nullable: true }),
    recentAttempts: t.exposeInt("recentAttempts", { description: "Attempts in the last windowHours" }),
    recentSuccessRate: t.exposeFloat("recentSuccessRate", {
      nullable: true,
      description: "The share (0–1) of recentAttempts that got a 2xx; null without attempts",
    }),
    windowHours: t.exposeInt("windowHours"),
  }),
});

builder.prismaObject("WebhookSubscription", {
  description: "A receiver of the workspace's events. Its signing secret is shown only when it is created or rotated.",
  fields: (t) => ({
    id: t.exposeID("id"),
    url: t.exposeString("url"),
    events: t.stringList({ description: "The events it receives", resolve: (s) => s.events as string[] }),
    description: t.exposeString("description", { nullable: true }),
    active: t.exposeBoolean("active"),
    health: t.field({ type: WebhookHealthRef, resolve: (s, _a, ctx) => webhookHealth(ctx, s) }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("WebhookAttempt", {
  description: "One POST of a delivery",
  fields: (t) => ({
    number: t.exposeInt("number", { description: "1 for the first attempt, then 2, 3, … (manual redeliveries continue the count)" }),
    at: t.expose("at", { type: "DateTime" }),
    statusCode: t.exposeInt("statusCode", { nullable: true, description: "The receiver's HTTP status; null when no response came" }),
    latencyMs: t.exposeInt("latencyMs", { nullable: true }),
    error: t.exposeString("error", { nullable: true, description: "Why it failed (status and body excerpt, redirect, timeout, refused address…)" }),
  }),
});

builder.prismaObject("WebhookDelivery", {
  description: "One event for one subscription. Its id is the webhook-id header: the same on every retry and redelivery.",
  fields: (t) => ({
    id: t.exposeID("id"),
    subscriptionId: t.exposeID("subscriptionId"),
    eventType: t.exposeString("eventType"),
    domainEventId: t.exposeID("domainEventId", { nullable: true }),
    payload: t.expose("payload", { type: "JSON", description: "The JSON body: {id, type, timestamp, data}" }),
    status: t.exposeString("status", {
      description: "pending (not tried yet) | failed (retry at nextAttemptAt) | succeeded | dead (no more automatic retries)",
    }),
    attemptCount: t.exposeInt("attempts", { description: "Attempts so far" }),
    nextAttemptAt: t.expose("nextAttemptAt", { type: "DateTime", nullable: true }),
    lastStatusCode: t.exposeInt("lastStatusCode", { nullable: true }),
    lastError: t.exposeString("lastError", { nullable: true }),
    lastLatencyMs: t.exposeInt("lastLatencyMs", { nullable: true }),
    deliveredAt: t.expose("deliveredAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    attempts: t.relation("attemptLog", { description: "Every attempt, oldest first", query: { orderBy: { number: "asc" } } }),
  }),
});

const CreatedWebhookSubscription = builder.objectRef<SubscriptionWithSecret>("WebhookSubscriptionWithSecret").implement({
  fields: (t) => ({
    secret: t.exposeString("secret", {
      description:
        "The signing secret (whsec_…). Store it now: it is never shown again. X-Quincer-Signature is the hex HMAC-SHA256 of the raw body " +
        "keyed with this string; webhook-signature (Standard Webhooks) keys with the base64-decoded part after whsec_.",
    }),
    subscription: t.prismaField({
      type: "WebhookSubscription",
      resolve: (query, r, _a, ctx) => ctx.db.webhookSubscription.findUniqueOrThrow({ ...query, where: { id: r.subscription.id } }),
    }),
  }),
});

builder.queryFields((t) => ({
  webhookEventTypes: t.stringList({
    description: "The events a subscription can receive",
    authScopes: { authenticated: true },
    resolve: () => [...WEBHOOK_EVENTS],
  }),
  webhookSubscriptions: t.prismaField({
    type: ["WebhookSubscription"],
    description: "The workspace's webhook subscriptions with their health, oldest first (developer key with workspace:admin)",
    authScopes: { authenticated: true },
    resolve: (query, _r, _a, ctx) =>
      ctx.db.webhookSubscription.findMany({ ...query, where: { workspaceId: webhookWorkspace(ctx) }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
  }),
  webhookSubscription: t.prismaField({
    type: "WebhookSubscription",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const row = await ownSubscription(ctx, String(args.id));
      return ctx.db.webhookSubscription.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  webhookDeliveries: t.prismaConnection({
    type: "WebhookDelivery",
    cursor: "id",
    description: "The delivery log, newest first: all of the workspace's or one subscription's, optionally of one status",
    authScopes: { authenticated: true },
    args: {
      subscriptionId: t.arg.id(),
      status: t.arg.string({ description: "pending | failed | succeeded | dead" }),
    },
    totalCount: async (_r, args, ctx) =>
      ctx.db.webhookDelivery.count({ where: await deliveryLogScope(ctx, { subscriptionId: args.subscriptionId?.toString(), status: args.status }) }),
    resolve: async (query, _r, args, ctx) => {
      const where = await deliveryLogScope(ctx, { subscriptionId: args.subscriptionId?.toString(), status: args.status });
      return ctx.db.webhookDelivery.findMany({ ...query, where, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    },
  }),
}));

builder.mutationFields((t) => ({
  createWebhookSubscription: t.field({
    type: CreatedWebhookSubscription,
    description:
      "Subscribes a URL (absolute http or https; loopback, private and link-local addresses are refused unless OUTBOUND_ALLOWLIST permits " +
      "them) to events. Answers the signing secret, once.",
    authScopes: { authenticated: true },
    args: {
      url: t.arg.string({ required: true }),
      events: t.arg.stringList({ required: true, description: "Names from webhookEventTypes" }),
      description: t.arg.string(),
    },
    resolve: (_r, args, ctx) => createWebhookSubscription(ctx, { url: args.url, events: args.events, description: args.description }),
  }),
  updateWebhookSubscription: t.prismaField({
    type: "WebhookSubscription",
    description: "Changes what is given. active: false stops deliveries (outstanding ones become dead); true resumes and clears the health flags.",
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: true }),
      url: t.arg.string(),
      events: t.arg.stringList(),
      description: t.arg.string(),
      active: t.arg.boolean(),
    },
    resolve: async (query, _r, args, ctx) => {
      const row = await updateWebhookSubscription(ctx, String(args.id), {
        url: args.url ?? undefined,
        events: args.events ?? undefined,
        description: args.description,
        active: args.active ?? undefined,
      });
      return ctx.db.webhookSubscription.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  deleteWebhookSubscription: t.id({
    description: "Deletes the subscription and its delivery log; answers its id",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => deleteWebhookSubscription(ctx, String(args.id)),
  }),
  rotateWebhookSecret: t.field({
    type: CreatedWebhookSubscription,
    description: "Replaces the signing secret at once (retries are signed with the new one too); answers it, once",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => rotateWebhookSecret(ctx, String(args.id)),
  }),
  redeliverWebhookDelivery: t.prismaField({
    type: "WebhookDelivery",
    description: "Sends a delivery again now: same delivery id (webhook-id) and body, one more attempt in its log",
    authScopes: { authenticated: true },
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const row = await redeliverWebhookDelivery(ctx, String(args.deliveryId));
      return ctx.db.webhookDelivery.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  redeliverFailedWebhookDeliveries: t.int({
    description: "Sends every failed or dead delivery of the subscription created since `since` again now; answers how many",
    authScopes: { authenticated: true },
    args: {
      subscriptionId: t.arg.id({ required: true }),
      since: t.arg.string({ required: true, description: "An ISO-8601 date-time: deliveries created at or after it" }),
    },
    resolve: (_r, args, ctx) => redeliverFailedWebhookDeliveries(ctx, String(args.subscriptionId), args.since),
  }),
}));
