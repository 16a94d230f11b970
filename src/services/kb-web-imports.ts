import { RE2JS } from "re2js";
import { z } from "zod";
import { validationError } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import { changeArticles } from "./articles.ts";
import type { ServiceContext } from "./context.ts";
import { checkSelector } from "./html-text.ts";
import { ImportItemError } from "./kb-import-types.ts";
import { checkImportUrl, normalizeSourceUrl, parseImportUrl } from "./kb-import-urls.ts";
import { startImport } from "./kb-imports.ts";
import { collectSitemapLinks } from "./kb-sitemap.ts";
import { WEBSITE_MODES } from "./kb-web.ts";
import { parseInput } from "./validation.ts";

// The web-import requests (import_external/website, site-map, scrape-list) and the removal of
// imported pages (DELETE import_external). Everything the caller sent is checked before anything
// starts — each URL against the outbound policy, the selector, the regex — and a sitemap is read
// while the request waits (through the guard, bounded), so the answer lists the links for real.

const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`),
});
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** Not in the contract for these routes, but accepted as on import_external/youtube: the import's handle. */
const Handle = z.string(required("a UUID v4")).regex(UUID_V4, "must be a UUID v4").optional();
const Selector = z.string(required("a CSS selector")).max(500, "must be at most 500 characters").nullish();
const Tag = z
  .string()
  .trim()
  .min(1, "each tag must not be empty")
  .max(100, "each tag must be at most 100 characters")
  .refine((t) => !t.includes(","), "a tag must not contain a comma");
const UrlString = z.string(required("a URL")).max(2048, "must be at most 2048 characters");

export const WebsiteImportInput = z
  .object({
    url: UrlString,
    mode: z.enum(WEBSITE_MODES, { error: `must be one of ${WEBSITE_MODES.join(", ")}` }).default("individual"),
    phrases: z.array(z.string().trim().min(1, "each phrase must not be empty").max(200, "each phrase must be at most 200 characters")).max(50).default([]),
    html_selector: Selector,
    toast_process_uuid: Handle,
  })
  .strict();

export const SitemapImportInput = z
  .object({
    site_map: UrlString,
    link_filter_regex: z.string(required("a regular expression")).max(1000, "must be at most 1000 characters").default(".*"),
    html_selector: Selector,
    summarize: z.boolean(required("a boolean")).default(false),
    toast_process_uuid: Handle,
  })
  .strict();

export const LinkListImportInput = z
  .object({
    links: z.array(UrlString, required("an array of URLs")).min(1, "must list at least one URL"),
    tags: z.array(Tag).max(100).default([]),
    html_selector: Selector,
    summarize: z.boolean(required("a boolean")).default(false),
    toast_process_uuid: Handle,
  })
  .strict();

export const DeleteImportedLinksInput = z
  .object({ links: z.array(UrlString, required("an array of URLs")).min(1, "must list at least one URL").max(1000, "must list at most 1000 URLs") })
  .strict();

export interface WebsiteImportAccepted {
  status: "success";
  url: string;
  article: Record<string, never>;
  import_id: string;
}
export interface LinksImportAccepted {
  status: "success";
  links: string[];
  import_id: string;
}
export interface DeletedLinks {
  status: "success";
  deleted: string[];
  not_found: string[];
}

/** An empty selector means none; anything else must parse. */
function selectorOf(raw: string | null | undefined): string | null {
  return raw?.trim() ? checkSelector(raw, "html_selector") : null;
}

/**
 * Each URL checked (policy included), a few DNS lookups at a time. When several are refused, the
 * answer names the first in the list, whichever lookup finished first.
 */
async function checkUrls(ctx: ServiceContext, raws: string[], field: string): Promise<string[]> {
  const out: string[] = new Array(raws.length);
  const failures: { index: number; err: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < raws.length) {
      const i = next++;
      try {
        out[i] = await checkImportUrl(ctx, raws[i], `${field}.${i}`);
      } catch (err) {
        failures.push({ index: i, err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, raws.length) }, worker));
  if (failures.length) throw failures.sort((a, b) => a.index - b.index)[0]!.err;
  return [...new Set(out)];
}

export async function startWebsiteImport(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<WebsiteImportAccepted> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const body = parseInput(WebsiteImportInput, input ?? {});
  const selector = selectorOf(body.html_selector);
  const url = await checkImportUrl(ctx, body.url, "url");
  const row = await startImport(ctx, {
    scenarioId,
    kind: "website",
    params: { url, mode: body.mode, phrases: body.phrases, html_selector: selector },
    handle: body.toast_process_uuid?.toLowerCase(),
    items: [{ target: url, depth: 0 }],
  });
  return { status: "success", url, article: {}, import_id: row.id };
}

/** The link filter on RE2: linear time whatever the pattern, so it cannot hang the server. */
function linkFilter(pattern: string): (url: string) => boolean {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    throw validationError(`link_filter_regex is not a valid regular expression (RE2 syntax): ${(err as Error).message}`, "link_filter_regex");
  }
  // Searched anywhere in the URL, as re.search does: "/docs/" keeps every docs page.
  return (url) => re.test(url);
}

export async function startSitemapImport(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<LinksImportAccepted> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const body = parseInput(SitemapImportInput, input ?? {});
  const selector = selectorOf(body.html_selector);
  const keep = linkFilter(body.link_filter_regex);
  const siteMap = await checkImportUrl(ctx, body.site_map, "site_map");
  let found;
  try {
    found = await collectSitemapLinks(ctx, ctx.imports, siteMap, {
      keep,
      maxLinks: ctx.imports.maxLinks,
      deadlineMs: 2 * ctx.imports.fetchTimeoutMs,
    });
  } catch (err) {
    if (err instanceof ImportItemError) throw validationError(`site_map: ${err.message}`, "site_map");
    throw err;
  }
  if (!found.links.length) {
    throw validationError("site_map: no links to import (the sitemap lists none, or none matches link_filter_regex)", "site_map");
  }
  const row = await startImport(ctx, {
    scenarioId,
    kind: "sitemap",
    params: {
      site_map: siteMap,
      link_filter_regex: body.link_filter_regex,
      html_selector: selector,
      summarize: body.summarize,
      sitemaps_read: found.sitemaps,
      truncated: found.truncated,
    },
    handle: body.toast_process_uuid?.toLowerCase(),
    items: found.links.map((target) => ({ target, depth: 0 })),
  });
  return { status: "success", links: found.links, import_id: row.id };
}

export async function startLinkListImport(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<LinksImportAccepted> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const body = parseInput(LinkListImportInput, input ?? {});
  if (body.links.length > ctx.imports.maxLinks) {
    throw validationError(`links: at most ${ctx.imports.maxLinks} links per import (IMPORT_MAX_LINKS)`, "links");
  }
  const selector = selectorOf(body.html_selector);
  const links = await checkUrls(ctx, body.links, "links");
  const tags = [...new Set(body.tags)];
  const row = await startImport(ctx, {
    scenarioId,
    kind: "links",
    params: { links, tags, html_selector: selector, summarize: body.summarize },
    handle: body.toast_process_uuid?.toLowerCase(),
    items: links.map((target) => ({ target, depth: 0 })),
  });
  return { status: "success", links, import_id: row.id };
}

/**
 * Removes the scenario's URL articles with these URLs (compared normalised), in one transaction
 * with the retrain mark and an article.deleted event. Links with no such article are reported in
 * not_found, each as the caller wrote it.
 */
export async function deleteImportedLinks(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<DeletedLinks> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const body = parseInput(DeleteImportedLinksInput, input ?? {});
  const wanted = body.links.map((raw, i) => ({ raw, url: normalizeSourceUrl(parseImportUrl(raw, `links.${i}`).toString()) }));
  const urls = [...new Set(wanted.map((w) => w.url))];
  const existing = await ctx.db.article.findMany({ where: { scenarioId, type: "URL", url: { in: urls } }, select: { id: true, url: true } });
  let gone = new Set<string>();
  if (existing.length) {
    gone = await changeArticles(ctx, scenarioId, async (tx) => {
      // Read again inside the transaction: what another request removed meanwhile is not ours to report.
      const rows = await tx.article.findMany({ where: { scenarioId, type: "URL", url: { in: urls } }, select: { id: true, url: true } });
      const ids = rows.map((r) => r.id);
      await tx.article.deleteMany({ where: { scenarioId, id: { in: ids } } });
      return {
        value: new Set(rows.map((r) => r.url!)),
        type: "article.deleted",
        payload: { articleIds: ids, urls: rows.map((r) => r.url), source: "import_external" },
      };
    });
  }
  return {
    status: "success",
    deleted: wanted.filter((w) => gone.has(w.url)).map((w) => w.raw),
    not_found: wanted.filter((w) => !gone.has(w.url)).map((w) => w.raw),
  };
}
