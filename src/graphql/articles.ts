import { queryFromInfo } from "@pothos/plugin-prisma";
import { resolveOffsetConnection } from "@pothos/plugin-relay";
import { builder } from "./builder.ts";
import { ARTICLE_TYPES, articlePage, articlesInOrder, createArticle, deleteArticles, getArticle, listTags, updateArticle } from "../services/articles.ts";
import { publishArticle, restoreArticleVersion } from "../services/article-versions.ts";
import { searchArticles, type Snippet, type WordSpan } from "../services/article-search.ts";
import { deleteLanguageUrl, setLanguageUrl } from "../services/article-lang-urls.ts";
import type { GraphQLContext } from "./builder.ts";

const ArticleTypeEnum = builder.enumType("ArticleType", { values: ARTICLE_TYPES });
const SaveModeEnum = builder.enumType("ArticleSaveMode", {
  values: { DRAFT: { value: "draft" }, PUBLISH: { value: "publish" } } as const,
});

const ArticleRef = builder.prismaObject("Article", {
  description: "A knowledge-base article. Its fields are the working copy; published text lives in versions.",
  fields: (t) => ({
    id: t.exposeInt("id", { description: "The integer id used everywhere (REST paths too)" }),
    articleId: t.exposeString("articleId", { description: "Legacy string identifier" }),
    type: t.expose("type", { type: ArticleTypeEnum }),
    title: t.exposeString("title"),
    description: t.exposeString("description"),
    content: t.exposeString("content"),
    url: t.exposeString("url", { nullable: true }),
    tags: t.stringList({ select: { tags: true }, resolve: (a) => a.tags as string[] }),
    deployState: t.exposeString("deployState", { description: "draft | published: published when the working copy is the version in force" }),
    state: t.exposeString("state"),
    version: t.exposeInt("version", { nullable: true, description: "The published version in force" }),
    maxAvailableVersion: t.exposeInt("maxAvailableVersion", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    downloadedAt: t.expose("downloadedAt", { type: "DateTime" }),
    externalUpdatedAt: t.expose("externalUpdatedAt", { type: "DateTime", nullable: true }),
    versions: t.relation("versions", {
      description: "Published versions, newest first",
      query: { orderBy: { version: "desc" } },
    }),
    langUrls: t.relation("langUrls", { description: "Per-language source URLs", query: { orderBy: { language: "asc" } } }),
  }),
});

builder.prismaObject("ArticleVersion", {
  description: "A published snapshot of an article",
  fields: (t) => ({
    version: t.exposeInt("version"),
    title: t.exposeString("title"),
    content: t.exposeString("content"),
    tags: t.stringList({ select: { tags: true }, resolve: (v) => v.tags as string[] }),
    publishedAt: t.expose("publishedAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("ArticleLangUrl", {
  name: "ArticleLanguageUrl",
  fields: (t) => ({
    language: t.exposeString("language"),
    url: t.exposeString("url"),
  }),
});

const WordSpanRef = builder.objectRef<WordSpan>("ArticleSearchWord").implement({
  description: "A matched word: sentence.slice(startChar, endChar) === text",
  fields: (t) => ({ startChar: t.exposeInt("start"), endChar: t.exposeInt("end"), text: t.exposeString("text") }),
});

const loadInOrder = (ctx: GraphQLContext, ids: number[], query: object) =>
  articlesInOrder(ids, (ids) => ctx.db.article.findMany({ ...query, where: { id: { in: ids } } }));

const SnippetRef = builder.objectRef<Snippet>("ArticleSnippet").implement({
  fields: (t) => ({
    articleId: t.exposeInt("articleId"),
    expositorySentence: t.exposeString("sentence", { description: "The article's sentence that contains the matched words" }),
    queryWords: t.field({ type: [WordSpanRef], resolve: (s) => s.words }),
  }),
});

interface SearchView {
  snippets: Snippet[];
  ids: number[];
}
const SearchResultRef = builder.objectRef<SearchView>("ArticleSearchResult").implement({
  fields: (t) => ({
    snippets: t.field({ type: [SnippetRef], resolve: (r) => r.snippets }),
    articles: t.prismaField({
      type: ["Article"],
      description: "The matched articles, most relevant first",
      resolve: (query, r, _a, ctx) => loadInOrder(ctx, r.ids, query),
    }),
  }),
});

builder.prismaObjectFields("Scenario", (t) => ({
  articles: t.connection({
    type: ArticleRef,
    description: "The knowledge base's articles, oldest first. Needs assistant:read or read_all.",
    args: {
      types: t.arg({ type: [ArticleTypeEnum] }),
      tags: t.arg.stringList({ description: "Articles having any of these tags" }),
      url: t.arg.string({ description: "Exact URL" }),
      title: t.arg.string({ description: "Substring of the title, case-insensitive" }),
      query: t.arg.string({ description: "Words the content has (prefixes), through the full-text index" }),
    },
    resolve: async (s, args, ctx, info) => {
      const filters = { types: args.types ?? undefined, tags: args.tags ?? undefined, url: args.url ?? undefined, title: args.title ?? undefined, query: args.query ?? undefined };
      let total = 0;
      const query = queryFromInfo({ context: ctx, info, path: ["edges", "node"], typeName: "Article" });
      const conn = await resolveOffsetConnection({ args }, async ({ offset, limit }) => {
        const page = await articlePage(ctx, filters, { offset, limit }, s.id);
        total = page.count;
        return loadInOrder(ctx, page.ids, query);
      });
      return { ...conn, totalCount: total };
    },
  }, {
    fields: (c) => ({
      totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: number }).totalCount }),
    }),
  }),
  article: t.prismaField({
    type: "Article",
    description: "An article of this scenario by its integer id; another scenario's is NOT_FOUND",
    args: { id: t.arg.int({ required: true }) },
    resolve: async (query, s, args, ctx) => {
      const a = await getArticle(ctx, args.id, s.id);
      return ctx.db.article.findUniqueOrThrow({ ...query, where: { id: a.id } });
    },
  }),
  searchArticles: t.field({
    type: SearchResultRef,
    description: "Full-text search of the current working copies (drafts included), ranked by relevance",
    args: {
      query: t.arg.string({ required: true }),
      isCaseInsensitive: t.arg.boolean({ description: "Default true" }),
      withTitleUrlAndTags: t.arg.boolean({ description: "Default true; false searches the content only" }),
      strictSearch: t.arg.boolean({ description: "Default false (any word, prefixes); true: the exact phrase" }),
      numOfDisplayArticles: t.arg.int({ description: "Snippets for this many articles (1–100, default 5)" }),
      numOfDataArticles: t.arg.int({ description: "This many matched articles (1–100, default 15)" }),
    },
    resolve: async (s, a, ctx) => {
      const found = await searchArticles(
        ctx,
        {
          query: a.query,
          is_case_insensitive: a.isCaseInsensitive ?? undefined,
          with_title_url_and_tags: a.withTitleUrlAndTags ?? undefined,
          strict_search: a.strictSearch ?? undefined,
          num_of_display_articles: a.numOfDisplayArticles ?? undefined,
          num_of_data_articles: a.numOfDataArticles ?? undefined,
        },
        s.id,
      );
      return { snippets: found.snippets, ids: found.articles.map((r) => r.id) };
    },
  }),
  tags: t.stringList({
    description: "The distinct tags of the scenario's articles, sorted",
    resolve: (s, _a, ctx) => listTags(ctx, s.id),
  }),
}));

const CreateArticleInput = builder.inputType("CreateArticleInput", {
  fields: (t) => ({
    content: t.string({ required: true }),
    title: t.string(),
    type: t.field({ type: ArticleTypeEnum, description: "Article (default) or Paragraph; URL articles come from imports" }),
    tags: t.stringList(),
  }),
});
const UpdateArticleInput = builder.inputType("UpdateArticleInput", {
  fields: (t) => ({
    content: t.string(),
    title: t.string(),
    tags: t.stringList(),
    saveMode: t.field({ type: SaveModeEnum, description: "DRAFT (default) keeps the published version in force; PUBLISH makes a new version" }),
  }),
});

/** Omits absent (undefined) keys only: an explicit null reaches the service, whose schema answers it (422), as on REST. */
const given = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
const reload = (ctx: GraphQLContext, query: object, id: number) => ctx.db.article.findUniqueOrThrow({ ...query, where: { id } });

builder.mutationFields((t) => ({
  createArticle: t.prismaField({
    type: "Article",
    description: "Creates an article as a draft. Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), input: t.arg({ type: CreateArticleInput, required: true }) },
    resolve: async (query, _r, { scenarioId, input }, ctx) => reload(ctx, query, (await createArticle(ctx, given(input), String(scenarioId))).id),
  }),
  updateArticle: t.prismaField({
    type: "Article",
    description: "Saves the working copy as a draft, or publishes it (saveMode PUBLISH) as a new version.",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), id: t.arg.int({ required: true }), input: t.arg({ type: UpdateArticleInput, required: true }) },
    resolve: async (query, _r, { scenarioId, id, input }, ctx) => {
      const { saveMode, ...rest } = given(input) as { saveMode?: string | null };
      const row = await updateArticle(ctx, id, { ...rest, ...(saveMode !== undefined ? { save_mode: saveMode } : {}) }, String(scenarioId));
      return reload(ctx, query, row.id);
    },
  }),
  publishArticle: t.prismaField({
    type: "Article",
    description: "Publishes the working copy as the next version",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), id: t.arg.int({ required: true }) },
    resolve: async (query, _r, { scenarioId, id }, ctx) => reload(ctx, query, (await publishArticle(ctx, id, String(scenarioId))).id),
  }),
  restoreArticleVersion: t.prismaField({
    type: "Article",
    description: "Copies a published version's text into the working copy as a new draft",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), articleId: t.arg.int({ required: true }), version: t.arg.int({ required: true }) },
    resolve: async (query, _r, { scenarioId, articleId, version }, ctx) =>
      reload(ctx, query, (await restoreArticleVersion(ctx, articleId, version, String(scenarioId))).id),
  }),
  deleteArticles: t.intList({
    description: "Deletes the listed articles, or none when any is not the scenario's (NOT_FOUND); answers the ids",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), ids: t.arg.intList({ required: true }) },
    resolve: (_r, { scenarioId, ids }, ctx) => deleteArticles(ctx, ids, String(scenarioId)),
  }),
  setArticleLanguageUrl: t.prismaField({
    type: "ArticleLangUrl",
    description: "Creates or replaces an article's URL for a language",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      articleId: t.arg.int({ required: true }),
      language: t.arg.string({ required: true }),
      url: t.arg.string({ required: true }),
    },
    resolve: (query, _r, a, ctx) =>
      setLanguageUrl(ctx, a.articleId, a.language, { url: a.url }, String(a.scenarioId)).then((row) =>
        ctx.db.articleLangUrl.findUniqueOrThrow({ ...query, where: { articleId_language: { articleId: row.articleId, language: row.language } } }),
      ),
  }),
  deleteArticleLanguageUrl: t.boolean({
    description: "Deletes an article's URL for a language (NOT_FOUND when there is none)",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), articleId: t.arg.int({ required: true }), language: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await deleteLanguageUrl(ctx, a.articleId, a.language, String(a.scenarioId));
      return true;
    },
  }),
}));
