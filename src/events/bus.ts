import { setMaxListeners } from "node:events";
import { createPubSub } from "graphql-yoga";
import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.ts";
import { json, rowsOf, runnerIn, sql, SqliteLane, timestamp, type SqlLane } from "../db/sql.ts";
import type { LiveConversationMessage, LiveInboxUpdate } from "./live.ts";

export interface DomainEventRecord {
  id: string;
  workspaceId: string;
  scenarioId: string | null;
  type: string;
  payload: unknown;
  createdAt: Date;
}

type Tx = Pick<Db, "$queryRawUnsafe" | "$executeRawUnsafe">;

/** Live topics: payloads are plain JSON-able objects, so a Redis fan-out can carry them as they are. */
export type LiveTopics = {
  [topic: `workspace:${string}`]: [DomainEventRecord];
  /** Everything that happens inside one conversation: messages, reply chunks, typing. */
  [topic: `conversation:${string}`]: [LiveConversationMessage];
  /** A scenario's inbox: conversations created or changed. */
  [topic: `inbox:${string}`]: [LiveInboxUpdate];
  /** A knowledge-base import's progress: its row after each change. */
  [topic: `import:${string}`]: [unknown];
};

/**
 * Every subscriber is a listener on its topic, and a scenario's inbox can have thousands: Node's
 * default limit (10 per event type) would print MaxListenersExceededWarning for a normal workload.
 */
function unboundedEventTarget(): EventTarget {
  const target = new EventTarget();
  setMaxListeners(0, target);
  return target;
}

/** Undelivered events one subscriber may have waiting (the bound yoga's Repeater had). */
export const MAX_PENDING = 1024;

/**
 * One subscriber of a topic. pubsub.subscribe's Repeater costs several promises and objects per
 * event and subscriber, which a 1,000-subscriber inbox pays per message; this is a plain queue.
 * Like the Repeater it starts listening on the first next(). A subscriber that lets MAX_PENDING
 * events pile up is ended with an error; the Repeater threw inside publish's dispatch instead, which
 * Node reports as an uncaught exception.
 */
class TopicSubscription<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (err: unknown) => void } | null = null;
  private state: "idle" | "listening" | "done" = "idle";
  private failure: Error | null = null;
  private readonly listener = (event: Event) => this.push((event as CustomEvent<T>).detail);

  constructor(
    private readonly target: EventTarget,
    private readonly topic: string,
  ) {}

  private push(value: T) {
    if (this.state !== "listening") return;
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w.resolve({ value, done: false });
    } else if (this.queue.length >= MAX_PENDING) {
      this.failure = new Error(`Subscriber too slow: more than ${MAX_PENDING} undelivered events on ${this.topic.split(":")[0]}`);
      this.queue.length = 0;
      this.stop();
    } else this.queue.push(value);
  }

  private stop() {
    if (this.state === "listening") this.target.removeEventListener(this.topic, this.listener);
    this.state = "done";
    const w = this.waiter;
    this.waiter = null;
    if (w && this.failure) {
      w.reject(this.failure);
      this.failure = null;
    } else w?.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.state === "idle") {
      this.state = "listening";
      this.target.addEventListener(this.topic, this.listener);
    }
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.state === "done") return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.queue.length = 0;
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.queue.length = 0;
    this.stop();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * Domain events: written to the DomainEvent table inside the caller's transaction (the outbox),
 * then published to live subscribers once that transaction has committed.
 */
export class EventBus {
  private readonly target = unboundedEventTarget();
  readonly pubsub = createPubSub<LiveTopics>({ eventTarget: this.target });
  private relay: ((topic: string, payload: unknown) => void) | undefined;
  private readonly peers = new Set<(topic: string, payload: unknown) => void>();

  /**
   * Hands every publication to `relay` too: a job worker process sends them to the server process
   * that holds the subscribers.
   */
  relayTo(relay: (topic: string, payload: unknown) => void): void {
    this.relay = relay;
  }

  /**
   * Hands every publication of this instance to `share` too (the Redis fan-out to the other
   * instances): what is published in this process and what its job workers relayed
   * (publishRelayed), never what another instance sent (deliver), so each event leaves its
   * instance once. Returns the undo.
   */
  shareWith(share: (topic: string, payload: unknown) => void): () => void {
    this.peers.add(share);
    return () => this.peers.delete(share);
  }

  /** Publishes to this process's subscribers only: what another instance sent. */
  deliver(topic: string, payload: unknown): void {
    (this.pubsub.publish as (topic: string, payload: unknown) => void)(topic, payload);
  }

  /** What one of this instance's job workers published: to this process's subscribers and the other instances. */
  publishRelayed(topic: string, payload: unknown): void {
    this.deliver(topic, payload);
    for (const share of this.peers) share(topic, payload);
  }

  private emit(topic: string, payload: unknown): void {
    this.deliver(topic, payload);
    this.relay?.(topic, payload);
    for (const share of this.peers) share(topic, payload);
  }

  /** `lane`: the database's SQL lane, for the outbox insert (absent: through Prisma's raw queries). */
  constructor(private readonly lane?: SqlLane) {}

  /**
   * Writes the outbox row in the caller's Prisma transaction: one raw statement, not an ORM create,
   * since every change that has an event pays for it. On SQLite it runs straight on the one
   * connection, which is inside the caller's transaction.
   */
  async record(
    tx: Tx,
    event: { workspaceId: string; scenarioId?: string | null; type: string; payload: Record<string, unknown> },
  ): Promise<DomainEventRecord> {
    const q = this.lane instanceof SqliteLane ? await this.lane.inPrismaTransaction() : runnerIn(tx, this.lane?.dialect ?? "sqlite");
    const [row] = await rowsOf<DomainEventRecord>(
      q,
      "DomainEvent",
      sql`INSERT INTO "DomainEvent" ("id", "workspaceId", "scenarioId", "type", "payload", "createdAt")
        VALUES (${randomUUID()}, ${event.workspaceId}, ${event.scenarioId ?? null}, ${event.type}, ${json(event.payload)}, ${timestamp(new Date())})
        RETURNING *`,
    );
    return row!;
  }

  publish(events: DomainEventRecord[]): void {
    for (const e of events) this.emit(`workspace:${e.workspaceId}`, e);
  }

  subscribe(workspaceId: string): AsyncIterable<DomainEventRecord> {
    return new TopicSubscription(this.target, `workspace:${workspaceId}`);
  }

  publishConversation(conversationId: string, message: LiveConversationMessage): void {
    this.emit(`conversation:${conversationId}`, message);
  }

  subscribeConversation(conversationId: string): AsyncIterable<LiveConversationMessage> {
    return new TopicSubscription(this.target, `conversation:${conversationId}`);
  }

  publishInbox(scenarioId: string, update: LiveInboxUpdate): void {
    this.emit(`inbox:${scenarioId}`, update);
  }

  subscribeInbox(scenarioId: string): AsyncIterable<LiveInboxUpdate> {
    return new TopicSubscription(this.target, `inbox:${scenarioId}`);
  }

  /** Progress of one knowledge-base import (its row after each change); not persisted. */
  publishImport(importId: string, snapshot: unknown): void {
    this.emit(`import:${importId}`, snapshot);
  }

  subscribeImport(importId: string): AsyncIterable<unknown> {
    return new TopicSubscription(this.target, `import:${importId}`);
  }
}
