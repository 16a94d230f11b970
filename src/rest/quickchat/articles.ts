import { z } from "zod";
import {
  ARTICLE_TYPES,
  ArticleFiltersQuery,
  CreateArticleInput,
  DeleteArticlesInput,
  UpdateArticleInput,
  articleJson,
  articleListJson,
  createArticle,
  deleteArticles,
  getArticle,
  listArticles,
  listParagraphs,
  listTags,
  parseArticleFilters,
  parseArticleId,
  updateArticle,
} from "../../services/articles.ts";
import { SearchQuery, parseSearchQuery, searchArticles } from "../../services/article-search.ts";
import {
  LangUrlInput,
  createLanguageUrl,
  deleteLanguageUrl,
  getLanguageUrl,
  updateLanguageUrl,
} from "../../services/article-lang-urls.ts";
import { PaginationQuery, parsePagination } from "../../services/pagination.ts";
import type { RouteDef } from "../route.ts";
import { paginated, quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;
const ARTICLES = "/v1/api/knowledge_base/articles/";
const errors = {
  ...quickchatErrorResponses,
  404: { description: "NOT_FOUND: no such article in the token's scenario", schema: quickchatErrorResponses[400].schema },
};

const ArticleItem = z.object({
  id: z.number().int(),
  article_id: z.string(),
  type: z.enum(ARTICLE_TYPES),
  title: z.string(),
  description: z.string(),
  state: z.string(),
  deploy_state: z.enum(["draft", "published"]),
  version: z.number().int().nullable(),
  max_available_version: z.number().int().nullable(),
  url: z.string().nullable(),
  tags: z.array(z.string()),
  created_timestamp: z.string().describe("YYYY-MM-DD"),
  last_modified_timestamp: z.string(),
  downloaded_timestamp: z.string(),
  last_updated_timestamp: z.string(),
  last_updated_from_external_source_timestamp: z.string().nullable(),
});
const FullArticle = ArticleItem.extend({ content: z.string() });
const IdParams = z.object({ id: z.string().describe("The article's integer id") });
const LangParams = IdParams.extend({ language: z.string().describe("A language code: en, de, pt-BR, …") });
const LangUrl = z.object({ url: z.string() });
const q = (req: { query: unknown }) => (req.query ?? {}) as Record<string, unknown>;
const params = (req: { params: unknown }) => req.params as Record<string, string>;

const SearchAnswer = z.object({
  article_snippets: z.array(
    z.object({
      article_id: z.number().int(),
      expository_sentence: z.string(),
      query_words_ids: z.array(z.object({ start_char: z.number().int(), end_char: z.number().int(), text: z.string() })),
    }),
  ),
  article_snapshots: z.object({ items: z.array(ArticleItem), offset: z.number().int(), count: z.number().int() }),
});

const articleRoutes: RouteDef[] = [
  {
    method: "POST",
    path: ARTICLES,
    summary: "Create an article (a draft)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    body: CreateArticleInput,
    responses: { 201: { description: "The created article", schema: FullArticle }, ...errors },
    handler: async (ctx, req, reply) => {
      const row = await createArticle(ctx, req.body);
      return reply.status(201).send(articleJson(row));
    },
  },
  {
    method: "GET",
    path: ARTICLES,
    summary: "List articles (without content)",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    query: PaginationQuery.extend(ArticleFiltersQuery.shape),
    responses: { 200: { description: "A page of articles", schema: paginated(ArticleItem) }, ...errors },
    handler: (ctx, req) => listArticles(ctx, parseArticleFilters(q(req)), parsePagination(q(req))),
  },
  {
    method: "DELETE",
    path: ARTICLES,
    summary: "Delete articles by id (all or none)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    body: DeleteArticlesInput,
    responses: { 200: { description: "Deleted", schema: z.object({ deleted: z.array(z.number().int()) }) }, ...errors },
    handler: async (ctx, req) => ({ deleted: await deleteArticles(ctx, req.body) }),
  },
  {
    method: "GET",
    path: "/v1/api/knowledge_base/articles/search",
    summary: "Full-text search of the current articles, ranked by relevance",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    query: SearchQuery,
    responses: { 200: { description: "Snippets and the matched articles", schema: SearchAnswer }, ...errors },
    handler: async (ctx, req) => {
      const found = await searchArticles(ctx, parseSearchQuery(q(req)));
      return {
        article_snippets: found.snippets.map((s) => ({
          article_id: s.articleId,
          expository_sentence: s.sentence,
          query_words_ids: s.words.map((w) => ({ start_char: w.start, end_char: w.end, text: w.text })),
        })),
        article_snapshots: { items: found.articles.map(articleListJson), offset: 0, count: found.articles.length },
      };
    },
  },
  {
    method: "GET",
    path: "/v1/api/knowledge_base/articles/paragraphs",
    summary: "List Paragraph-type articles",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    query: PaginationQuery.extend({ query: z.string().optional() }),
    responses: {
      200: {
        description: "A page of paragraphs",
        schema: z.object({ items: z.array(z.object({ id: z.number().int(), content: z.string() })), offset: z.number().int(), count: z.number().int() }),
      },
      ...errors,
    },
    handler: (ctx, req) => {
      const query = q(req).query;
      return listParagraphs(ctx, typeof query === "string" ? query : undefined, parsePagination(q(req)));
    },
  },
  {
    method: "GET",
    path: "/v1/api/knowledge_base/articles/:id",
    summary: "Get an article with its content",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    params: IdParams,
    responses: { 200: { description: "The article", schema: FullArticle }, ...errors },
    handler: async (ctx, req) => articleJson(await getArticle(ctx, parseArticleId(params(req).id))),
  },
  {
    method: "PATCH",
    path: "/v1/api/knowledge_base/articles/:id",
    summary: "Update an article: save a draft (default) or publish a new version",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: IdParams,
    body: UpdateArticleInput,
    responses: { 200: { description: "The updated article", schema: FullArticle }, ...errors },
    handler: async (ctx, req) => articleJson(await updateArticle(ctx, parseArticleId(params(req).id), req.body ?? {})),
  },
  {
    method: "GET",
    path: "/v1/api/knowledge_base/tags/",
    summary: "The distinct tags of the scenario's articles, sorted",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "Tags", schema: z.array(z.string()) }, ...errors },
    handler: (ctx) => listTags(ctx),
  },
];

const LANG = "/v1/api/knowledge_base/articles/:id/lang_urls/:language";
const langUrlRoutes: RouteDef[] = [
  {
    method: "GET",
    path: LANG,
    summary: "Get an article's URL for a language",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    params: LangParams,
    responses: { 200: { description: "The URL", schema: LangUrl }, ...errors },
    handler: async (ctx, req) => {
      const row = await getLanguageUrl(ctx, parseArticleId(params(req).id), params(req).language!);
      return { url: row.url };
    },
  },
  {
    method: "POST",
    path: LANG,
    summary: "Create an article's URL for a language (409 when one exists)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: LangParams,
    body: LangUrlInput,
    responses: { 200: { description: "The URL", schema: LangUrl }, 409: { description: "CONFLICT: the language already has a URL" }, ...errors },
    handler: async (ctx, req) => {
      const row = await createLanguageUrl(ctx, parseArticleId(params(req).id), params(req).language!, req.body);
      return { url: row.url };
    },
  },
  {
    method: "PATCH",
    path: LANG,
    summary: "Update an article's URL for a language",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: LangParams,
    body: LangUrlInput,
    responses: { 200: { description: "The updated URL", schema: LangUrl }, ...errors },
    handler: async (ctx, req) => {
      const row = await updateLanguageUrl(ctx, parseArticleId(params(req).id), params(req).language!, req.body ?? {});
      return { url: row.url };
    },
  },
  {
    method: "DELETE",
    path: LANG,
    summary: "Delete an article's URL for a language",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    params: LangParams,
    responses: { 200: { description: "Deleted", schema: z.object({}) }, ...errors },
    handler: async (ctx, req) => {
      await deleteLanguageUrl(ctx, parseArticleId(params(req).id), params(req).language!);
      return {};
    },
  },
];

export const articlesRoutes: RouteDef[] = [...articleRoutes, ...langUrlRoutes];
