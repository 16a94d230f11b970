import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { buildApp, type App } from "../../src/app.ts";
import { createPgDatabase } from "./pg-database.ts";
import { loadConfig, type Config } from "../../src/config.ts";

/**
 * A throwaway database for one test server: a fresh SQLite file in a temp DATA_DIR, or, when
 * TEST_DATABASE_URL points at a PostgreSQL server (npm run test:postgres), a fresh database there.
 */
export async function freshDatabase(): Promise<{ dataDir: string; databaseUrl?: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "parley-test-"));
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const db = await createPgDatabase(admin);
  return {
    dataDir,
    databaseUrl: db.url,
    async drop() {
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestServer {
  app: App;
  url: string;
  /** ws:// URL of the GraphQL endpoint. */
  wsUrl: string;
  config: Config;
  stop(): Promise<void>;
}

/** Starts a real Parley on a free port with its own fresh database. */
export async function startServer(overrides: Partial<Config> = {}, env: Record<string, string> = {}): Promise<TestServer> {
  const db = await freshDatabase();
  const config: Config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", ...env }),
    port: 0,
    host: "127.0.0.1",
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    ...overrides,
  };
  const app = await buildApp(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }) });
  const { url } = await app.start();
  return {
    app,
    url,
    wsUrl: url.replace(/^http/, "ws") + "/graphql",
    config,
    async stop() {
      await app.stop();
      await db.drop();
    },
  };
}
