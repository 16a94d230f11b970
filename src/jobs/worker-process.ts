// A job worker process (see worker-pool.ts): started by the server with JOB_WORKERS=n, it opens
// the same database, runs the job runner, and relays what it publishes to the server over IPC.
import pino from "pino";
import { createRuntime, tuneDatabase } from "../runtime.ts";
import type { ServerMessage, WorkerMessage } from "./worker-pool.ts";
import { forgetLocally } from "../services/caches.ts";

const send = (m: WorkerMessage) => {
  if (process.connected) process.send!(m);
};

process.once("message", async (first: ServerMessage) => {
  if (first.kind !== "start") return;
  const config = first.config;
  const log = pino({ level: config.logLevel, base: { service: "parley", role: "job-worker", pid: process.pid } });
  try {
    const { runtime, database } = createRuntime({ ...config }, log);
    runtime.events.relayTo((topic, payload) => send({ kind: "event", topic, payload }));
    await tuneDatabase(database);
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await runtime.jobs.stop();
        await database.close();
        process.exit(0);
      })());
    process.on("message", (m: ServerMessage) => {
      if (m.kind === "wake") runtime.jobs.wake();
      else if (m.kind === "forget") forgetLocally(m.cache, m.key);
      else if (m.kind === "stop") void stop();
    });
    // The server went away without a word: finish or release the jobs in hand, then go too.
    process.on("disconnect", () => void stop());
    process.on("SIGTERM", () => void stop());
    // Ctrl-C reaches the whole process group: the server's stop message ends this worker in order.
    process.on("SIGINT", () => {});
    runtime.jobs.start();
    send({ kind: "ready" });
  } catch (err) {
    log.error({ err }, "job worker failed to start");
    send({ kind: "fatal", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
});
