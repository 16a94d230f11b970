import { randomUUID } from "node:crypto";
import { bool, json, rowsOf, sql, sqlJoin, sqlList, timestamp, type Sql, type SqlRunner } from "../db/sql.ts";
import type { DomainEvent, WebhookSubscription } from "../generated/sqlite/client.ts";
import type { Runtime } from "./context.ts";
import { webhookBody, webhookEventOf, type ReceivedMessage, type WebhookOptions } from "./webhook-events.ts";

// The relay: domain events (the transactional outbox every change writes) → one WebhookDelivery per
// matching active subscription. A pass takes the oldest events not yet relayed, inserts their
// deliveries and marks them relayed in one transaction: an event committed late is still unmarked
// and is picked up by a later pass (nothing skipped), and the (subscription, event) unique key plus
// the mark mean no event is delivered twice to a subscription (nothing duplicated), even when two
// relays run at once or one dies mid-pass.

/** Rows per INSERT statement (SQLite allows 32,766 parameters per statement; each row takes 10). */
const INSERT_CHUNK = 200;

export interface RelayResult {
  /** Domain events looked at (and marked relayed). */
  events: number;
  /** Deliveries created. */
  deliveries: number;
}

export async function relayEvents(runtime: Pick<Runtime, "sql" | "clock">, options: Pick<WebhookOptions, "relayBatch">): Promise<RelayResult> {
  return runtime.sql.transaction(async (q) => {
    const now = runtime.clock();
    // PostgreSQL: a second relay skips the rows this one holds instead of waiting for them.
    const skipLocked = q.dialect === "postgres" ? sql`FOR UPDATE SKIP LOCKED` : sql``;
    const events = await rowsOf<DomainEvent>(
      q,
      "DomainEvent",
      sql`SELECT * FROM "DomainEvent" WHERE "relayedAt" IS NULL ORDER BY "createdAt" LIMIT ${options.relayBatch} ${skipLocked}`,
    );
    if (!events.length) return { events: 0, deliveries: 0 };
    const rows = await deliveryRows(q, events, now);
    let deliveries = 0;
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      deliveries += await q.run(
        sql`INSERT INTO "WebhookDelivery" ("id", "workspaceId", "subscriptionId", "domainEventId", "eventType", "payload", "status",
            "attempts", "nextAttemptAt", "createdAt", "updatedAt")
          VALUES ${sqlJoin(rows.slice(i, i + INSERT_CHUNK))}
          ON CONFLICT ("subscriptionId", "domainEventId") DO NOTHING`,
      );
    }
    await q.run(sql`UPDATE "DomainEvent" SET "relayedAt" = ${timestamp(now)} WHERE "id" IN (${sqlList(events.map((e) => e.id))})`);
    return { events: events.length, deliveries };
  });
}

/** The VALUES tuples of the deliveries these events make. */
async function deliveryRows(q: SqlRunner, events: DomainEvent[], now: Date): Promise<Sql[]> {
  const relevant = events.filter((e) => webhookEventOf(e.type));
  if (!relevant.length) return [];
  const workspaceIds = [...new Set(relevant.map((e) => e.workspaceId))];
  const subscriptions = await rowsOf<WebhookSubscription>(
    q,
    "WebhookSubscription",
    sql`SELECT * FROM "WebhookSubscription" WHERE "active" = ${bool(true)} AND "workspaceId" IN (${sqlList(workspaceIds)})`,
  );
  if (!subscriptions.length) return [];
  // An event reaches the subscriptions that existed when it happened: a new subscription does not
  // get the workspace's history.
  const matches = (s: WebhookSubscription, e: DomainEvent, type: string) =>
    s.workspaceId === e.workspaceId && (s.events as string[]).includes(type) && e.createdAt.getTime() >= s.createdAt.getTime();
  const wanted = relevant.filter((e) => subscriptions.some((s) => matches(s, e, webhookEventOf(e.type)!)));
  if (!wanted.length) return [];
  const messages = await receivedMessages(q, wanted);
  const rows: Sql[] = [];
  for (const e of wanted) {
    const type = webhookEventOf(e.type)!;
    const eventId = (e.payload as { eventId?: unknown } | null)?.eventId;
    const body = webhookBody(e, type, typeof eventId === "string" ? messages.get(eventId) : null);
    for (const s of subscriptions) {
      if (!matches(s, e, type)) continue;
      rows.push(
        sql`(${randomUUID()}, ${e.workspaceId}, ${s.id}, ${e.id}, ${type}, ${json(body)}, 'pending', 0, ${timestamp(now)}, ${timestamp(now)}, ${timestamp(now)})`,
      );
    }
  }
  return rows;
}

/** The visitor messages behind conversation.message_received events, by ConversationEvent id. */
async function receivedMessages(q: SqlRunner, events: DomainEvent[]): Promise<Map<string, ReceivedMessage>> {
  const ids = events
    .filter((e) => e.type === "conversation.message_received")
    .map((e) => (e.payload as { eventId?: unknown } | null)?.eventId)
    .filter((id): id is string => typeof id === "string");
  if (!ids.length) return new Map();
  const found = await rowsOf<ReceivedMessage>(
    q,
    "ConversationEvent",
    sql`SELECT "id", "ord", "author", "content", "createdAt" FROM "ConversationEvent" WHERE "id" IN (${sqlList([...new Set(ids)])})`,
  );
  return new Map(found.map((m) => [m.id, m]));
}
