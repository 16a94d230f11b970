import DataLoader from "dataloader";
import type { Db, Provider } from "../db/client.ts";
import { rowsOf, sql, sqlList, type SqlLane } from "../db/sql.ts";
import type { Credential } from "../generated/sqlite/client.ts";
import type { EventBus } from "../events/bus.ts";
import type { Principal } from "../auth/scopes.ts";
import type { RateLimits } from "./rate-limit.ts";
import type { JobRunner } from "../jobs/runner.ts";
import type { Logger } from "pino";
import type { Responder } from "../ai/responder.ts";
import type { ConversationAnalyzer } from "../ai/analyzer.ts";
import type { Translator } from "../ai/translator.ts";
import type { OutboundGuard } from "./outbound-guard.ts";
import type { ImportConfig } from "../config.ts";

/** What services are built from once per process. */
export interface Runtime {
  db: Db;
  /** Which SQL dialect db speaks, for the few raw queries (full-text search). */
  provider: Provider;
  /** Hand-written statements for the hot paths (chat, job claims, credential lookups). */
  sql: SqlLane;
  events: EventBus;
  rateLimits: RateLimits;
  signingSecret: string;
  clock: () => Date;
  /** Durable background jobs: services enqueue here (inside their transaction). */
  jobs: JobRunner;
  /** Writes the assistant's replies (knowledge base by default, an LLM when configured). */
  responder: Responder;
  /** Conversation analysis (rules by default, an LLM when configured). */
  analyzer: ConversationAnalyzer;
  /** Translates operator and agent replies into the visitor's language (TRANSLATOR_*); absent: none. */
  translator?: Translator | null;
  /** The HTTP client for every outbound request (webhooks, imports, the LLM): OUTBOUND_ALLOWLIST, trusted base URLs, caps. */
  outbound: OutboundGuard;
  /** Knowledge-base upload and import limits, and the external services' base URLs. */
  imports: ImportConfig;
  log: Logger;
}

/** What every service call gets: the runtime, the caller, and per-request loaders. */
export interface ServiceContext extends Runtime {
  principal: Principal | null;
  loaders: Loaders;
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * Per-request batching and caching for the lookups behind authorization checks (credentials,
 * members, scenarios); Prisma relations cover the rest through plugin-prisma's query merging.
 */
export function createLoaders(db: Db, lane: SqlLane) {
  const byIds = <T extends { id: string }>(find: (ids: string[]) => Promise<T[]>) =>
    new DataLoader<string, T | null>(async (ids) => {
      const rows = await find([...ids]);
      const map = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => map.get(id) ?? null);
    });
  return {
    credentialByHash: new DataLoader(async (hashes: readonly string[]) => {
      // Every authenticated request starts here: through the SQL lane.
      const rows = await rowsOf<Credential>(lane, "Credential", sql`SELECT * FROM "Credential" WHERE "secretHash" IN (${sqlList(hashes)})`);
      const map = new Map(rows.map((r) => [r.secretHash, r]));
      return hashes.map((h) => map.get(h) ?? null);
    }),
    scenario: byIds((ids) => db.scenario.findMany({ where: { id: { in: ids } } })),
    member: byIds((ids) => db.teamMember.findMany({ where: { id: { in: ids } } })),
  };
}

export function createServiceContext(runtime: Runtime, principal: Principal | null = null): ServiceContext {
  return { ...runtime, principal, loaders: createLoaders(runtime.db, runtime.sql) };
}
