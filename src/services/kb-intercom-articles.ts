import { z } from "zod";
import { AppError, validationError } from "../errors.ts";
import type { Article } from "../generated/sqlite/client.ts";
import { scenarioAccess } from "./access.ts";
import { articleListJson, type ArticleListJson } from "./articles.ts";
import type { ServiceContext } from "./context.ts";
import { notConnected } from "./intercom-connection.ts";
import { TOKEN_REJECTED } from "./kb-intercom-client.ts";
import { INTERCOM_SOURCE, removeIntercomArticles } from "./kb-intercom-store.ts";
import { importArticleIds, isFinished, startImport, waitForImport } from "./kb-imports.ts";
import type { ImportRow } from "./kb-import-types.ts";
import { parseInput } from "./validation.ts";

// The Intercom Knowledge Base routes: import everything, refresh (all or some, plus what is new),
// delete everything imported. Imports and refreshes run as import jobs (kb-intercom.ts).

/** How long POST intercom/import waits for its import before answering 202 with the import's id. */
export const IMPORT_WAIT_MS = 60_000;
/** Article ids are PostgreSQL INTEGERs. */
const MAX_ID = 2_147_483_647;

export const RefreshInput = z
  .object({
    article_ids: z.array(z.number({ error: "must be an integer article id" }).int("must be an integer article id").positive().max(MAX_ID)).max(10_000).optional(),
    fetch_new_articles: z.boolean({ error: "must be true or false" }).default(true),
  })
  .strict();

async function connectedScenario(ctx: ServiceContext, forScenario?: string): Promise<string> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const scenario = await ctx.loaders.scenario.load(scenarioId);
  const connection = scenario && (await ctx.db.intercomConnection.findUnique({ where: { workspaceId: scenario.workspaceId }, select: { workspaceId: true } }));
  if (!connection) throw notConnected();
  return scenarioId;
}

export type IntercomImportAnswer = { done: true; articles: ArticleListJson[] } | { done: false; importId: string };

/** Starts importing every published Help Center article (GraphQL answers the import at once). */
export async function startIntercomImport(ctx: ServiceContext, forScenario?: string): Promise<ImportRow> {
  const scenarioId = await connectedScenario(ctx, forScenario);
  return startImport(ctx, { scenarioId, kind: "intercom_import", params: {}, items: [] });
}

/**
 * Imports every published Help Center article and waits for it (up to IMPORT_WAIT_MS): answers
 * the imported articles, or, when the import is still running, its id.
 */
export async function importIntercomArticles(ctx: ServiceContext, waitMs = IMPORT_WAIT_MS): Promise<IntercomImportAnswer> {
  const started = await startIntercomImport(ctx);
  const scenarioId = started.scenarioId;
  const row = await waitForImport(ctx, started.id, waitMs);
  if (!isFinished(row)) return { done: false, importId: row.id };
  if (row.status === "failed") {
    if (row.error === TOKEN_REJECTED) throw validationError(`${TOKEN_REJECTED}: connect Intercom again with a valid token`);
    throw new AppError("SERVICE_UNAVAILABLE", `The Intercom import failed: ${row.error ?? "unknown error"}`);
  }
  const ids = await importArticleIds(ctx, row.id);
  const articles = await ctx.db.article.findMany({ where: { scenarioId, id: { in: ids } }, omit: { content: true } });
  const byId = new Map(articles.map((a) => [a.id, a]));
  return { done: true, articles: ids.flatMap((id) => (byId.has(id) ? [articleListJson(byId.get(id) as Omit<Article, "content">)] : [])) };
}

/**
 * Re-fetches the scenario's Intercom articles (the listed ones, else all) and, unless
 * fetch_new_articles is false, imports the published ones not imported yet. Answers the import.
 */
export async function refreshIntercomArticles(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<{ importId: string }> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const body = parseInput(RefreshInput, input ?? {});
  const where = { scenarioId, externalSource: INTERCOM_SOURCE, externalId: { not: null } };
  let articles: { id: number; externalId: string | null }[];
  if (body.article_ids) {
    const ids = [...new Set(body.article_ids)];
    articles = await ctx.db.article.findMany({ where: { ...where, id: { in: ids } }, select: { id: true, externalId: true } });
    const found = new Set(articles.map((a) => a.id));
    const unknown = ids.filter((id) => !found.has(id));
    // Another scenario's article and one that does not exist read the same.
    if (unknown.length) throw validationError(`article_ids: not Intercom articles of this assistant: ${unknown.join(", ")}`, "article_ids");
  } else {
    articles = await ctx.db.article.findMany({ where, select: { id: true, externalId: true }, orderBy: { id: "asc" } });
  }
  await connectedScenario(ctx, scenarioId);
  const row = await startImport(ctx, {
    scenarioId,
    kind: "intercom_refresh",
    params: { articleIds: body.article_ids ?? null, fetchNew: body.fetch_new_articles },
    items: articles.map((a) => ({ target: a.externalId!, depth: 0 })),
  });
  return { importId: row.id };
}

/** Removes every Intercom-sourced article of the scenario; answers their ids. */
export async function deleteIntercomArticles(ctx: ServiceContext, forScenario?: string): Promise<number[]> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  return removeIntercomArticles(ctx, scenarioId, "all");
}
