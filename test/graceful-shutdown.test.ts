import { spawn } from "node:child_process";
import { connect, createServer, type AddressInfo } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import pino from "pino";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig, type Config } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { RESTART_CLOSE_CODE } from "../src/graphql/websocket.ts";
import { freshDatabase } from "./helpers/server.ts";
import { seed } from "./helpers/seed.ts";
import { startLlmStub, type LlmStub } from "./helpers/llm-stub.ts";
import { sseSubscription, untilLive } from "./helpers/live.ts";
import { until } from "./helpers/wait.ts";

// App.stop() (what SIGTERM runs): requests in flight finish, new connections are refused, live
// subscribers are told to reconnect, claimed jobs go back to the queue. Each test stops its own
// instance. The grace period is far longer than any test: a step that waited for it (instead of
// ending the streams, or finishing when the requests did) would fail on the test's timeout.

const GRACE_MS = 120_000;

let llm: LlmStub;
beforeAll(async () => {
  llm = await startLlmStub();
});
afterAll(() => llm?.stop());

interface Instance {
  app: App;
  url: string;
  port: number;
  config: Config;
  drop(): Promise<void>;
}
const instances: Instance[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
  for (const i of instances.splice(0)) {
    await i.app.stop();
    await i.drop();
  }
});

async function instance(overrides: Partial<Config> = {}): Promise<Instance> {
  const db = await freshDatabase();
  const config: Config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", LLM_BASE_URL: llm.url, LLM_MODEL: "test-model" }),
    port: 0,
    host: "127.0.0.1",
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    shutdownTimeoutMs: GRACE_MS,
    ...overrides,
  };
  const app = await buildApp(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }) });
  const { url, port } = await app.start();
  const i = { app, url, port, config, drop: db.drop };
  instances.push(i);
  return i;
}

/** Whether a new TCP connection to the port is refused (the listening socket is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("graceful stop", () => {
  it("lets a request in flight finish with 200 and refuses new connections meanwhile", async () => {
    const i = await instance();
    const t = await seed(i.app).workspace("Shutdown");
    const key = (await t.legacyKey()).secret;
    // The assistant's reply takes as long as the test wants; analysis answers at once.
    const slow = deferred();
    llm.respond((req) =>
      req.body.response_format ? { content: JSON.stringify({ title: "Greeting", sentiment: "neutral" }) } : { after: slow.promise, reply: { content: "Hello there" } },
    );
    const before = llm.replyRequests().length;
    const inFlight = fetch(`${i.url}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ api_key: key, scenario_id: t.scenarioId, text: "Hi" }),
    });
    await until("the reply to be asked of the model", async () => llm.replyRequests().length > before);

    const stopped = i.app.stop();
    await until("the listening socket to close", async () => !i.app.http.server.listening);
    expect(await refused(i.port)).toBe(true);
    await expect(fetch(`${i.url}/healthz`)).rejects.toThrow();

    slow.resolve();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ reply: "Hello there", ord_number: 2 });
    await stopped;
    // A second stop (a second SIGTERM) waits for the same one and does nothing more.
    await i.app.stop();
  });

  it("closes graphql-ws subscribers with 1012 Service Restart, which graphql-ws clients retry", async () => {
    const i = await instance();
    const t = await seed(i.app).workspace("Subscribers");
    const key = (await t.developerKey()).secret;
    const closes: number[] = [];
    const retried: number[] = [];
    const connected = deferred();
    const client = createClient({
      url: i.url.replace(/^http/, "ws") + "/graphql",
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${key}` },
      retryAttempts: 1,
      // Called only for a close graphql-ws does not consider fatal; false ends the retries here.
      shouldRetry: (e) => {
        retried.push((e as { code: number }).code);
        return false;
      },
      on: {
        connected: () => connected.resolve(),
        closed: (e) => closes.push((e as { code: number }).code),
      },
    });
    clients.push(client);
    const errors: unknown[] = [];
    const ended = new Promise<void>((resolve) => {
      client.subscribe(
        { query: "subscription { workspaceEvents { id type } }" },
        { next: () => undefined, error: (e) => (errors.push(e), resolve()), complete: () => resolve() },
      );
    });
    await connected.promise;

    await i.app.stop();
    await ended;
    expect(closes).toEqual([RESTART_CLOSE_CODE]);
    expect(retried).toEqual([RESTART_CLOSE_CODE]);
    expect(errors).toMatchObject([{ code: RESTART_CLOSE_CODE, reason: "Service restart" }]);
  });

  it("cuts GraphQL-over-SSE streams instead of waiting for them", async () => {
    const i = await instance();
    const t = await seed(i.app).workspace("SSE");
    const key = (await t.developerKey()).secret;
    const sub = sseSubscription(i.url, key, "subscription { workspaceEvents { id type } }");
    await untilLive(sub, () => t.scenario(`warm ${sub.items.length}`));
    await i.app.stop();
    await sub.done();
  });

  it("releases a claimed job whose handler outlasts the stop timeout: queued again, unlocked, the try not counted", async () => {
    const i = await instance({ jobs: { stopTimeoutMs: 50, abortGraceMs: 5_000 } });
    const claimed = deferred();
    i.app.runtime.jobs.registerHandler("test.long", async (_job, ctx) => {
      claimed.resolve();
      await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    });
    const job = await i.app.runtime.jobs.enqueue(i.app.runtime.db, { kind: "test.long" });
    i.app.runtime.jobs.wake();
    await claimed.promise;
    const running = await i.app.runtime.db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(running).toMatchObject({ status: "running", lockedBy: i.app.runtime.jobs.workerId, attempts: 1 });

    await i.app.stop();
    // Read after the stop, from a new connection: what another instance would see.
    const db = openDatabase(i.config);
    try {
      const row = await db.prisma.job.findUniqueOrThrow({ where: { id: job.id } });
      expect(row).toMatchObject({ status: "queued", lockedBy: null, lockedUntil: null, attempts: 0 });
      expect(row.runAt.getTime()).toBeLessThanOrEqual(Date.now());
    } finally {
      await db.close();
    }
  });
});

describe("SIGTERM on the server process (src/main.ts)", () => {
  it("finishes the request in flight, notes a second SIGTERM without cutting the stop short, and exits 0", async () => {
    const db = await freshDatabase();
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: resolve(import.meta.dirname, ".."),
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        NODE_ENV: "production",
        LOG_LEVEL: "info",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATA_DIR: db.dataDir,
        LLM_BASE_URL: llm.url,
        LLM_MODEL: "test-model",
        ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString("utf8")));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
    try {
      // The first start writes the default workspace's credentials (main.ts).
      const file = join(db.dataDir, "credentials.json");
      await until("the server to be ready", async () => existsSync(file) && fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      const credentials = JSON.parse(readFileSync(file, "utf8")) as { scenarioId: string; legacyApiKey: string };
      const slow = deferred();
      llm.respond((req) => (req.body.response_format ? { content: "{}" } : { after: slow.promise, reply: { content: "Still here" } }));
      const before = llm.replyRequests().length;
      const inFlight = fetch(`http://127.0.0.1:${port}/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ api_key: credentials.legacyApiKey, scenario_id: credentials.scenarioId, text: "Hi" }),
      });
      await until("the reply to be asked of the model", async () => llm.replyRequests().length > before);

      child.kill("SIGTERM");
      await until("the shutdown to begin", async () => output.includes('"msg":"shutting down"'));
      child.kill("SIGTERM");
      await until("the second signal to be noted", async () => output.includes('"msg":"already shutting down"'));
      slow.resolve();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ reply: "Still here" });
      expect(await exited, output).toEqual({ code: 0, signal: null });
    } finally {
      child.kill("SIGKILL");
      await db.drop();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolvePort(port));
    });
  });
}
