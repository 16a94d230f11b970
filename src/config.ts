import { z } from "zod";
import { resolve } from "node:path";
import type { JobRunnerOptions } from "./jobs/types.ts";

const bool = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off"])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "DATABASE_URL must be a postgresql:// URL (leave it unset for SQLite)")
    .optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  PARLEY_SECRET: z.string().min(32, "PARLEY_SECRET must be at least 32 characters").optional(),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  GRAPHIQL: bool.optional(),
  INTROSPECTION: bool.optional(),
  TRUST_PROXY: bool.default(false),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
});

export interface Config {
  port: number;
  host: string;
  /** postgresql://… or undefined for the embedded SQLite database in dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** Explicit signing secret; when undefined one is generated once and kept in dataDir. */
  secret?: string;
  env: "development" | "production" | "test";
  logLevel: string;
  graphiql: boolean;
  introspection: boolean;
  trustProxy: boolean;
  wsConnectionInitTimeoutMs: number;
  /** Tests pin time; everything else reads the wall clock. */
  clock?: () => Date;
  /** Job runner timings (lease, poll, backoff…); tests shorten them. */
  jobs?: Partial<JobRunnerOptions>;
}

/** Reads the environment once into a typed config; throws one readable line per bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  const dev = e.NODE_ENV !== "production";
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    secret: e.PARLEY_SECRET,
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    graphiql: e.GRAPHIQL ?? dev,
    introspection: e.INTROSPECTION ?? dev,
    trustProxy: e.TRUST_PROXY,
    wsConnectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
  };
}
