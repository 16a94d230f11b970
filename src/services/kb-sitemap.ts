import { load } from "cheerio";
import type { ImportConfig } from "../config.ts";
import type { Runtime } from "./context.ts";
import { ImportItemError } from "./kb-import-types.ts";
import { normalizeSourceUrl } from "./kb-import-urls.ts";
import { fetchDocument } from "./kb-web-fetch.ts";

// XML sitemaps (sitemaps.org): a <urlset> of <url><loc>, or a <sitemapindex> of <sitemap><loc>
// pointing at more sitemaps. Read while the import request waits, so everything is bounded: how
// deep indexes nest, how many sitemaps are read, how many links are kept, and the total time.
// cheerio's XML mode (htmlparser2) knows no DTDs or external entities: nothing to expand or fetch.

/** An index inside an index inside the sitemap given: deeper nesting is not followed. */
export const MAX_SITEMAP_DEPTH = 2;
/** Sitemaps read for one request (the one given plus those its indexes list). */
export const MAX_SITEMAPS = 25;
const MAX_URL_LENGTH = 2048;

export interface ParsedSitemap {
  kind: "urlset" | "sitemapindex";
  /** The <loc> values, trimmed, in document order. */
  locs: string[];
}

/** Parses one sitemap document; throws ImportItemError when it is not one. */
export function parseSitemap(xml: string): ParsedSitemap {
  const $ = load(xml, { xml: true });
  const root = $.root().children().filter((_, el) => el.type === "tag").first();
  const name = root.length ? (root.prop("tagName") ?? "").toLowerCase() : "";
  if (name !== "urlset" && name !== "sitemapindex") {
    throw new ImportItemError(name ? `not an XML sitemap (the root element is <${name}>)` : "not an XML sitemap");
  }
  const entry = name === "urlset" ? "url" : "sitemap";
  const locs = root
    .children(entry)
    .map((_, el) => $(el).children("loc").first().text().trim())
    .get()
    .filter((loc: string) => loc.length > 0);
  return { kind: name, locs };
}

/** A sitemap's <loc> as a URL to import, or null when it is not a usable http(s) URL. */
export function sitemapLink(loc: string): string | null {
  if (loc.length > MAX_URL_LENGTH) return null;
  try {
    const url = new URL(loc);
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) return null;
    return normalizeSourceUrl(url.toString());
  } catch {
    return null;
  }
}

export interface SitemapLinks {
  links: string[];
  /** Sitemaps read (the one given included). */
  sitemaps: number;
  /** More links matched than were kept (maxLinks), or indexes nested or listed beyond the bounds. */
  truncated: boolean;
}

export interface CollectOptions {
  /** Which links to keep (the link_filter_regex), given the normalised URL. */
  keep: (url: string) => boolean;
  maxLinks: number;
  /** The whole read, every sitemap included. */
  deadlineMs: number;
  signal?: AbortSignal;
}

/**
 * The links of a sitemap, following sitemap indexes breadth-first within the bounds, deduplicated
 * and filtered. Throws ImportItemError with the reason when a sitemap cannot be read or parsed
 * (naming it when it is not the one given), or when the deadline passes.
 */
export async function collectSitemapLinks(
  runtime: Pick<Runtime, "outbound">,
  config: ImportConfig,
  sitemapUrl: string,
  options: CollectOptions,
): Promise<SitemapLinks> {
  const deadline = AbortSignal.timeout(options.deadlineMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const links = new Set<string>();
  const seen = new Set<string>([sitemapUrl]);
  const queue: { url: string; depth: number }[] = [{ url: sitemapUrl, depth: 0 }];
  let read = 0;
  let truncated = false;
  while (queue.length && links.size < options.maxLinks) {
    const { url, depth } = queue.shift()!;
    if (read >= MAX_SITEMAPS) {
      truncated = true;
      break;
    }
    read++;
    const where = url === sitemapUrl ? "" : `the sitemap ${url} (listed in an index): `;
    let parsed: ParsedSitemap;
    try {
      const doc = await fetchDocument(runtime, config, url, "sitemap", { signal });
      parsed = parseSitemap(doc.text);
    } catch (err) {
      if (deadline.aborted) throw new ImportItemError(`reading the sitemap took longer than ${options.deadlineMs} ms`);
      if (options.signal?.aborted) throw err;
      throw new ImportItemError(`${where}${(err as Error).message}`);
    }
    if (parsed.kind === "sitemapindex") {
      for (const loc of parsed.locs) {
        const child = sitemapLink(loc);
        if (!child || seen.has(child)) continue;
        seen.add(child);
        if (depth + 1 > MAX_SITEMAP_DEPTH) truncated = true;
        else queue.push({ url: child, depth: depth + 1 });
      }
      continue;
    }
    for (const loc of parsed.locs) {
      const link = sitemapLink(loc);
      if (!link || links.has(link) || !options.keep(link)) continue;
      if (links.size >= options.maxLinks) {
        truncated = true;
        break;
      }
      links.add(link);
    }
  }
  if (queue.length) truncated = true;
  return { links: [...links], sitemaps: read, truncated };
}
