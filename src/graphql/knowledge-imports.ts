import { builder } from "./builder.ts";
import { cancelImport, getImport, importProgress, importsScope } from "../services/kb-imports.ts";
import { IMPORT_STATUSES, ITEM_STATUSES } from "../services/kb-import-types.ts";
import { deleteImportedLinks, startLinkListImport, startSitemapImport, startWebsiteImport } from "../services/kb-web-imports.ts";
import { WEBSITE_MODES } from "../services/kb-web.ts";
import { startYoutubeImport } from "../services/kb-youtube-import.ts";
import { deleteIntercomArticles, refreshIntercomArticles, startIntercomImport } from "../services/kb-intercom-articles.ts";

// Knowledge-base imports (websites, sitemaps, link lists, YouTube, Intercom): each one's progress,
// counts and per-page errors, live. REST starts them (/v1/api/knowledge_base/import_external/…).

builder.prismaObject("KnowledgeImportItem", {
  description: "One page, video or Intercom article of an import, and what became of it",
  fields: (t) => ({
    id: t.exposeID("id"),
    target: t.exposeString("target", { description: "The normalised URL (or the Intercom article id)" }),
    depth: t.exposeInt("depth", { description: "Links from the start page (site-wide crawls)" }),
    status: t.exposeString("status", { description: `${ITEM_STATUSES.join(" | ")}` }),
    error: t.exposeString("error", { nullable: true, description: "Why it failed, or why it was skipped" }),
    articleId: t.exposeInt("articleId", { nullable: true, description: "The article it created or updated" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.prismaObject("KnowledgeImport", {
  description:
    "A knowledge-base import: a durable job over its items (queued → running → completed | failed | cancelled). " +
    "A failing page doesn't fail the import; an import fails when nothing could be imported.",
  fields: (t) => ({
    id: t.exposeID("id"),
    handle: t.exposeString("handle", { nullable: true, description: "The caller's toast_process_uuid, when one was given" }),
    scenarioId: t.exposeID("scenarioId"),
    kind: t.exposeString("kind", { description: "website | sitemap | links | youtube | intercom_import | intercom_refresh" }),
    status: t.exposeString("status", { description: IMPORT_STATUSES.join(" | ") }),
    params: t.expose("params", { type: "JSON", description: "The request as accepted" }),
    total: t.exposeInt("total", { description: "Items known so far (a site-wide crawl discovers more as it goes)" }),
    processed: t.exposeInt("processed"),
    created: t.exposeInt("created"),
    updated: t.exposeInt("updated"),
    unchanged: t.exposeInt("unchanged"),
    failed: t.exposeInt("failed"),
    skipped: t.exposeInt("skipped", { description: "Left out on purpose (robots.txt, not HTML…)" }),
    error: t.exposeString("error", { nullable: true, description: "Why the whole import failed" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    items: t.relatedConnection("items", {
      cursor: "id",
      description: "Its items in the order they were found; status filters (e.g. failed for the per-page errors)",
      args: { status: t.arg.string() },
      query: (args) => ({ where: args.status ? { status: args.status } : {}, orderBy: { id: "asc" } }),
      totalCount: true,
    }),
  }),
});


builder.queryFields((t) => ({
  knowledgeImports: t.prismaConnection({
    type: "KnowledgeImport",
    cursor: "id",
    description: "A scenario's imports, newest first",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), status: t.arg.string({ description: IMPORT_STATUSES.join(" | ") }) },
    totalCount: async (_r, args, ctx) => ctx.db.knowledgeImport.count({ where: await importsScope(ctx, String(args.scenarioId), args.status) }),
    resolve: async (query, _r, args, ctx) =>
      ctx.db.knowledgeImport.findMany({ ...query, where: await importsScope(ctx, String(args.scenarioId), args.status), orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
  }),
  knowledgeImport: t.prismaField({
    type: "KnowledgeImport",
    description: "One import, by its id or by the toast_process_uuid it was started with",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const row = await getImport(ctx, String(args.id));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
}));

const WebsiteMode = builder.enumType("WebsiteImportMode", {
  description: "individual: the page; site_wide: the page and the same-site pages it links to (robots.txt honoured); individual_with_summary: the page with a summary",
  values: WEBSITE_MODES,
});

const DeletedLinksRef = builder.objectRef<{ deleted: string[]; notFound: string[] }>("DeletedImportedLinks").implement({
  fields: (t) => ({
    deleted: t.exposeStringList("deleted", { description: "Links whose URL articles were removed" }),
    notFound: t.exposeStringList("notFound", { description: "Links with no URL article (reported, not an error)" }),
  }),
});

/** Drops the arguments GraphQL got as null, so the REST defaults apply. */
const given = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

builder.mutationFields((t) => ({
  importWebsite: t.prismaField({
    type: "KnowledgeImport",
    description: "Imports a web page, or a site (mode site_wide), as URL articles, in the background (as POST import_external/website)",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      url: t.arg.string({ required: true }),
      mode: t.arg({ type: WebsiteMode }),
      phrases: t.arg.stringList({ description: "Keep only the paragraphs mentioning one of them (the whole page when none does)" }),
      htmlSelector: t.arg.string({ description: "CSS selector of the content" }),
      handle: t.arg.string({ description: "A UUID v4 to find the import by (toast_process_uuid)" }),
    },
    resolve: async (query, _r, a, ctx) => {
      const body = given({ url: a.url, mode: a.mode, phrases: a.phrases, html_selector: a.htmlSelector, toast_process_uuid: a.handle });
      const { import_id } = await startWebsiteImport(ctx, body, String(a.scenarioId));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: import_id } });
    },
  }),
  importSitemap: t.prismaField({
    type: "KnowledgeImport",
    description: "Imports the pages an XML sitemap lists (filtered by an RE2 regex) as URL articles (as POST import_external/site-map)",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      siteMap: t.arg.string({ required: true }),
      linkFilterRegex: t.arg.string(),
      htmlSelector: t.arg.string(),
      summarize: t.arg.boolean(),
      handle: t.arg.string(),
    },
    resolve: async (query, _r, a, ctx) => {
      const body = given({ site_map: a.siteMap, link_filter_regex: a.linkFilterRegex, html_selector: a.htmlSelector, summarize: a.summarize, toast_process_uuid: a.handle });
      const { import_id } = await startSitemapImport(ctx, body, String(a.scenarioId));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: import_id } });
    },
  }),
  importLinks: t.prismaField({
    type: "KnowledgeImport",
    description: "Imports a list of pages as URL articles (as POST import_external/scrape-list)",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      links: t.arg.stringList({ required: true }),
      tags: t.arg.stringList(),
      htmlSelector: t.arg.string(),
      summarize: t.arg.boolean(),
      handle: t.arg.string(),
    },
    resolve: async (query, _r, a, ctx) => {
      const body = given({ links: a.links, tags: a.tags, html_selector: a.htmlSelector, summarize: a.summarize, toast_process_uuid: a.handle });
      const { import_id } = await startLinkListImport(ctx, body, String(a.scenarioId));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: import_id } });
    },
  }),
  importYoutubeTranscript: t.prismaField({
    type: "KnowledgeImport",
    description: "Imports a YouTube video's transcript as a URL article (as POST import_external/youtube)",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      url: t.arg.string({ required: true }),
      handle: t.arg.string({ required: true, description: "A UUID v4 (toast_process_uuid)" }),
    },
    resolve: async (query, _r, a, ctx) => {
      const { import_id } = await startYoutubeImport(ctx, { url: a.url, toast_process_uuid: a.handle }, String(a.scenarioId));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: import_id } });
    },
  }),
  importIntercomArticles: t.prismaField({
    type: "KnowledgeImport",
    description: "Imports the workspace's published Intercom Help Center articles (connectIntercom first); answers the import at once",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    resolve: async (query, _r, a, ctx) => {
      const row = await startIntercomImport(ctx, String(a.scenarioId));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  refreshIntercomArticles: t.prismaField({
    type: "KnowledgeImport",
    description: "Re-fetches Intercom articles (the listed ones, else all); with fetchNewArticles (default) also imports new ones",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), articleIds: t.arg.intList(), fetchNewArticles: t.arg.boolean() },
    resolve: async (query, _r, a, ctx) => {
      const body = given({ article_ids: a.articleIds, fetch_new_articles: a.fetchNewArticles });
      const { importId } = await refreshIntercomArticles(ctx, body, String(a.scenarioId));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: importId } });
    },
  }),
  deleteIntercomArticles: t.intList({
    description: "Removes every Intercom-sourced article of the scenario; answers their ids",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }) },
    resolve: (_r, a, ctx) => deleteIntercomArticles(ctx, String(a.scenarioId)),
  }),
  deleteImportedLinks: t.field({
    type: DeletedLinksRef,
    description: "Removes the URL articles of these links (as DELETE import_external)",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), links: t.arg.stringList({ required: true }) },
    resolve: async (_r, a, ctx) => {
      const r = await deleteImportedLinks(ctx, { links: a.links }, String(a.scenarioId));
      return { deleted: r.deleted, notFound: r.not_found };
    },
  }),
  cancelKnowledgeImport: t.prismaField({
    type: "KnowledgeImport",
    description: "Stops an import; what it imported stays. A finished import is returned as it is.",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _r, args, ctx) => {
      const row = await cancelImport(ctx, String(args.id));
      return ctx.db.knowledgeImport.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
}));

builder.subscriptionField("knowledgeImportProgress", (t) =>
  t.prismaField({
    type: "KnowledgeImport",
    description: "An import as it is now, then after every change, ending when it has finished",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_r, args, ctx) => importProgress(ctx, String(args.id)),
    resolve: (_query, row) => row,
  }),
);
