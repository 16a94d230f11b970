import { z } from "zod";
import {
  DeleteImportedLinksInput,
  LinkListImportInput,
  SitemapImportInput,
  WebsiteImportInput,
  deleteImportedLinks,
  startLinkListImport,
  startSitemapImport,
  startWebsiteImport,
} from "../../services/kb-web-imports.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

// Import External Content: website, sitemap and link-list imports (202: they go on as an import
// job), and removing imported pages. Beyond the documented bodies, each 202 carries "import_id":
// the import to follow in GraphQL (knowledgeImport, knowledgeImportProgress).

const auth = ["scenario_token"] as const;
const BASE = "/v1/api/knowledge_base/import_external";
const heavy = quickchatLimit("quickchatHeavy");
const conflict = { 409: { description: "CONFLICT: an import with this toast_process_uuid exists", schema: quickchatErrorResponses[400].schema } };
const importId = z.string().describe("The import job's id (GraphQL knowledgeImport(id:)); not in the Quickchat contract");

const WebsiteAccepted = z.object({
  status: z.literal("success"),
  url: z.string().describe("The URL as it will be imported (normalised)"),
  article: z.object({}).describe("Empty: the page is imported in the background"),
  import_id: importId,
});
const LinksAccepted = z.object({
  status: z.literal("success"),
  links: z.array(z.string()).describe("The links that will be imported (normalised, deduplicated)"),
  import_id: importId,
});
const Deleted = z.object({
  status: z.literal("success"),
  deleted: z.array(z.string()).describe("The links whose URL articles were removed, as sent"),
  not_found: z.array(z.string()).describe("The links with no URL article in the scenario, as sent"),
});

export const importRoutes: RouteDef[] = [
  {
    method: "POST",
    path: `${BASE}/website`,
    summary:
      "Import a web page (individual), a page with a summary in its description (individual_with_summary), or a site " +
      "(site_wide: same-site links from the page, within IMPORT_MAX_PAGES and IMPORT_MAX_DEPTH, honouring robots.txt). " +
      "phrases keep the paragraphs that mention any of them (the whole page when none does); html_selector picks the content. " +
      "Answers 202 with import_id, the import job to follow",
    auth,
    rateLimit: heavy,
    body: WebsiteImportInput,
    responses: { 202: { description: "Accepted: the import runs in the background", schema: WebsiteAccepted }, ...conflict, ...quickchatErrorResponses },
    handler: async (ctx, req, reply) => reply.status(202).send(await startWebsiteImport(ctx, req.body)),
  },
  {
    method: "POST",
    path: `${BASE}/site-map`,
    summary:
      "Import the pages an XML sitemap lists (indexes followed), those matching link_filter_regex (RE2 syntax, searched " +
      "anywhere in the URL), at most IMPORT_MAX_LINKS. The sitemap is read before the answer; an unreadable one is a 422. " +
      "Answers 202 with the links and import_id",
    auth,
    rateLimit: heavy,
    body: SitemapImportInput,
    responses: { 202: { description: "Accepted: the links are imported in the background", schema: LinksAccepted }, ...conflict, ...quickchatErrorResponses },
    handler: async (ctx, req, reply) => reply.status(202).send(await startSitemapImport(ctx, req.body)),
  },
  {
    method: "POST",
    path: `${BASE}/scrape-list`,
    summary: "Import a list of web pages (tags applied to their articles). Answers 202 with the links and import_id",
    auth,
    rateLimit: heavy,
    body: LinkListImportInput,
    responses: { 202: { description: "Accepted: the links are imported in the background", schema: LinksAccepted }, ...conflict, ...quickchatErrorResponses },
    handler: async (ctx, req, reply) => reply.status(202).send(await startLinkListImport(ctx, req.body)),
  },
  {
    method: "DELETE",
    path: BASE,
    summary: "Remove the URL articles imported from these links; links without one are reported in not_found",
    auth,
    rateLimit: heavy,
    body: DeleteImportedLinksInput,
    responses: { 200: { description: "Removed", schema: Deleted }, ...quickchatErrorResponses },
    handler: (ctx, req) => deleteImportedLinks(ctx, req.body),
  },
];
