// What every benchmark shares: a Parley on a fresh temp SQLite DATA_DIR with rate limits out of
// the way (same limiter code path, a budget the bench cannot spend), and the measuring process
// forking its own script as that server's child.
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** In the child: starts Parley; `stop()` stops it and removes its data. */
export async function startBenchParley(prefix: string, overrides: { jobWorkers?: number } = {}) {
  const { RateLimiterMemory } = await import("rate-limiter-flexible");
  const { buildApp } = await import("../src/app.ts");
  const { loadConfig } = await import("../src/config.ts");
  const { RateLimits } = await import("../src/services/rate-limit.ts");
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const config = { ...loadConfig({ NODE_ENV: "production", LOG_LEVEL: "silent", DATA_DIR: dataDir }), port: 0, host: "127.0.0.1", ...overrides };
  const rateLimits = new RateLimits((p) => new RateLimiterMemory({ points: 1e9, duration: p.windowSeconds, keyPrefix: p.name }));
  const app = await buildApp(config, { rateLimits });
  const { url } = await app.start();
  return {
    app,
    url,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * In the measuring process: forks `script` with --serve and resolves with the first message the
 * child sends (what it started). `production` runs the child as deployed (graphql-js, among others,
 * skips its development-mode checks); BENCH_CPU_PROF=<dir> then has it write a V8 CPU profile.
 */
export async function forkBenchServer<Ready>(script: string, options: { production?: boolean } = {}): Promise<{ child: ChildProcess; ready: Ready }> {
  const profile = options.production && process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(script, ["--serve"], {
    execArgv: [...process.execArgv, ...profile],
    ...(options.production ? { env: { ...process.env, NODE_ENV: "production" } } : {}),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once("message", (m) => resolve(m as Ready));
    child.once("exit", (code) => reject(new Error(`bench server exited early (code ${code})`)));
  });
  return { child, ready };
}
