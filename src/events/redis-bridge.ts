import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { RedisConnections } from "../redis.ts";
import { forgetFromPeer, shareForgets } from "../services/caches.ts";
import type { EventBus } from "./bus.ts";
import { decodeLive, encodeLive } from "./wire.ts";

// Live events and cache forgets between instances, over Redis pub/sub. Each instance publishes
// what happens in it (its own publications and its job workers') on one channel and delivers what
// the others published to its local subscribers; its own messages come back from Redis and are
// dropped (they were delivered locally when published). Redis keeps the order of one connection's
// publications and delivers a channel's messages to a subscriber in that order, and nothing here
// is asynchronous between the bus and the socket, so one instance's events arrive in order.
//
// While Redis is away publishing stays local: nothing throws or waits, and other instances'
// subscribers miss those live events; clients catch up from the database (messageAdded afterOrd).
// Pub/sub channels are not per database number: deployments sharing one Redis need their own.

export const EVENTS_CHANNEL = "parley:events";
export const FORGETS_CHANNEL = "parley:forgets";

interface EventMessage {
  from: string;
  topic: string;
  payload: unknown;
}

interface ForgetMessage {
  from: string;
  cache: string;
  key: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

export class RedisEventBridge {
  /** Tells this instance's messages from the others' on the shared channels. */
  readonly instanceId = randomUUID();
  private undo: (() => void)[] = [];

  constructor(
    private readonly bus: EventBus,
    private readonly redis: RedisConnections,
    private readonly log: Logger,
  ) {}

  start(): void {
    const { subscriber } = this.redis;
    subscriber.on("message", this.receive);
    subscriber.subscribe(EVENTS_CHANNEL, FORGETS_CHANNEL).catch((err: unknown) => this.log.error({ err }, "redis subscribe failed"));
    const from = this.instanceId;
    this.undo.push(
      () => subscriber.off("message", this.receive),
      this.bus.shareWith((topic, payload) => this.send(EVENTS_CHANNEL, { from, topic, payload } satisfies EventMessage)),
      shareForgets((cache, key) => this.send(FORGETS_CHANNEL, { from, cache, key } satisfies ForgetMessage)),
    );
  }

  /** Stops sharing and receiving; the connections are closed by their owner. */
  close(): void {
    for (const undo of this.undo.splice(0)) undo();
  }

  private send(channel: string, message: EventMessage | ForgetMessage): void {
    const { commands } = this.redis;
    // Down: local only. Checked first so an outage costs no encoding and no rejected promise per event.
    if (commands.status !== "ready") return;
    let text: string;
    try {
      text = encodeLive(message);
    } catch (err) {
      this.log.warn({ err, channel }, "live event not sent to other instances: not serializable");
      return;
    }
    // A publish that fails (the connection dropped just now) is not retried: a late copy would
    // arrive out of order. The outage itself is logged once by the connection.
    commands.publish(channel, text).catch((err: unknown) => this.log.debug({ err, channel }, "redis publish failed"));
  }

  private readonly receive = (channel: string, text: string): void => {
    let message: unknown;
    try {
      message = decodeLive(text);
    } catch (err) {
      this.log.warn({ err, channel }, "unreadable message on a redis channel");
      return;
    }
    if (!isRecord(message) || message.from === this.instanceId) return;
    if (channel === EVENTS_CHANNEL && typeof message.topic === "string") this.bus.deliver(message.topic, message.payload);
    else if (channel === FORGETS_CHANNEL && typeof message.cache === "string" && typeof message.key === "string") {
      forgetFromPeer(message.cache, message.key);
    }
  };
}
