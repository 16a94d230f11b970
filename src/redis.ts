import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";

// Redis is optional infrastructure for several instances (REDIS_URL): live events fan out through
// it and rate-limit counters live in it. It is never on the critical path: while it is away an
// instance serves with its local pubsub and in-memory counters, and it reconnects by itself.

export type RedisState = "up" | "down";

export interface RedisConnections {
  /**
   * Publishes and rate-limit counters. Commands fail at once while Redis is away (no offline
   * queue), so a caller never waits for a reconnect.
   */
  readonly commands: Redis;
  /** Subscribed to the fan-out channels; kept apart so publishes and counters never queue behind it. */
  readonly subscriber: Redis;
  /** "up" when both connections are ready. */
  status(): RedisState;
  /** Quits both connections (pending replies first, when connected). */
  close(): Promise<void>;
}

/** Reconnect delay: 100 ms, 200 ms, … capped at 2 s, forever (a number is always returned). */
export const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, 2000);

const COMMON: RedisOptions = {
  // A server that accepts no connection (down, firewalled) counts as down after this long.
  connectTimeout: 3000,
  retryStrategy: reconnectDelay,
};

const QUIT_TIMEOUT_MS = 2000;

export function connectRedis(url: string, log: Logger): RedisConnections {
  const commands = new Redis(url, {
    ...COMMON,
    connectionName: "parley-commands",
    // Fail fast: a command issued while disconnected is rejected (not queued), one in flight when
    // the connection drops is rejected at the drop (not resent later, out of place), and one that
    // gets no reply (a hung server) times out. Rate limits then fall back to memory and a publish
    // is simply not fanned out.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: 1000,
  });
  const subscriber = new Redis(url, {
    ...COMMON,
    connectionName: "parley-subscriber",
    // The SUBSCRIBE issued at start waits for the first connection however long Redis is away;
    // ioredis re-subscribes by itself after every reconnect.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    autoResubscribe: true,
  });

  // Logged once per outage and once per recovery (at the outage's level, so whoever saw the one
  // sees the other), not per reconnect attempt.
  let announced: RedisState | null = null;
  let closing = false;
  const status = (): RedisState => (commands.status === "ready" && subscriber.status === "ready" ? "up" : "down");
  // `lost`: a connection closed or failed. A "ready" of one connection while the other is still
  // connecting (at start, after an outage) is not an outage.
  const check = (lost: boolean) => {
    if (closing) return;
    const now = status();
    if (now === announced) return;
    if (now === "up") {
      if (announced === "down") log.warn("redis available again: live events fan out and rate limits are shared across instances");
      else log.info("connected to redis");
      announced = "up";
    } else if (lost) {
      log.warn("redis unavailable: serving with local pubsub and in-memory rate limits");
      announced = "down";
    }
  };
  for (const [name, conn] of [
    ["commands", commands],
    ["subscriber", subscriber],
  ] as const) {
    conn.on("ready", () => check(false));
    conn.on("close", () => check(true));
    conn.on("error", (err: Error) => {
      // Every failed reconnect attempt ends up here; only the change of state is logged.
      log.debug({ err, connection: name }, "redis connection error");
      check(true);
    });
  }

  const quit = async (conn: Redis) => {
    if (conn.status !== "ready") return conn.disconnect();
    const timer = setTimeout(() => conn.disconnect(), QUIT_TIMEOUT_MS);
    try {
      await conn.quit();
    } catch {
      conn.disconnect();
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    commands,
    subscriber,
    status,
    async close() {
      closing = true;
      await Promise.all([quit(commands), quit(subscriber)]);
    },
  };
}
