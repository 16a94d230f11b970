import type { Logger } from "pino";
import type { Config } from "./config.ts";
import { loadSecret } from "./auth/secret.ts";
import { openDatabase, type Database } from "./db/client.ts";
import { EventBus } from "./events/bus.ts";
import type { Runtime } from "./services/context.ts";
import { JobRunner } from "./jobs/runner.ts";
import { registerKnowledgeBaseJobs } from "./services/knowledge-base.ts";
import { RateLimits } from "./services/rate-limit.ts";
import { registerChatJobs } from "./services/chat.ts";
import { registerEmailJobs } from "./services/email.ts";
import { registerActivityJobs } from "./services/activities-run.ts";
import { LEAD_EMAIL_KIND, leadEmailSettled } from "./services/lead-emails.ts";
import { createAnalyzer, createResponder } from "./ai/index.ts";
import { createTranslator } from "./ai/translator.ts";
import { createOutboundGuard } from "./services/outbound-guard.ts";
import { registerWebhookJobs } from "./services/webhook-jobs.ts";
import { registerKnowledgeImportJobs } from "./services/kb-imports.ts";

export interface BuildOptions {
  logger?: Logger;
  /** Rate-limit store and budgets; defaults to the documented budgets in process memory. */
  rateLimits?: RateLimits;
}

/** What the server and a job worker process share: the database, the event bus, the job runner, the AI. */
export function createRuntime(config: Config, log: Logger, options: BuildOptions = {}): { runtime: Runtime; database: Database } {
  const database = openDatabase(config);
  const clock = config.clock ?? (() => new Date());
  // One guard for every outbound request, the AI's included (the LLM base URL is one of its trusted origins).
  const outbound = createOutboundGuard(config);
  const runtime: Runtime = {
    db: database.prisma,
    provider: database.provider,
    sql: database.sql,
    events: new EventBus(database.sql),
    rateLimits: options.rateLimits ?? new RateLimits(),
    signingSecret: loadSecret(config),
    clock,
    jobs: new JobRunner({ db: database.prisma, provider: database.provider, sql: database.sql, clock, log }, config.jobs),
    responder: createResponder(config, outbound),
    analyzer: createAnalyzer(config, outbound),
    translator: createTranslator(config, outbound),
    outbound,
    imports: config.imports,
    log,
  };
  registerKnowledgeBaseJobs(runtime);
  registerKnowledgeImportJobs(runtime);
  registerChatJobs(runtime);
  registerEmailJobs(runtime, config.smtp, { [LEAD_EMAIL_KIND]: leadEmailSettled(runtime) });
  registerActivityJobs(runtime);
  registerWebhookJobs(runtime, config);
  return { runtime, database };
}

/** Prepares a migrated database connection for work (the server and job workers alike). */
export async function tuneDatabase(database: Database): Promise<void> {
  // WAL (set by the migration runner) with synchronous=NORMAL: a commit no longer waits for an
  // fsync, which blocks the event loop for about a millisecond per write. The database stays
  // consistent; a power cut (not a crash of Parley) can lose the last commits.
  if (database.provider === "sqlite") await database.prisma.$executeRawUnsafe("PRAGMA synchronous = NORMAL");
}

