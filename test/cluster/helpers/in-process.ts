import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { randomUUID } from "node:crypto";
import pino from "pino";
import { buildApp, type App } from "../../../src/app.ts";
import { loadConfig, type Config } from "../../../src/config.ts";
import type { DomainEventRecord } from "../../../src/events/bus.ts";
import { until } from "../../helpers/wait.ts";

// Parley instances inside the test process, each with its own Redis connections, and a Redis
// server of the test's own (so killing it disturbs no other file): test/cluster/redis.test.ts.

// npm run test:cluster names the binary it found (or installed); else the one on PATH.
const REDIS_SERVER = process.env.TEST_REDIS_SERVER_BIN ?? process.env.REDIS_SERVER ?? "redis-server";
const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A throwaway redis-server on a free loopback port: no persistence, so a restart starts empty. */
export class LocalRedis {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<LocalRedis> {
    if (spawnSync(REDIS_SERVER, ["--version"]).status !== 0) {
      throw new Error(`${REDIS_SERVER} not found: install it with apt-get install -y redis-server (npm run test:cluster does)`);
    }
    const redis = new LocalRedis(await freePort());
    redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on the same port; clients find out by connecting. */
  restart(): void {
    this.child = spawn(REDIS_SERVER, ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  }

  /** SIGKILL: gone without a word, as in a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

export interface LogLine {
  level: number;
  msg: string;
}

export interface Instance {
  name: string;
  app: App;
  url: string;
  wsUrl: string;
  /** Everything it logged at info and above. */
  logs: LogLine[];
  /** How often its command connection has started a reconnect attempt. */
  reconnects: number;
}

/** A started Parley with REDIS_URL `redisUrl`; `base` sets its database (and anything else). */
export async function startInstance(name: string, redisUrl: string, base: Partial<Config>): Promise<Instance> {
  const logs: LogLine[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const config: Config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", REDIS_URL: redisUrl }),
    port: 0,
    host: "127.0.0.1",
    jobs: JOBS,
    ...base,
  };
  const app = await buildApp(config, { logger });
  const { url } = await app.start();
  const instance: Instance = { name, app, url, wsUrl: url.replace(/^http/, "ws") + "/graphql", logs, reconnects: 0 };
  app.redis!.commands.on("reconnecting", () => instance.reconnects++);
  return instance;
}

export const countLogs = (i: Instance, msg: string) => i.logs.filter((l) => l.msg === msg).length;

/** An async iterable's items as they arrive (it starts listening right away). */
export function collect<T>(source: AsyncIterable<T>) {
  const items: T[] = [];
  const iterator = source[Symbol.asyncIterator]();
  void (async () => {
    for (;;) {
      const r = await iterator.next();
      if (r.done) return;
      items.push(r.value);
    }
  })();
  return {
    items,
    has: (n: number) => until(`${n} items`, async () => items.length >= n),
    stop: () => void iterator.return?.(),
  };
}

/**
 * Redis subscriptions go live asynchronously: publishes probes on `from` until one reaches `to`,
 * i.e. until the fan-out between them works.
 */
export async function untilFanOut(from: Instance, to: Instance) {
  const id = randomUUID();
  const probe = collect(to.app.runtime.events.subscribeImport(id));
  try {
    await until(
      `fan-out from ${from.name} to ${to.name}`,
      async () => {
        from.app.runtime.events.publishImport(id, { probe: true });
        return probe.items.length > 0;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } finally {
    probe.stop();
  }
}

/** A domain event with Dates, nested and at the top, and a payload that tries to pass for an encoded Date. */
export const record = (workspaceId: string, i: number): DomainEventRecord => ({
  id: randomUUID(),
  workspaceId,
  scenarioId: null,
  type: "test.event",
  payload: { i, nested: { at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)) }, forged: { $date: "2024-01-01T00:00:00.000Z" } },
  createdAt: new Date(Date.UTC(2024, 5, 1, 12, 0, i, 7)),
});

export async function readyz(i: Instance) {
  const res = await fetch(`${i.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; redis: string } };
}

/** `{ __typename }` without a credential: the anonymous budget, counted per client address. */
export async function anonymousQuery(i: Instance) {
  const res = await fetch(`${i.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ __typename }" }),
  });
  await res.arrayBuffer();
  return res.status;
}
