import { createHmac, randomBytes } from "node:crypto";

// What a webhook says and how it is signed: the documented event names, the JSON body, the
// Quincer signature (X-Quincer-Signature) and the Standard Webhooks one (webhook-signature).

/** The events a subscription can ask for (the reference's list, in its order). */
export const WEBHOOK_EVENTS = [
  "conversation.message_received",
  "lead.created",
  "lead.updated",
  "lead.stage_changed",
  "task.created",
  "task.completed",
  "email.sent",
  "email.draft_created",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * Domain event type → webhook event. Our domain events already use the documented names; anything
 * not listed here (conversation.resolved, article.published, …) never leaves the server.
 */
const FROM_DOMAIN: Record<string, WebhookEvent> = Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e, e]));

export function webhookEventOf(domainType: string): WebhookEvent | null {
  return FROM_DOMAIN[domainType] ?? null;
}

/** The body every delivery POSTs: the domain event's id and time, and the event's data. */
export interface WebhookBody {
  id: string;
  type: WebhookEvent;
  timestamp: string;
  data: Record<string, unknown>;
}

/** The visitor message a conversation.message_received carries. */
export interface ReceivedMessage {
  id: string;
  ord: number;
  author: string;
  content: string;
  createdAt: Date;
}

interface DomainEventLike {
  id: string;
  scenarioId: string | null;
  type: string;
  payload: unknown;
  createdAt: Date;
}

/**
 * The webhook body of a domain event. conversation.message_received gets the message itself and
 * the conversation's status (active, or human_active while an operator or external agent drives);
 * the lead, task and email events carry their domain payload as it is (the lead record, changes,
 * previousStage, …), which their services shape for consumers.
 */
export function webhookBody(event: DomainEventLike, type: WebhookEvent, message?: ReceivedMessage | null): WebhookBody {
  const payload = (event.payload ?? {}) as Record<string, unknown>;
  let data: Record<string, unknown> = payload;
  if (type === "conversation.message_received") {
    data = {
      conversationId: payload.conversationId,
      widgetId: event.scenarioId,
      status: payload.status === "human_active" ? "human_active" : "active",
      message: message
        ? { id: message.id, ord: message.ord, author: message.author, content: message.content, createdAt: message.createdAt.toISOString() }
        : { id: payload.eventId, ord: payload.ord, author: payload.author },
    };
  }
  return { id: event.id, type, timestamp: event.createdAt.toISOString(), data };
}

/** A new signing secret in the Standard Webhooks format: whsec_ and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** X-Quincer-Signature: the reference's snippet keys the HMAC with the secret as it was given. */
export function quincerSignature(secret: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

/** webhook-signature (Standard Webhooks): HMAC-SHA256 of id.timestamp.body, keyed with the secret's decoded bytes. */
export function standardSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
  return "v1," + createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
}

/** Every header of one attempt; the timestamp is the attempt's, so receivers can reject replays. */
export function webhookHeaders(secret: string, deliveryId: string, type: string, body: string, now: Date): Record<string, string> {
  const ts = Math.floor(now.getTime() / 1000);
  return {
    "content-type": "application/json",
    "user-agent": "Parley-Webhooks/1",
    "x-quincer-signature": quincerSignature(secret, body),
    "x-quincer-event": type,
    "x-quincer-timestamp": String(ts),
    "webhook-id": deliveryId,
    "webhook-timestamp": String(ts),
    "webhook-signature": standardSignature(secret, deliveryId, ts, body),
  };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Webhook timings and limits; tests shorten them through config.webhooks. */
export interface WebhookOptions {
  /**
   * Delay before retry n (the last one repeats): each is the ceiling of a full-jitter draw
   * (uniform between 0 and it). Retries stop once the next one would fall outside retryWindowMs.
   */
  retryScheduleMs: number[];
  /** How long after its creation a delivery is retried automatically. */
  retryWindowMs: number;
  /** A subscription whose attempts have failed without a success for this long is disabled (failing). */
  disableAfterMs: number;
  /** Retry-After is honoured up to this. */
  maxRetryAfterMs: number;
  /** One POST: connect, headers and body. */
  timeoutMs: number;
  /** The receiver's response is read up to this (for the delivery log), the rest discarded. */
  maxResponseBytes: number;
  /** Domain events one relay pass turns into deliveries. */
  relayBatch: number;
  /** Deliveries one sender pass claims and POSTs at once. */
  sendBatch: number;
  /** How often the relay looks for new events when it found none. */
  relayIdleMs: number;
  /** How often the sender looks for due deliveries when it found none. */
  sendIdleMs: number;
  /** The recent success rate of a subscription's health looks back this far. */
  healthWindowMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  // About three days in all: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h.
  retryScheduleMs: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR],
  retryWindowMs: 72 * HOUR,
  disableAfterMs: 72 * HOUR,
  maxRetryAfterMs: 20 * HOUR,
  timeoutMs: 10 * SECOND,
  maxResponseBytes: 64 * 1024,
  relayBatch: 200,
  sendBatch: 32,
  relayIdleMs: 500,
  sendIdleMs: 1000,
  healthWindowMs: 24 * HOUR,
};

/** The delay before the retry that follows attempt number `attempts` (1 = the first try), with full jitter. */
export function retryDelay(options: WebhookOptions, attempts: number, random: () => number = Math.random): number {
  const schedule = options.retryScheduleMs;
  const ceiling = schedule[Math.min(Math.max(attempts - 1, 0), schedule.length - 1)] ?? 0;
  return Math.round(random() * ceiling);
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const text = v.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}
