import { createPgDatabase } from "../../helpers/pg-database.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { sleep } from "../../helpers/wait.ts";

// Several real Parley processes (`node --import tsx src/main.ts`) on one PostgreSQL database and
// one Redis, as in production: the processes share nothing but those two servers and PARLEY_SECRET.
// scripts/test-cluster.sh starts the servers and exports TEST_DATABASE_URL and TEST_REDIS_URL.

const ROOT = resolve(import.meta.dirname, "../../..");
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;

/** What main.ts writes to DATA_DIR/credentials.json on the first start against an empty database. */
export interface Credentials {
  workspaceId: string;
  scenarioId: string;
  tokens: { readAll: string; writeAll: string };
  developerKey: string;
  widgetKey: string;
  legacyApiKey: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ParleyProcess {
  name: string;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT/graphql */
  wsUrl: string;
  dataDir: string;
  pid: number;
  /** stdout and stderr lines (JSON log lines), as they came. */
  logs: string[];
  /** Settles when the process has exited. */
  exited: Promise<Exit>;
  readonly running: boolean;
  /** Sends `signal` (SIGTERM by default: graceful shutdown) and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  /** SIGKILL: a crash, nothing is cleaned up. */
  kill(): Promise<Exit>;
}

export interface StartOptions {
  /** Extra environment (overrides the defaults), e.g. { JOB_WORKERS: "1" }. */
  env?: Record<string, string>;
  /** Wait for credentials.json (the first process against an empty database writes it). */
  expectCredentials?: boolean;
}

export interface Cluster {
  databaseUrl: string;
  redisUrl: string;
  secret: string;
  /** The default workspace's credentials, written by the first process. */
  credentials: Credentials;
  /** Every process started so far, in order (stopped ones included). */
  processes: ParleyProcess[];
  /** Starts one more Parley process on the cluster's database and Redis. */
  start(name: string, options?: StartOptions): Promise<ParleyProcess>;
  /** The admin CLI (`src/cli.ts … --json`) on the cluster's database: answers its JSON output. */
  cli<T = Record<string, unknown>>(...args: string[]): Promise<T>;
  /** Every process's log, for a failure report. */
  logs(): string;
  /** Kills whatever still runs, drops the database, removes the data dirs. */
  close(): Promise<void>;
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the cluster tests with npm run test:cluster`);
  return v;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolvePort(port));
    });
  });
}

/** A minimal environment: nothing of the test runner's (NODE_OPTIONS, VITEST…) leaks into Parley. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"]) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

/** Every child still running when the test process exits is killed with it. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function track(child: ChildProcess, logs: string[], prefix = ""): Promise<Exit> {
  children.add(child);
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let partial = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const l of lines) if (l) logs.push(prefix + l);
    });
    stream?.on("end", () => {
      if (partial) logs.push(prefix + partial);
      partial = "";
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  return new Promise((resolveExit) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolveExit({ code, signal });
    });
  });
}


/**
 * Starts `names.length` Parley processes one after the other (the first migrates the fresh
 * database and creates the default workspace; starting the others only then keeps that first start
 * single), each on its own free port and DATA_DIR.
 */
export async function startCluster(names: string[] = ["A", "B"], env: Record<string, string> = {}): Promise<Cluster> {
  const admin = required("TEST_DATABASE_URL");
  const redisUrl = required("TEST_REDIS_URL");
  const db = await createPgDatabase(admin);
  const secret = randomBytes(32).toString("hex");
  const processes: ParleyProcess[] = [];
  const dataDirs: string[] = [];
  let credentials: Credentials | undefined;

  const commonEnv = (dataDir: string): Record<string, string> => ({
    ...baseEnv(),
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    PARLEY_SECRET: secret,
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    // The tests' webhook receivers listen on loopback.
    OUTBOUND_ALLOWLIST: "127.0.0.1",
    JOB_WORKERS: "0",
    ...env,
  });

  async function start(name: string, options: StartOptions = {}): Promise<ParleyProcess> {
    const dataDir = mkdtempSync(join(tmpdir(), `parley-cluster-${name}-`));
    dataDirs.push(dataDir);
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: { ...commonEnv(dataDir), PORT: String(port), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const logs: string[] = [];
    let running = true;
    const exited = track(child, logs).then((e) => {
      running = false;
      return e;
    });
    const url = `http://127.0.0.1:${port}`;
    const proc: ParleyProcess = {
      name,
      port,
      url,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
      dataDir,
      pid: child.pid!,
      logs,
      exited,
      get running() {
        return running;
      },
      async stop(signal: NodeJS.Signals = "SIGTERM") {
        if (!running) return exited;
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        const e = await exited;
        clearTimeout(timer);
        return e;
      },
      async kill() {
        if (running) child.kill("SIGKILL");
        return exited;
      },
    };
    processes.push(proc);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!running) throw new Error(`Parley ${name} exited before it was ready: ${JSON.stringify(await exited)}\n${logs.join("\n")}`);
      const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      // main.ts writes credentials.json right after it starts listening: wait for it too.
      if (ok && (!options.expectCredentials || existsSync(join(dataDir, "credentials.json")))) break;
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`Parley ${name} was not ready within ${READY_TIMEOUT_MS} ms\n${logs.join("\n")}`);
      }
      await sleep(100);
    }
    return proc;
  }

  async function cli<T>(...args: string[]): Promise<T> {
    const logs: string[] = [];
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args, "--json"], {
      cwd: ROOT,
      env: { ...commonEnv(dataDirs[0] ?? tmpdir()), LOG_LEVEL: "error" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    const exit = await track(child, logs);
    if (exit.code !== 0) throw new Error(`parley ${args.join(" ")} failed (${JSON.stringify(exit)}): ${out}\n${logs.join("\n")}`);
    return JSON.parse(out) as T;
  }

  const cluster: Cluster = {
    databaseUrl: db.url,
    redisUrl,
    secret,
    get credentials(): Credentials {
      if (!credentials) throw new Error("no credentials: the first process did not write credentials.json");
      return credentials;
    },
    processes,
    start,
    cli,
    logs: () => processes.map((p) => `---- Parley ${p.name} (pid ${p.pid}, ${p.url}) ----\n${p.logs.join("\n")}`).join("\n"),
    async close() {
      await Promise.all(processes.map((p) => p.kill()));
      await db.drop();
      for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
    },
  };

  try {
    for (const [i, name] of names.entries()) {
      const p = await start(name, { expectCredentials: i === 0 });
      if (i === 0) credentials = JSON.parse(readFileSync(join(p.dataDir, "credentials.json"), "utf8")) as Credentials;
    }
  } catch (err) {
    await cluster.close().catch(() => undefined);
    throw err;
  }
  return cluster;
}
