import { AppError } from "../errors.ts";
import { createServiceContext, type Runtime } from "./context.ts";
import { htmlToText } from "./html-text.ts";
import { NOT_CONNECTED, intercomToken } from "./intercom-connection.ts";
import { INTERCOM_SOURCE, removeIntercomArticles } from "./kb-intercom-store.ts";
import { IntercomClient, type IntercomArticle } from "./kb-intercom-client.ts";
import { ImportItemError, type ImportedArticle, type ImportProcessor, type ImportRun, type ItemResult } from "./kb-import-types.ts";

// The Intercom imports as jobs. intercom_import lists the Help Center's published articles and
// imports each (the item's target is the Intercom id); intercom_refresh re-fetches the articles it
// was given by their Intercom id — updated in place, removed when Intercom no longer has or
// publishes them — and, when asked, imports the published ones not imported yet.
// Drafts are never imported: the knowledge base should say what the Help Center says publicly.
// The routes are in kb-intercom-articles.ts (kept apart: kb-imports.ts loads the processors).

interface IntercomState {
  client: IntercomClient;
  /** Articles the listing returned, so their items need no second request. */
  listed: Map<string, IntercomArticle>;
}

async function clientFor(run: ImportRun): Promise<IntercomClient> {
  let token: string | null;
  try {
    token = await intercomToken(run.runtime, run.row.workspaceId);
  } catch (err) {
    // An unreadable token (the server's secret changed) won't be readable on a retry either.
    if (err instanceof AppError) throw new ImportItemError(err.message);
    throw err;
  }
  if (!token) throw new ImportItemError(NOT_CONNECTED);
  return new IntercomClient(run.runtime, run.config, token, run.signal);
}

const published = (a: IntercomArticle) => a.state === "published";

/** Lists published articles keep() accepts (within maxLinks) and adds them as items. */
async function listInto(run: ImportRun, client: IntercomClient, keep: (a: IntercomArticle) => boolean): Promise<Map<string, IntercomArticle>> {
  const articles = await client.listArticles(run.config.maxLinks, (a) => published(a) && keep(a));
  run.log.info({ importId: run.row.id, articles: articles.length }, "intercom articles listed");
  await run.addItems(articles.map((a) => ({ target: a.id, depth: 0 })));
  return new Map(articles.map((a) => [a.id, a]));
}

export function importedArticle(a: IntercomArticle): ImportedArticle | null {
  const { text, title } = htmlToText(a.body);
  if (!text.trim()) return null;
  return {
    type: "Article",
    externalSource: INTERCOM_SOURCE,
    externalId: a.id,
    title: a.title || title || `Intercom article ${a.id}`,
    content: text,
    description: a.description,
    externalUpdatedAt: a.updatedAt,
  };
}

function resultOf(a: IntercomArticle): ItemResult {
  const article = importedArticle(a);
  return article ? { article } : { skipped: "the Intercom article has no text" };
}

export const intercomImportProcessor: ImportProcessor<IntercomState> = {
  async start(run) {
    const client = await clientFor(run);
    return { client, listed: await listInto(run, client, () => true) };
  },
  async item(_run, item, state) {
    const a = state.listed.get(item.target) ?? (await state.client.article(item.target));
    if (!a) return { skipped: "Intercom no longer has this article" };
    if (!published(a)) return { skipped: "not published in Intercom" };
    return resultOf(a);
  },
};

async function importedIds(runtime: Runtime, scenarioId: string): Promise<Set<string>> {
  const rows = await runtime.db.article.findMany({ where: { scenarioId, externalSource: INTERCOM_SOURCE }, select: { externalId: true } });
  return new Set(rows.map((r) => r.externalId).filter((id): id is string => id !== null));
}

export const intercomRefreshProcessor: ImportProcessor<IntercomState> = {
  async start(run) {
    const client = await clientFor(run);
    if (run.params.fetchNew === false) return { client, listed: new Map() };
    const have = await importedIds(run.runtime, run.row.scenarioId);
    return { client, listed: await listInto(run, client, (a) => !have.has(a.id)) };
  },
  async item(run, item, state) {
    const fresh = state.listed.get(item.target);
    if (fresh) return resultOf(fresh);
    const a = await state.client.article(item.target);
    if (a && published(a)) return resultOf(a);
    const ctx = createServiceContext(run.runtime);
    const removed = await removeIntercomArticles(ctx, run.row.scenarioId, [item.target]);
    const why = a ? "unpublished in Intercom" : "deleted in Intercom";
    return { skipped: removed.length ? `${why}: removed article ${removed.join(", ")}` : why };
  },
};
