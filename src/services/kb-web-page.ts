import { htmlToText } from "./html-text.ts";
import { ImportItemError, type DiscoveredItem, type ImportedArticle, type ImportRun } from "./kb-import-types.ts";
import { normalizeSourceUrl } from "./kb-import-urls.ts";
import type { RobotsCache } from "./kb-robots.ts";
import { summarize } from "./kb-summary.ts";
import { fetchDocument } from "./kb-web-fetch.ts";

// One web page → one URL article: fetched through the guard, its text extracted (html_selector),
// narrowed to the paragraphs that mention the phrases, summarised when asked. A site-wide crawl
// also checks robots.txt first and hands back the page's links on the same site.

export interface PageOptions {
  selector: string | null;
  phrases: string[];
  summarize: boolean;
  tags?: string[];
  /** Site-wide crawls only. */
  crawl?: { robots: RobotsCache; site: string; maxDepth: number };
}

export type PageResult = { article: ImportedArticle; discovered?: DiscoveredItem[] } | { skipped: string };

// Links to these are not pages: a crawl does not queue them.
const NOT_PAGES = new Set(
  (
    "pdf png jpg jpeg gif webp svg ico bmp tif tiff avif zip gz tgz tar rar 7z bz2 xz mp3 mp4 m4a m4v avi mov wmv webm ogg ogv " +
    "wav flac doc docx xls xlsx ppt pptx odt ods odp rtf exe msi dmg iso apk bin css js mjs json xml rss atom woff woff2 ttf otf eot csv ics"
  ).split(" "),
);

/**
 * Which site a URL belongs to, for "same site" in a crawl: the host without a leading "www." and
 * the port, not the scheme — so a start page that redirects http → https, or example.com →
 * www.example.com, still crawls its own links.
 */
export function siteOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname.replace(/^www\./, "")}:${u.port}`;
}

/** Whether a link looks like a page (by its path's extension). */
export function looksLikePage(url: URL): boolean {
  const last = url.pathname.split("/").pop() ?? "";
  const dot = last.lastIndexOf(".");
  return dot < 0 || !NOT_PAGES.has(last.slice(dot + 1).toLowerCase());
}

/**
 * phrases narrow the content to the paragraphs that mention any of them (case-insensitive). When no
 * paragraph does, the whole page is kept: an import that asked for phrases still gets the page
 * rather than an empty article.
 */
export function keepPhraseParagraphs(text: string, phrases: string[]): string {
  const wanted = phrases.map((p) => p.trim().toLowerCase()).filter(Boolean);
  if (!wanted.length) return text;
  const paragraphs = text.split(/\n\s*\n/);
  const kept = paragraphs.filter((p) => {
    const lower = p.toLowerCase();
    return wanted.some((w) => lower.includes(w));
  });
  return kept.length ? kept.join("\n\n") : text;
}

/** The links of a crawled page worth queueing: same site, http(s), pages, not the page itself. */
export function siteLinks(links: string[], site: string, self: string, depth: number, max: number): DiscoveredItem[] {
  const out = new Map<string, DiscoveredItem>();
  for (const link of links) {
    if (out.size >= max) break;
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      continue;
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) continue;
    if (siteOf(url.toString()) !== site || !looksLikePage(url)) continue;
    const target = normalizeSourceUrl(url.toString());
    if (target !== self) out.set(target, { target, depth });
  }
  return [...out.values()];
}

function plainText(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .join("\n\n");
}

function titleFromUrl(url: string): string {
  const u = new URL(url);
  const last = decodeURIComponent(u.pathname.split("/").filter(Boolean).pop() ?? "");
  return last ? `${u.hostname} – ${last}` : u.hostname;
}

/** Imports item.target as a URL article, or says why it is skipped; throws ImportItemError when it fails. */
export async function importPage(run: ImportRun, item: { target: string; depth: number }, options: PageOptions): Promise<PageResult> {
  const { crawl } = options;
  if (crawl) {
    const refusal = await crawl.robots.refusal(item.target);
    if (refusal) return { skipped: refusal };
    await crawl.robots.pace(item.target);
  }
  const doc = await fetchDocument(run.runtime, run.config, item.target, "page", { signal: run.signal });
  if (crawl && siteOf(doc.url) !== crawl.site) return { skipped: `redirected off the site, to ${doc.url}` };

  const extracted = doc.html
    ? htmlToText(doc.text, { selector: options.selector, baseUrl: doc.url })
    : { title: "", text: plainText(doc.text), links: [] as string[] };
  if (!extracted.text.trim()) {
    throw new ImportItemError(options.selector ? `nothing on the page matches html_selector "${options.selector}"` : "the page has no text");
  }
  const content = keepPhraseParagraphs(extracted.text, options.phrases);
  if (content.length > run.config.maxTextChars) {
    throw new ImportItemError(`the page's text is ${content.length} characters, more than ${run.config.maxTextChars} (KB_UPLOAD_MAX_TEXT_CHARS)`);
  }
  const title = extracted.title.slice(0, 1000) || titleFromUrl(item.target);
  const article: ImportedArticle = { type: "URL", url: item.target, title, content };
  if (options.summarize) article.description = await summarize(run.runtime, content, { title, signal: run.signal });
  if (options.tags?.length) article.tags = options.tags;

  if (!crawl || item.depth >= crawl.maxDepth) return { article };
  // Links come from the whole page (navigation included), not only from the selected content.
  const discovered = siteLinks(extracted.links, crawl.site, item.target, item.depth + 1, run.config.maxPages);
  return { article, discovered };
}
