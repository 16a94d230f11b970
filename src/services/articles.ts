import { z } from "zod";
import { Prisma, type Article } from "../generated/sqlite/client.ts";
import { notFound } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { contentFilterSql } from "./article-search.ts";
import { MAX_QUERY_LENGTH, MAX_QUERY_WORDS, queryWords } from "./search-words.ts";
import { publishWorkingCopy } from "./article-versions.ts";
import { markKnowledgeBaseChanged } from "./knowledge-base.ts";
import type { Pagination } from "./pagination.ts";
import { parseInput, parseQuery } from "./validation.ts";

export const ARTICLE_TYPES = ["Article", "Paragraph", "URL"] as const;
export type ArticleType = (typeof ARTICLE_TYPES)[number];
type Tx = Prisma.TransactionClient;

/** Article ids are PostgreSQL INTEGERs: anything larger cannot exist. */
const MAX_ID = 2_147_483_647;

// Tags travel comma-separated in the list filter, so a tag cannot contain a comma.
const Tag = z
  .string()
  .trim()
  .min(1, "each tag must not be empty")
  .max(100, "each tag must be at most 100 characters")
  .refine((t) => !t.includes(","), "a tag must not contain a comma");
const Tags = z.array(Tag).max(100);
const Content = z.string().refine((s) => s.trim().length > 0, "is required and must not be empty");
const Title = z.string().max(1000);

export const CreateArticleInput = z
  .object({
    content: Content,
    type: z
      .enum(["Article", "Paragraph", "URL"])
      .default("Article")
      .refine((t) => t !== "URL", 'must be "Article" or "Paragraph" (URL articles are created by imports)'),
    title: Title.optional(),
    tags: Tags.optional(),
  })
  .strict();

export const UpdateArticleInput = z
  .object({
    content: Content.optional(),
    title: Title.optional(),
    tags: Tags.optional(),
    save_mode: z.enum(["draft", "publish"]).default("draft"),
  })
  .strict();

export const DeleteArticlesInput = z.array(z.number().int().positive()).min(1, "must list at least one id").max(1000);

/** The list's content filter, bounded like search queries. */
const FilterQuery = z
  .string()
  .max(MAX_QUERY_LENGTH)
  .refine((s) => queryWords(s).length <= MAX_QUERY_WORDS, `must have at most ${MAX_QUERY_WORDS} words`);

/** The list filters, as services take them (both transports). */
export const ArticleFilters = z
  .object({
    types: z.array(z.enum(ARTICLE_TYPES)).optional(),
    tags: z.array(z.string().max(100)).max(100).optional(),
    url: z.string().max(2048).optional(),
    title: z.string().max(1000).optional(),
    query: FilterQuery.optional(),
  })
  .strict();
export type ArticleFilters = z.output<typeof ArticleFilters>;

const commaList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => [v].flat().flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean));

/** The list filters as REST query strings: types and tags comma-separated (or repeated). */
export const ArticleFiltersQuery = z.object({
  types: commaList.pipe(z.array(z.enum(ARTICLE_TYPES, { error: "must be a comma-separated list of Article, Paragraph, URL" }))).optional(),
  tags: commaList.pipe(z.array(z.string().max(100)).max(100)).optional(),
  url: z.string().max(2048).optional(),
  title: z.string().max(1000).optional(),
  query: FilterQuery.optional(),
});

export function parseArticleFilters(query: Record<string, unknown>): ArticleFilters {
  const { types, tags, url, title, query: q } = query;
  return parseQuery(ArticleFiltersQuery, { types, tags, url, title, query: q });
}

/** A path id: digits only (else 400). */
export function parseArticleId(raw: unknown): number {
  return parseQuery(z.object({ id: z.string().regex(/^\d+$/, "must be an integer article id").transform(Number) }), { id: raw }).id;
}

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : null);

/** A list item: every documented field but content. */
export function articleListJson(a: Omit<Article, "content">) {
  return {
    id: a.id,
    article_id: a.articleId,
    type: a.type,
    title: a.title,
    description: a.description,
    state: a.state,
    deploy_state: a.deployState,
    version: a.version,
    max_available_version: a.maxAvailableVersion,
    url: a.url,
    tags: a.tags as string[],
    created_timestamp: day(a.createdAt)!,
    last_modified_timestamp: day(a.updatedAt)!,
    downloaded_timestamp: day(a.downloadedAt)!,
    last_updated_timestamp: day(a.updatedAt)!,
    last_updated_from_external_source_timestamp: day(a.externalUpdatedAt),
  };
}
export type ArticleListJson = ReturnType<typeof articleListJson>;

/** The full article, content included, in the documented field order. */
export function articleJson(a: Article) {
  const { id, article_id, type, title, description, ...rest } = articleListJson(a);
  return { id, article_id, type, title, description, content: a.content, ...rest };
}
export type ArticleJson = ReturnType<typeof articleJson>;

/** An article of the scenario; another scenario's id is NOT_FOUND. */
export async function findArticle(db: Pick<Tx, "article">, scenarioId: string, id: number): Promise<Article> {
  const row = id <= MAX_ID ? await db.article.findFirst({ where: { id, scenarioId } }) : null;
  if (!row) throw notFound("Article");
  return row;
}

/**
 * Runs an article change in one transaction with what every change needs: the knowledge base is
 * marked for retraining and a domain event is recorded (published after commit).
 */
export async function changeArticles<T>(
  ctx: ServiceContext,
  scenarioId: string,
  work: (tx: Tx, now: Date) => Promise<{ value: T; type: string; payload: Record<string, unknown> }>,
): Promise<T> {
  const scenario = await ctx.loaders.scenario.load(scenarioId);
  if (!scenario) throw notFound("Scenario");
  const now = ctx.clock();
  const { value, events } = await ctx.db.$transaction(async (tx) => {
    const { value, type, payload } = await work(tx, now);
    const stateChanged = await markKnowledgeBaseChanged(ctx, tx, scenarioId, now);
    const event = await ctx.events.record(tx, { workspaceId: scenario.workspaceId, scenarioId, type, payload });
    return { value, events: stateChanged ? [event, stateChanged] : [event] };
  });
  ctx.events.publish(events);
  return value;
}

export const tagFields = (tags: string[]) => {
  const unique = [...new Set(tags)];
  return { tags: unique, tagsText: unique.join(" ") };
};

export async function createArticle(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<Article> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const p = parseInput(CreateArticleInput, input);
  return changeArticles(ctx, scenarioId, async (tx, now) => {
    const row = await tx.article.create({
      data: {
        scenarioId,
        type: p.type,
        title: p.title ?? "",
        content: p.content,
        ...tagFields(p.tags ?? []),
        createdAt: now,
        updatedAt: now,
        downloadedAt: now,
      },
    });
    return { value: row, type: "article.created", payload: { articleId: row.id, type: row.type } };
  });
}

/** Saves the working copy; save_mode publish also makes it the next numbered version. */
export async function updateArticle(ctx: ServiceContext, id: number, input: unknown, forScenario?: string): Promise<Article> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const p = parseInput(UpdateArticleInput, input);
  return changeArticles(ctx, scenarioId, async (tx, now) => {
    // NOT_FOUND here rolls the whole change back (no retrain mark, no event).
    const current = await findArticle(tx, scenarioId, id);
    let row = await tx.article.update({
      where: { id: current.id },
      data: {
        content: p.content,
        title: p.title,
        ...(p.tags ? tagFields(p.tags) : {}),
        deployState: "draft",
        state: "draft",
        updatedAt: now,
      },
    });
    if (p.save_mode === "publish") row = await publishWorkingCopy(tx, row, now);
    return {
      value: row,
      type: p.save_mode === "publish" ? "article.published" : "article.updated",
      payload: { articleId: row.id, version: row.version },
    };
  });
}

/** Deletes all the listed articles, or (when any is not the scenario's) none. */
export async function deleteArticles(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<number[]> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const ids = [...new Set(parseInput(DeleteArticlesInput, input))];
  return changeArticles(ctx, scenarioId, async (tx) => {
    const valid = ids.filter((id) => id <= MAX_ID);
    const found = await tx.article.findMany({ where: { scenarioId, id: { in: valid } }, select: { id: true } });
    const have = new Set(found.map((f) => f.id));
    const missing = ids.filter((id) => !have.has(id));
    if (missing.length) throw notFound(`Article ${missing.join(", ")}`);
    await tx.article.deleteMany({ where: { scenarioId, id: { in: ids } } });
    return { value: ids, type: "article.deleted", payload: { articleIds: ids } };
  });
}

export async function getArticle(ctx: ServiceContext, id: number, forScenario?: string): Promise<Article> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  return findArticle(ctx.db, scenarioId, id);
}

/** The WHERE clause of a filtered list, as SQL both providers understand. */
function filterSql(ctx: ServiceContext, scenarioId: string, f: ArticleFilters): Prisma.Sql | null {
  const conds: Prisma.Sql[] = [Prisma.sql`"scenarioId" = ${scenarioId}`];
  if (f.types?.length) conds.push(Prisma.sql`CAST("type" AS TEXT) IN (${Prisma.join(f.types)})`);
  if (f.url !== undefined) conds.push(Prisma.sql`"url" = ${f.url}`);
  if (f.title) {
    const pattern = `%${f.title.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(Prisma.sql`lower("title") LIKE ${pattern} ESCAPE '\\'`);
  }
  if (f.tags?.length) {
    const anyTag = f.tags.map((tag) =>
      ctx.provider === "postgres"
        ? Prisma.sql`"tags" @> jsonb_build_array(CAST(${tag} AS TEXT))`
        : Prisma.sql`EXISTS (SELECT 1 FROM json_each("Article"."tags") AS t WHERE t.value = ${tag})`,
    );
    conds.push(Prisma.sql`(${Prisma.join(anyTag, " OR ")})`);
  }
  if (f.query?.trim()) {
    const content = contentFilterSql(ctx.provider, f.query);
    if (!content) return null;
    conds.push(content);
  }
  return Prisma.join(conds, " AND ");
}

/** One page of a filtered list: the ids in order and the total. */
export async function articlePage(
  ctx: ServiceContext,
  filters: unknown,
  page: Pagination,
  forScenario?: string,
): Promise<{ ids: number[]; count: number }> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  const where = filterSql(ctx, scenarioId, parseInput(ArticleFilters, filters));
  if (!where) return { ids: [], count: 0 };
  const [rows, total] = await Promise.all([
    ctx.db.$queryRaw<{ id: number }[]>`SELECT "id" FROM "Article" WHERE ${where} ORDER BY "id" ASC LIMIT ${page.limit} OFFSET ${page.offset}`,
    ctx.db.$queryRaw<{ n: number | bigint }[]>`SELECT COUNT(*) AS n FROM "Article" WHERE ${where}`,
  ]);
  return { ids: rows.map((r) => Number(r.id)), count: Number(total[0]?.n ?? 0) };
}

/** Rows by id, in the order given. */
export async function articlesInOrder<A extends { id: number }>(ids: number[], load: (ids: number[]) => Promise<A[]>): Promise<A[]> {
  if (!ids.length) return [];
  const byId = new Map((await load(ids)).map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r): r is A => r !== undefined);
}

export async function listArticles(ctx: ServiceContext, filters: unknown, page: Pagination, forScenario?: string) {
  const { ids, count } = await articlePage(ctx, filters, page, forScenario);
  const rows = await articlesInOrder(ids, (ids) => ctx.db.article.findMany({ where: { id: { in: ids } }, omit: { content: true } }));
  return { items: rows.map(articleListJson), offset: page.offset, limit: page.limit, count };
}

/** Paragraph-type articles: id and content only, as documented. */
export async function listParagraphs(ctx: ServiceContext, query: string | undefined, page: Pagination, forScenario?: string) {
  const { ids, count } = await articlePage(ctx, { types: ["Paragraph"], query }, page, forScenario);
  const rows = await articlesInOrder(ids, (ids) =>
    ctx.db.article.findMany({ where: { id: { in: ids } }, select: { id: true, content: true } }),
  );
  return { items: rows.map((r) => ({ id: r.id, content: r.content })), offset: page.offset, count };
}

/** The distinct tags of the scenario's articles, sorted. */
export async function listTags(ctx: ServiceContext, forScenario?: string): Promise<string[]> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  const rows =
    ctx.provider === "postgres"
      ? await ctx.db.$queryRaw<{ tag: string }[]>`SELECT DISTINCT jsonb_array_elements_text("tags") AS tag FROM "Article" WHERE "scenarioId" = ${scenarioId}`
      : await ctx.db.$queryRaw<{ tag: string }[]>`SELECT DISTINCT t.value AS tag FROM "Article", json_each("Article"."tags") AS t WHERE "Article"."scenarioId" = ${scenarioId}`;
  return rows.map((r) => String(r.tag)).sort();
}
