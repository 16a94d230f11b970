import { z } from "zod";
import type { Article, Prisma } from "../generated/sqlite/client.ts";
import { notFound } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import { changeArticles, findArticle } from "./articles.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput } from "./validation.ts";

type Tx = Prisma.TransactionClient;

/**
 * Makes the working copy the next numbered version: numbers are sequential per article and never
 * reused (the highest ever published is kept in maxAvailableVersion).
 */
export async function publishWorkingCopy(tx: Tx, current: Article, now: Date): Promise<Article> {
  // Writing the row first takes its lock (PostgreSQL), so concurrent publishes number in turn.
  const article = await tx.article.update({ where: { id: current.id }, data: { updatedAt: now } });
  const last = await tx.articleVersion.aggregate({ where: { articleId: article.id }, _max: { version: true } });
  const version = Math.max(last._max.version ?? 0, article.maxAvailableVersion ?? 0) + 1;
  await tx.articleVersion.create({
    data: { articleId: article.id, version, title: article.title, content: article.content, tags: article.tags as string[], publishedAt: now },
  });
  return tx.article.update({
    where: { id: article.id },
    data: { version, maxAvailableVersion: version, deployState: "published", state: "published", updatedAt: now },
  });
}

/** Publishes the article's working copy as it stands. */
export async function publishArticle(ctx: ServiceContext, id: number, forScenario?: string): Promise<Article> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  return changeArticles(ctx, scenarioId, async (tx, now) => {
    const row = await publishWorkingCopy(tx, await findArticle(tx, scenarioId, id), now);
    return { value: row, type: "article.published", payload: { articleId: row.id, version: row.version } };
  });
}

const RestoreInput = z.object({ version: z.number().int().positive() });

/**
 * Copies a published version's text back into the working copy as a new draft; the version in
 * force stays what it was until the draft is published (as a new number).
 */
export async function restoreArticleVersion(ctx: ServiceContext, id: number, version: number, forScenario?: string): Promise<Article> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  parseInput(RestoreInput, { version });
  return changeArticles(ctx, scenarioId, async (tx, now) => {
    const article = await findArticle(tx, scenarioId, id);
    const old = await tx.articleVersion.findUnique({ where: { articleId_version: { articleId: article.id, version } } });
    if (!old) throw notFound("Article version");
    const tags = old.tags as string[];
    const row = await tx.article.update({
      where: { id: article.id },
      data: { title: old.title, content: old.content, tags, tagsText: tags.join(" "), deployState: "draft", state: "draft", updatedAt: now },
    });
    return { value: row, type: "article.updated", payload: { articleId: row.id, restoredVersion: version } };
  });
}
