import { z } from "zod";
import { Prisma, type Article } from "../generated/sqlite/client.ts";
import type { Provider } from "../db/client.ts";
import { scenarioAccess } from "./access.ts";
import { articlesInOrder } from "./articles.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput, parseQuery } from "./validation.ts";
import { MAX_QUERY_LENGTH, MAX_QUERY_WORDS, queryWords, WORD } from "./search-words.ts";


// Search runs on the full-text indexes the knowledge-base migration created: the FTS5 table
// "ArticleSearch" (SQLite; rowid = Article.id, kept current by triggers) and two stored tsvector
// columns with GIN indexes (PostgreSQL; computed by the database on every write).
const PG_ALL = Prisma.raw(`"searchAll"`);
const PG_CONTENT = Prisma.raw(`"searchContent"`);
/** bm25 column weights: title, content, url, tagsText. */
const FTS5_RANK = Prisma.raw(`bm25("ArticleSearch", 2.0, 1.0, 1.0, 2.0)`);

const count = (fallback: number) => z.number().int().min(1).max(100).default(fallback);

/** Search options as services take them (GraphQL passes these directly). */
const QueryText = z
  .string({ error: "is required" })
  .refine((s) => s.trim().length > 0, "is required")
  .refine((s) => s.length <= MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`)
  .refine((s) => queryWords(s).length <= MAX_QUERY_WORDS, `must have at most ${MAX_QUERY_WORDS} words`);

export const SearchInput = z.object({
  query: QueryText,
  is_case_insensitive: z.boolean().default(true),
  with_title_url_and_tags: z.boolean().default(true),
  strict_search: z.boolean().default(false),
  num_of_display_articles: count(5),
  num_of_data_articles: count(15),
});
export type SearchInput = z.input<typeof SearchInput>;

const boolString = z.enum(["true", "false"], { error: 'must be "true" or "false"' }).transform((v) => v === "true");
const countString = z
  .string()
  .regex(/^\d+$/, "must be an integer from 1 to 100")
  .transform(Number)
  .pipe(z.number().int().min(1, "must be an integer from 1 to 100").max(100, "must be an integer from 1 to 100"));

/** The same options as REST query strings (a bad value is a 400). */
export const SearchQuery = z.object({
  query: QueryText,
  is_case_insensitive: boolString.optional(),
  with_title_url_and_tags: boolString.optional(),
  strict_search: boolString.optional(),
  num_of_display_articles: countString.optional(),
  num_of_data_articles: countString.optional(),
});

export function parseSearchQuery(query: Record<string, unknown>): SearchInput {
  const keys = ["query", "is_case_insensitive", "with_title_url_and_tags", "strict_search", "num_of_display_articles", "num_of_data_articles"];
  return parseQuery(SearchQuery, Object.fromEntries(keys.map((k) => [k, query[k]])));
}

interface Mode {
  /** true: the exact phrase; false: any word, as a prefix. */
  strict: boolean;
  /** Title, URL and tags too, or the content alone. */
  allColumns: boolean;
}

/** An FTS5 query: every term double-quoted (quotes doubled), so input cannot inject syntax. */
function fts5Query(words: string[], join: "OR" | "AND", m: Mode): string {
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
  const expr = m.strict ? quote(words.join(" ")) : words.map((w) => `${quote(w)}*`).join(` ${join} `);
  return m.allColumns ? expr : `{content} : (${expr})`;
}

/** A PostgreSQL tsquery; prefix terms are quoted lexemes with :*. */
function pgQuery(words: string[], join: "|" | "&", strict: boolean): Prisma.Sql {
  if (strict) return Prisma.sql`phraseto_tsquery('simple', ${words.join(" ")})`;
  const terms = words.map((w) => `'${w.replaceAll("'", "''").replaceAll("\\", "\\\\")}':*`).join(` ${join} `);
  return Prisma.sql`to_tsquery('simple', ${terms})`;
}

/**
 * The list filter "query": articles whose content has every word (as a prefix), through the
 * index. null when the query has no searchable word (nothing matches).
 */
export function contentFilterSql(provider: Provider, query: string): Prisma.Sql | null {
  const words = queryWords(query);
  if (!words.length) return null;
  const mode = { strict: false, allColumns: false };
  return provider === "postgres"
    ? Prisma.sql`${PG_CONTENT} @@ ${pgQuery(words, "&", false)}`
    : Prisma.sql`"id" IN (SELECT rowid FROM "ArticleSearch" WHERE "ArticleSearch" MATCH ${fts5Query(words, "AND", mode)})`;
}

/** The scenario's matching article ids, best first. */
async function rankedIds(ctx: ServiceContext, scenarioId: string, words: string[], m: Mode, limit: number, offset: number): Promise<number[]> {
  let rows: { id: number }[];
  if (ctx.provider === "postgres") {
    const vector = m.allColumns ? PG_ALL : PG_CONTENT;
    const q = pgQuery(words, "|", m.strict);
    rows = await ctx.db.$queryRaw`SELECT "id" FROM "Article" WHERE "scenarioId" = ${scenarioId} AND ${vector} @@ ${q}
      ORDER BY ts_rank(${vector}, ${q}) DESC, "id" ASC LIMIT ${limit} OFFSET ${offset}`;
  } else {
    rows = await ctx.db.$queryRaw`SELECT a."id" AS id FROM "ArticleSearch" JOIN "Article" AS a ON a."id" = "ArticleSearch".rowid
      WHERE "ArticleSearch" MATCH ${fts5Query(words, "OR", m)} AND a."scenarioId" = ${scenarioId}
      ORDER BY ${FTS5_RANK}, a."id" LIMIT ${limit} OFFSET ${offset}`;
  }
  return rows.map((r) => Number(r.id));
}

export interface WordSpan {
  start: number;
  end: number;
  text: string;
}
export interface Snippet {
  articleId: number;
  sentence: string;
  words: WordSpan[];
}
export interface SearchResult {
  snippets: Snippet[];
  /** The matched articles, best first (working copies, drafts included). */
  articles: Article[];
}

/** Case folding only: accents count, as they do in both indexes. */
const fold = (s: string) => s.normalize("NFC").toLowerCase();

/** Where the query's words occur in a text: prefixes of words (loose) or the whole phrase (strict). */
export function findWords(text: string, words: string[], opts: { strict: boolean; caseInsensitive: boolean }): WordSpan[] {
  const norm = opts.caseInsensitive ? fold : (s: string) => s;
  const tokens = [...text.matchAll(WORD)].map((m) => ({ start: m.index, end: m.index + m[0].length, text: m[0], norm: norm(m[0]) }));
  const wanted = words.map(norm);
  const span = ({ start, end, text }: WordSpan) => ({ start, end, text });
  if (!opts.strict) return tokens.filter((t) => wanted.some((w) => t.norm.startsWith(w))).map(span);
  const found: WordSpan[] = [];
  for (let i = 0; i + wanted.length <= tokens.length; i++) {
    if (wanted.every((w, j) => tokens[i + j]!.norm === w)) {
      found.push(...tokens.slice(i, i + wanted.length).map(span));
      i += wanted.length - 1;
    }
  }
  return found;
}

const searchedTexts = (a: Article, allColumns: boolean) => (allColumns ? [a.title, a.content, a.url ?? "", a.tagsText] : [a.content]);

/** The sentence that best shows the match: most distinct words, then most occurrences. */
function snippetOf(a: Article, words: string[], opts: { strict: boolean; caseInsensitive: boolean }, withTitle: boolean): Snippet {
  const sentences = a.content.split(/(?<=[.!?…])\s+|\n+/).map((s) => s.trim()).filter(Boolean);
  const score = (spans: WordSpan[]) => new Set(spans.map((s) => fold(s.text))).size * 1000 + spans.length;
  let best: Snippet | null = null;
  for (const sentence of withTitle ? [...sentences, a.title] : sentences) {
    const spans = findWords(sentence, words, opts);
    if (spans.length && (!best || score(spans) > score(best.words))) best = { articleId: a.id, sentence, words: spans };
  }
  return best ?? { articleId: a.id, sentence: sentences[0] ?? "", words: [] };
}

const CANDIDATE_BATCH = 100;
/** Case-sensitive search looks at this many index candidates at most. */
const MAX_CANDIDATES = 2000;

/**
 * Searches the scenario's current articles (working copies) through the full-text index, ranked by
 * relevance (bm25 / ts_rank). The index folds case, so a case-sensitive search keeps only the
 * candidates whose text has the words in the exact case.
 */
export async function searchArticles(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<SearchResult> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  const p = parseInput(SearchInput, input);
  const words = queryWords(p.query);
  if (!words.length) return { snippets: [], articles: [] };
  const mode: Mode = { strict: p.strict_search, allColumns: p.with_title_url_and_tags };
  const opts = { strict: p.strict_search, caseInsensitive: p.is_case_insensitive };
  const want = Math.max(p.num_of_data_articles, p.num_of_display_articles);
  const load = (ids: number[]) => articlesInOrder(ids, (ids) => ctx.db.article.findMany({ where: { scenarioId, id: { in: ids } } }));

  let articles: Article[];
  if (p.is_case_insensitive) {
    articles = await load(await rankedIds(ctx, scenarioId, words, mode, want, 0));
  } else {
    articles = [];
    for (let offset = 0; articles.length < want && offset < MAX_CANDIDATES; offset += CANDIDATE_BATCH) {
      const ids = await rankedIds(ctx, scenarioId, words, mode, CANDIDATE_BATCH, offset);
      const rows = await load(ids);
      articles.push(...rows.filter((a) => searchedTexts(a, mode.allColumns).some((t) => findWords(t, words, opts).length > 0)));
      if (ids.length < CANDIDATE_BATCH) break;
    }
    articles = articles.slice(0, want);
  }
  return {
    snippets: articles.slice(0, p.num_of_display_articles).map((a) => snippetOf(a, words, opts, mode.allColumns)),
    articles: articles.slice(0, p.num_of_data_articles),
  };
}
