import type { Article, Prisma } from "../generated/sqlite/client.ts";
import { publishWorkingCopy } from "./article-versions.ts";
import { changeArticles, tagFields } from "./articles.ts";
import type { ServiceContext } from "./context.ts";
import type { ImportedArticle } from "./kb-import-types.ts";

type Tx = Prisma.TransactionClient;
export type SaveOutcome = "created" | "updated" | "unchanged";

// Imported and uploaded text goes straight into force: the article is published (a numbered
// version), so the next training answers from it. The caller marks the knowledge base changed in
// the same transaction (retrain_state to_be_retrained) unless nothing changed.

const sameTags = (a: unknown, b: string[]) => JSON.stringify(a) === JSON.stringify([...new Set(b)]);

/** The article an import found before: one per URL, or one per external id (Intercom). */
async function previous(tx: Tx, scenarioId: string, a: ImportedArticle): Promise<Article | null> {
  if (a.url) return tx.article.findUnique({ where: { scenarioId_url: { scenarioId, url: a.url } } });
  if (a.externalSource && a.externalId) {
    return tx.article.findFirst({ where: { scenarioId, externalSource: a.externalSource, externalId: a.externalId }, orderBy: { id: "asc" } });
  }
  return null;
}

/**
 * Creates the article or updates it in place (same id, a new published version), or leaves it
 * alone when title, content, description and tags are what it has. Concurrent imports of one URL
 * can meet at the unique (scenarioId, url) index: the loser's transaction fails with a unique
 * violation, and a retry finds the winner's row.
 */
export async function saveImportedArticle(tx: Tx, scenarioId: string, a: ImportedArticle, now: Date): Promise<{ article: Article; outcome: SaveOutcome }> {
  const found = await previous(tx, scenarioId, a);
  const description = a.description ?? found?.description ?? "";
  if (found) {
    const same =
      found.title === a.title &&
      found.content === a.content &&
      found.description === description &&
      (!a.tags || sameTags(found.tags, a.tags)) &&
      found.deployState === "published";
    if (same) {
      const article = await tx.article.update({ where: { id: found.id }, data: { downloadedAt: now, externalUpdatedAt: a.externalUpdatedAt ?? found.externalUpdatedAt } });
      return { article, outcome: "unchanged" };
    }
    const draft = await tx.article.update({
      where: { id: found.id },
      data: {
        title: a.title,
        content: a.content,
        description,
        ...(a.tags ? tagFields(a.tags) : {}),
        downloadedAt: now,
        externalUpdatedAt: a.externalUpdatedAt ?? found.externalUpdatedAt,
        updatedAt: now,
      },
    });
    return { article: await publishWorkingCopy(tx, draft, now), outcome: "updated" };
  }
  const draft = await tx.article.create({
    data: {
      scenarioId,
      type: a.type,
      url: a.url ?? null,
      externalSource: a.externalSource ?? null,
      externalId: a.externalId ?? null,
      title: a.title,
      content: a.content,
      description,
      ...tagFields(a.tags ?? []),
      createdAt: now,
      updatedAt: now,
      downloadedAt: now,
      externalUpdatedAt: a.externalUpdatedAt ?? null,
    },
  });
  return { article: await publishWorkingCopy(tx, draft, now), outcome: "created" };
}

/**
 * An article from an uploaded file: published at once, the knowledge base marked for retraining
 * and an article.created event, in one transaction.
 */
export async function createUploadedArticle(
  ctx: ServiceContext,
  scenarioId: string,
  input: { title: string; content: string; fileName?: string },
): Promise<Article> {
  return changeArticles(ctx, scenarioId, async (tx, now) => {
    const { article } = await saveImportedArticle(tx, scenarioId, { type: "Article", title: input.title, content: input.content }, now);
    return { value: article, type: "article.created", payload: { articleId: article.id, type: article.type, source: "upload", fileName: input.fileName ?? null } };
  });
}
