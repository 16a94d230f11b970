import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { Runtime } from "../services/context.ts";
import { relayForgets } from "../services/caches.ts";

// Background jobs in worker processes (JOB_WORKERS=n): the server process keeps HTTP, GraphQL and
// the subscribers; the workers claim and run jobs (assistant replies, analysis, training) from the
// same database, on their own cores. Claims are atomic statements, so any number of workers (and
// servers) can share the Job table. What a worker publishes (replies, inbox changes, reply chunks)
// comes back over IPC and is delivered to this process's subscribers (with Redis, also sent on to the
// other instances: workers have no Redis connection); the server's wake-ups after
// an enqueue go the other way, so a job starts without waiting for a poll.

export type WorkerMessage =
  | { kind: "ready" }
  | { kind: "event"; topic: string; payload: unknown }
  | { kind: "fatal"; error: string };

export type ServerMessage =
  | { kind: "start"; config: SerializableConfig }
  | { kind: "wake" }
  | { kind: "forget"; cache: string; key: string }
  | { kind: "stop" };

/** The config a worker gets: everything but the test hooks that cannot cross a process boundary. */
export type SerializableConfig = Omit<Config, "clock">;

const ENTRY = fileURLToPath(new URL("./worker-process.ts", import.meta.url));
const RESTART_DELAY_MS = 1000;
const STOP_TIMEOUT_MS = 30_000;

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
}

export class JobWorkerPool {
  private readonly workers = new Set<Worker>();
  private stopping = false;

  constructor(
    private readonly config: Config,
    private readonly runtime: Runtime,
    private readonly log: Logger,
  ) {}

  /** Starts the workers; resolves once each has its runner going. */
  async start(): Promise<void> {
    this.runtime.jobs.relayWakes(() => this.broadcast({ kind: "wake" }));
    // Settings the workers cache (chat settings…) are forgotten there too when they change here.
    relayForgets((cache, key) => this.broadcast({ kind: "forget", cache, key }));
    await Promise.all(Array.from({ length: this.config.jobWorkers }, () => this.spawn().ready));
  }

  private spawn(): Worker {
    const child = fork(ENTRY, [], {
      // TypeScript runs through tsx, in workers as in the server.
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let resolveReady!: () => void;
    let rejectReady!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const worker: Worker = { child, ready, exited };
    this.workers.add(worker);
    child.on("message", (m: WorkerMessage) => {
      if (m.kind === "event") this.runtime.events.publishRelayed(m.topic, m.payload);
      else if (m.kind === "ready") resolveReady();
      else if (m.kind === "fatal") rejectReady(new Error(`job worker failed to start: ${m.error}`));
    });
    child.once("exit", (code, signal) => {
      this.workers.delete(worker);
      rejectReady(new Error(`job worker exited before it was ready (code ${code}, signal ${signal})`));
      if (this.stopping) return;
      // A crashed worker's claims expire and are taken again; a fresh worker takes its place.
      this.log.error({ code, signal }, "job worker exited; starting another");
      setTimeout(() => {
        if (!this.stopping) this.spawn().ready.catch((err) => this.log.error({ err }, "job worker restart failed"));
      }, RESTART_DELAY_MS).unref();
    });
    const { clock: _clock, ...config } = this.config;
    child.send({ kind: "start", config } satisfies ServerMessage);
    return worker;
  }

  /** Process ids of the running workers. */
  pids(): number[] {
    return [...this.workers].map((w) => w.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  private broadcast(m: ServerMessage): void {
    for (const w of this.workers) if (w.child.connected) w.child.send(m);
  }

  /** Asks every worker to finish or release its jobs and exit; kills the ones that don't in time. */
  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.workers];
    this.broadcast({ kind: "stop" });
    await Promise.all(
      all.map(async (w) => {
        const timer = setTimeout(() => w.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await w.exited;
        clearTimeout(timer);
      }),
    );
  }
}
