import { randomUUID } from "node:crypto";
import { isUniqueViolation, rowsOf, runnerIn, sql } from "../db/sql.ts";
import { conflict, notFound, validationError } from "../errors.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import { PermanentJobError, type JobContext, type JobRow } from "../jobs/runner.ts";
import { scenarioAccess } from "./access.ts";
import type { Runtime, ServiceContext } from "./context.ts";
import { saveImportedArticle } from "./kb-import-articles.ts";
import { IMPORT_PROCESSORS } from "./kb-import-processors.ts";
import {
  IMPORT_STATUSES,
  ImportItemError,
  type DiscoveredItem,
  type ImportItemRow,
  type ImportKind,
  type ImportRow,
  type ImportRun,
  type ImportStatus,
  type ItemResult,
} from "./kb-import-types.ts";
import { holdClaim } from "./knowledge-base-training.ts";
import { markKnowledgeBaseChanged } from "./knowledge-base.ts";

// Every import is one durable job ("kb.import") over its items. Items are the frontier: the job
// takes the oldest pending one, the processor fetches and extracts it, and one transaction saves
// the article, settles the item, adds what it discovered and moves the counters. A restart (or
// another worker taking over an expired claim) carries on with the items still pending, so no page
// is imported twice and none is lost; the job runner's claim keeps two workers off one import.

export const IMPORT_JOB = "kb.import";
export const IMPORT_FINISHED = "knowledge_base.import_finished";
const FINISHED: ImportStatus[] = ["completed", "failed", "cancelled"];
/** Longest error text kept per item or import. */
const MAX_ERROR = 1000;

export function isFinished(row: Pick<ImportRow, "status">): boolean {
  return FINISHED.includes(row.status as ImportStatus);
}

/** Items one import may have: a crawl stops discovering at maxPages, lists at maxLinks. */
function itemLimit(runtime: Pick<Runtime, "imports">, kind: string): number {
  return kind === "website" ? runtime.imports.maxPages : runtime.imports.maxLinks;
}

function dedupe(items: DiscoveredItem[]): DiscoveredItem[] {
  const seen = new Map<string, DiscoveredItem>();
  for (const i of items) if (!seen.has(i.target)) seen.set(i.target, i);
  return [...seen.values()];
}

export interface NewImport {
  scenarioId: string;
  kind: ImportKind;
  params: Record<string, unknown>;
  /** The caller's handle (toast_process_uuid); a second import with it in the scenario is a 409. */
  handle?: string | null;
  items: DiscoveredItem[];
}

/** Creates the import with its first items and its job, in one transaction; the job starts at once. */
export async function startImport(ctx: ServiceContext, input: NewImport): Promise<ImportRow> {
  const scenario = await ctx.loaders.scenario.load(input.scenarioId);
  if (!scenario) throw notFound("Scenario");
  const items = dedupe(input.items).slice(0, itemLimit(ctx, input.kind));
  const id = randomUUID();
  let row: ImportRow;
  try {
    row = await ctx.db.$transaction(async (tx) => {
      const job = await ctx.jobs.enqueue(tx, {
        kind: IMPORT_JOB,
        workspaceId: scenario.workspaceId,
        scenarioId: scenario.id,
        payload: { importId: id },
        maxAttempts: 5,
      });
      const created = await tx.knowledgeImport.create({
        data: {
          id,
          workspaceId: scenario.workspaceId,
          scenarioId: scenario.id,
          handle: input.handle ?? null,
          kind: input.kind,
          params: input.params as object,
          jobId: job.id,
          total: items.length,
          createdAt: ctx.clock(),
        },
      });
      if (items.length) await tx.knowledgeImportItem.createMany({ data: items.map((i) => ({ importId: id, target: i.target, depth: i.depth })) });
      return created;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`An import with toast_process_uuid ${input.handle} already exists`);
    throw err;
  }
  ctx.events.publishImport(row.id, row);
  ctx.jobs.wake();
  return row;
}

/** Which of a scenario's imports the caller may list (read access), optionally of one status. */
export async function importsScope(ctx: ServiceContext, scenarioId: string, status?: string | null) {
  if (status && !(IMPORT_STATUSES as readonly string[]).includes(status)) {
    throw validationError(`status must be one of ${IMPORT_STATUSES.join(", ")}`, "status");
  }
  const visible = await scenarioAccess(ctx, scenarioId, "read");
  return { scenarioId: visible, ...(status ? { status } : {}) };
}

/** An import the caller may read (another tenant's is NOT_FOUND). */
export async function getImport(ctx: ServiceContext, id: string): Promise<ImportRow> {
  const row = await ctx.db.knowledgeImport.findFirst({ where: { OR: [{ id }, { handle: id }] }, orderBy: { createdAt: "desc" } });
  if (!row) throw notFound("Import");
  try {
    await scenarioAccess(ctx, row.scenarioId, "read");
  } catch (err) {
    // Another tenant's (or another scenario's, for a scenario token) import does not exist here.
    if ((err as { code?: string }).code === "NOT_FOUND") throw notFound("Import");
    throw err;
  }
  return row;
}

/**
 * An import's progress, live: its row as it is now, then after every change, ending with the
 * change that finished it.
 */
export async function importProgress(ctx: ServiceContext, id: string): Promise<AsyncIterable<ImportRow>> {
  const row = await getImport(ctx, id);
  return (async function* () {
    const updates = ctx.events.subscribeImport(row.id)[Symbol.asyncIterator]();
    try {
      // Listening starts with the first next(), before the row is read: no change falls in between.
      let pending = updates.next();
      const current = await ctx.db.knowledgeImport.findUniqueOrThrow({ where: { id: row.id } });
      yield current;
      if (isFinished(current)) return;
      for (;;) {
        const next = await pending;
        if (next.done) return;
        const snapshot = next.value as ImportRow;
        yield snapshot;
        if (isFinished(snapshot)) return;
        pending = updates.next();
      }
    } finally {
      await updates.return?.();
    }
  })();
}

/** The import when it has finished, or as it stands when timeoutMs passes first. */
export async function waitForImport(ctx: Pick<Runtime, "db" | "events">, importId: string, timeoutMs: number): Promise<ImportRow> {
  const updates = ctx.events.subscribeImport(importId)[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  try {
    // The first next() starts listening; the row is read after that, so no change falls in between.
    let pending = updates.next();
    for (;;) {
      const row = await ctx.db.knowledgeImport.findUniqueOrThrow({ where: { id: importId } });
      if (isFinished(row) || Date.now() >= deadline) return row;
      // Another instance may run the job (its updates don't reach this process): poll as well.
      const wait = Math.min(1000, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<"tick">((resolve) => (timer = setTimeout(() => resolve("tick"), wait)));
      const got = await Promise.race([pending.then(() => "update" as const), tick]);
      clearTimeout(timer);
      if (got === "update") pending = updates.next();
    }
  } finally {
    await updates.return?.();
  }
}

/** The articles an import saved (created, updated or found unchanged), in item order. */
export async function importArticleIds(ctx: Pick<Runtime, "db">, importId: string): Promise<number[]> {
  const items = await ctx.db.knowledgeImportItem.findMany({
    where: { importId, articleId: { not: null }, status: { in: ["created", "updated", "unchanged"] } },
    orderBy: { id: "asc" },
    select: { articleId: true },
  });
  return [...new Set(items.map((i) => i.articleId!))];
}

/** Stops an import: items not yet taken stay pending and are not fetched. */
export async function cancelImport(ctx: ServiceContext, id: string): Promise<ImportRow> {
  const row = await getImport(ctx, id);
  await scenarioAccess(ctx, row.scenarioId, "write");
  if (isFinished(row)) return row;
  const now = ctx.clock();
  await ctx.db.knowledgeImport.updateMany({ where: { id: row.id, status: { in: ["queued", "running"] } }, data: { status: "cancelled", finishedAt: now } });
  const after = await ctx.db.knowledgeImport.findUniqueOrThrow({ where: { id: row.id } });
  ctx.events.publishImport(after.id, after);
  return after;
}

/** The job runner's handler for "kb.import"; registered by createRuntime. */
export function registerKnowledgeImportJobs(runtime: Runtime): void {
  runtime.jobs.registerHandler(IMPORT_JOB, (job, jobCtx) => runImport(runtime, job, jobCtx), {
    onFailure: async (job, error, { final }) => {
      if (final) await finishImport(runtime, String((job.payload as { importId?: string }).importId), "failed", error.message);
    },
  });
}

async function finishImport(runtime: Runtime, importId: string, status: ImportStatus, error: string | null): Promise<void> {
  const now = runtime.clock();
  const event = await runtime.db.$transaction(async (tx) => {
    const { count } = await tx.knowledgeImport.updateMany({
      where: { id: importId, status: { in: ["queued", "running"] } },
      data: { status, error: error?.slice(0, MAX_ERROR) ?? null, finishedAt: now },
    });
    if (!count) return null;
    const row = await tx.knowledgeImport.findUniqueOrThrow({ where: { id: importId } });
    return runtime.events.record(tx, {
      workspaceId: row.workspaceId,
      scenarioId: row.scenarioId,
      type: IMPORT_FINISHED,
      payload: { importId, kind: row.kind, status, created: row.created, updated: row.updated, unchanged: row.unchanged, failed: row.failed, skipped: row.skipped, error: row.error },
    });
  });
  if (event) runtime.events.publish([event]);
  await publishRow(runtime, importId);
}

async function publishRow(runtime: Runtime, importId: string): Promise<ImportRow | null> {
  const row = await runtime.db.knowledgeImport.findUnique({ where: { id: importId } });
  if (row) runtime.events.publishImport(importId, row);
  return row;
}

async function runImport(runtime: Runtime, job: JobRow, jobCtx: JobContext): Promise<unknown> {
  const importId = String((job.payload as { importId?: string }).importId);
  const found = await runtime.db.knowledgeImport.findUnique({ where: { id: importId } });
  // The scenario was deleted with its imports, or the import ended (cancelled) before it started.
  if (!found || isFinished(found)) return { importId, status: found?.status ?? "gone" };
  const processor = IMPORT_PROCESSORS[found.kind as ImportKind];
  if (!processor) throw new PermanentJobError(`unknown import kind ${found.kind}`);
  await runtime.db.knowledgeImport.updateMany({
    where: { id: importId, status: { in: ["queued", "running"] } },
    data: { status: "running", startedAt: found.startedAt ?? runtime.clock() },
  });
  const row = (await publishRow(runtime, importId)) ?? found;
  const run: ImportRun = {
    runtime,
    config: runtime.imports,
    row,
    params: row.params as Record<string, unknown>,
    signal: jobCtx.signal,
    log: jobCtx.log.child({ importId, kind: row.kind }),
    addItems: (items) => addItems(runtime, row, items),
  };

  let state: unknown;
  try {
    state = await processor.start?.(run);
  } catch (err) {
    if (jobCtx.signal.aborted) throw err;
    // A refusal the source gave (bad token, no such sitemap): retrying won't change it.
    if (err instanceof ImportItemError || err instanceof PermanentJobError) {
      await finishImport(runtime, importId, "failed", (err as Error).message);
      return { importId, status: "failed" };
    }
    throw err;
  }

  for (;;) {
    jobCtx.signal.throwIfAborted();
    const current = await runtime.db.knowledgeImport.findUnique({ where: { id: importId }, select: { status: true } });
    if (!current || current.status === "cancelled") return { importId, status: current?.status ?? "gone" };
    const item = await runtime.db.knowledgeImportItem.findFirst({ where: { importId, status: "pending" }, orderBy: { id: "asc" } });
    if (!item) break;
    let result: ItemResult | { error: string };
    try {
      result = await processor.item(run, item, state);
    } catch (err) {
      if (jobCtx.signal.aborted) throw err;
      result = { error: (err as Error).message || String(err) };
    }
    await settleItem(runtime, row, item, result, jobCtx);
  }

  await processor.finish?.(run, state);
  const done = await runtime.db.knowledgeImport.findUniqueOrThrow({ where: { id: importId } });
  // Nothing could be imported and something failed: the import failed, and says why. (Skips alone
  // are outcomes: robots.txt said no, a refreshed article is gone from its source.)
  const saved = done.created + done.updated + done.unchanged;
  const nothing = done.failed > 0 && saved === 0;
  await finishImport(runtime, importId, nothing ? "failed" : "completed", nothing ? firstError(await unsavedItems(runtime, importId)) : null);
  return { importId, created: done.created, updated: done.updated, unchanged: done.unchanged, failed: done.failed, skipped: done.skipped };
}

async function unsavedItems(runtime: Runtime, importId: string) {
  return runtime.db.knowledgeImportItem.findMany({ where: { importId, status: "failed" }, orderBy: { id: "asc" }, take: 2 });
}

function firstError(items: ImportItemRow[]): string {
  const [first] = items;
  if (!first) return "nothing was imported";
  return items.length === 1 ? `${first.target}: ${first.error}` : `nothing was imported; first: ${first.target}: ${first.error}`;
}

/** New frontier entries, within the import's limits (depth for crawls, count for all). */
async function addItems(runtime: Runtime, row: ImportRow, items: DiscoveredItem[]): Promise<number> {
  return runtime.db.$transaction(async (tx) => insertItems(runtime, tx, row, items));
}

type Tx = Parameters<Parameters<Runtime["db"]["$transaction"]>[0]>[0];

async function insertItems(runtime: Runtime, tx: Tx, row: ImportRow, items: DiscoveredItem[]): Promise<number> {
  const wanted = dedupe(items).filter((i) => row.kind !== "website" || i.depth <= runtime.imports.maxDepth);
  if (!wanted.length) return 0;
  // Locks the import row (PostgreSQL) so concurrent additions count against one total.
  const locked = await tx.knowledgeImport.update({ where: { id: row.id }, data: { updatedAt: runtime.clock() } });
  const room = itemLimit(runtime, row.kind) - locked.total;
  if (room <= 0) return 0;
  const q = runnerIn(tx, runtime.provider);
  let added = 0;
  for (const i of wanted) {
    if (added >= room) break;
    const inserted = await rowsOf<{ id: number }>(
      q,
      "KnowledgeImportItem",
      sql`INSERT INTO "KnowledgeImportItem" ("importId", "target", "depth", "status", "createdAt")
        VALUES (${row.id}, ${i.target}, ${i.depth}, 'pending', ${runtime.clock()})
        ON CONFLICT ("importId", "target") DO NOTHING RETURNING "id"`,
    );
    added += inserted.length;
  }
  if (added) await tx.knowledgeImport.update({ where: { id: row.id }, data: { total: { increment: added } } });
  return added;
}

/**
 * Settles one item in one transaction: its article, its outcome, what it discovered, the counters,
 * the retrain mark and the article event. Runs only while this worker holds the job.
 */
async function settleItem(runtime: Runtime, row: ImportRow, item: ImportItemRow, result: ItemResult | { error: string }, jobCtx: JobContext): Promise<void> {
  const job = { id: row.jobId! } as JobRow;
  const attempt = async () => {
    const now = runtime.clock();
    return runtime.db.$transaction(async (tx) => {
      if (row.jobId) await holdClaim(tx, job, jobCtx.workerId, runtime.clock);
      const events: (DomainEventRecord | null)[] = [];
      let status: ImportItemRow["status"];
      let articleId: number | null = null;
      let error: string | null = null;
      if ("error" in result) {
        status = "failed";
        error = result.error.slice(0, MAX_ERROR);
      } else if ("skipped" in result) {
        status = "skipped";
        error = result.skipped.slice(0, MAX_ERROR);
      } else {
        const saved = await saveImportedArticle(tx, row.scenarioId, result.article, now);
        status = saved.outcome;
        articleId = saved.article.id;
        if (saved.outcome !== "unchanged") {
          events.push(await markKnowledgeBaseChanged(runtime, tx, row.scenarioId, now));
          events.push(
            await runtime.events.record(tx, {
              workspaceId: row.workspaceId,
              scenarioId: row.scenarioId,
              type: saved.outcome === "created" ? "article.created" : "article.published",
              payload: { articleId, type: saved.article.type, version: saved.article.version, importId: row.id, source: row.kind },
            }),
          );
        }
      }
      const { count } = await tx.knowledgeImportItem.updateMany({
        where: { id: item.id, status: "pending" },
        data: { status, articleId, error, finishedAt: now },
      });
      if (!count) return [];
      const counter = status === "failed" ? "failed" : status === "skipped" ? "skipped" : status;
      await tx.knowledgeImport.update({ where: { id: row.id }, data: { processed: { increment: 1 }, [counter]: { increment: 1 } } });
      if (!("error" in result) && result.discovered?.length) await insertItems(runtime, tx, row, result.discovered);
      return events.filter((e): e is DomainEventRecord => e !== null);
    });
  };
  let events: DomainEventRecord[];
  try {
    events = await attempt();
  } catch (err) {
    // Another import saved the same URL first: this time the article is found and updated.
    if (!isUniqueViolation(err)) throw err;
    events = await attempt();
  }
  runtime.events.publish(events);
  await publishRow(runtime, row.id);
}
