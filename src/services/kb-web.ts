import { z } from "zod";
import type { ImportProcessor, ImportRun } from "./kb-import-types.ts";
import { RobotsCache } from "./kb-robots.ts";
import { importPage, siteOf, type PageOptions } from "./kb-web-page.ts";

// The processors of web imports: website (one page, or a site-wide crawl), sitemap and link list.
// Each item is one URL; the routes (kb-web-imports.ts) validated everything and stored the params.

export const WEBSITE_MODES = ["individual", "site_wide", "individual_with_summary"] as const;
export type WebsiteMode = (typeof WEBSITE_MODES)[number];

/** The params of each kind, as the routes store them. */
export const WebsiteParams = z.object({
  url: z.string(),
  mode: z.enum(WEBSITE_MODES).default("individual"),
  phrases: z.array(z.string()).default([]),
  html_selector: z.string().nullish(),
});
export const SitemapParams = z.object({
  site_map: z.string(),
  link_filter_regex: z.string().default(".*"),
  html_selector: z.string().nullish(),
  summarize: z.boolean().default(false),
});
export const LinksParams = z.object({
  links: z.array(z.string()),
  tags: z.array(z.string()).default([]),
  html_selector: z.string().nullish(),
  summarize: z.boolean().default(false),
});

/** Stored params that no longer parse fail the import (start throws) with the reason. */
function params<S extends z.ZodType>(schema: S, run: ImportRun): z.output<S> {
  const parsed = schema.safeParse(run.params);
  if (!parsed.success) throw new Error(`the import's parameters are invalid: ${parsed.error.issues[0]?.message ?? "unknown"}`);
  return parsed.data;
}

export const websiteProcessor: ImportProcessor<PageOptions> = {
  async start(run) {
    const p = params(WebsiteParams, run);
    const options: PageOptions = {
      selector: p.html_selector ?? null,
      phrases: p.phrases,
      summarize: p.mode === "individual_with_summary",
    };
    if (p.mode === "site_wide") {
      // One robots.txt per origin per run: a restarted run reads it again.
      options.crawl = { robots: new RobotsCache(run.runtime, run.config, run.signal), site: siteOf(p.url), maxDepth: run.config.maxDepth };
    }
    return options;
  },
  item: (run, item, options) => importPage(run, item, options),
};

export const sitemapProcessor: ImportProcessor<PageOptions> = {
  async start(run) {
    const p = params(SitemapParams, run);
    return { selector: p.html_selector ?? null, phrases: [], summarize: p.summarize };
  },
  item: (run, item, options) => importPage(run, item, options),
};

export const linksProcessor: ImportProcessor<PageOptions> = {
  async start(run) {
    const p = params(LinksParams, run);
    return { selector: p.html_selector ?? null, phrases: [], summarize: p.summarize, tags: p.tags };
  },
  item: (run, item, options) => importPage(run, item, options),
};
