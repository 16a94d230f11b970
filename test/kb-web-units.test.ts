import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { ImportItemError } from "../src/services/kb-import-types.ts";
import { MAX_CRAWL_DELAY_MS, RobotsCache, parseRobots } from "../src/services/kb-robots.ts";
import { collectSitemapLinks, parseSitemap } from "../src/services/kb-sitemap.ts";
import { SUMMARY_MAX_CHARS, extractiveSummary } from "../src/services/kb-summary.ts";
import { decodeBody, fetchDocument } from "../src/services/kb-web-fetch.ts";
import { keepPhraseParagraphs, looksLikePage, siteLinks, siteOf } from "../src/services/kb-web-page.ts";
import { OutboundGuard, parseAllowlist } from "../src/services/outbound-guard.ts";
import { html, redirect, sitemapIndex, startSiteStub, text, urlset, xml, type SiteStub } from "./helpers/site-stub.ts";

// The pieces of web imports on their own: fetching a page (content types, charsets, errors),
// robots.txt, sitemaps, phrases, same-site links and the extractive summary.

const config = { ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" }).imports, pageMaxBytes: 64 * 1024, fetchTimeoutMs: 5000 };
const runtime = { outbound: new OutboundGuard(parseAllowlist("127.0.0.1")) };
let site: SiteStub;

beforeAll(async () => {
  site = await startSiteStub({
    "/page": html("A page", "<p>Hello</p>"),
    "/latin1": { type: "text/html; charset=windows-1252", body: Buffer.from("<html><body><p>caf\xe9</p></body></html>", "latin1") },
    "/meta": { type: "text/html", body: Buffer.from('<html><head><meta charset="iso-8859-1"></head><body>na\xefve</body></html>', "latin1") },
    "/plain": text("Just text."),
    "/pdf": { type: "application/pdf", body: "%PDF-1.4" },
    "/none": { type: "", body: "<!DOCTYPE html><html><body>no type</body></html>" },
    "/big": { body: "x".repeat(70 * 1024) },
    "/moved": redirect("/page"),
    "/loop": redirect("/loop"),
    "/gone": { status: 404, body: "nope" },
    "/not-sitemap.xml": xml("<rss><channel/></rss>"),
  });
  // The sitemaps name absolute URLs on the stub, whose port is only known now.
  const at = (paths: string[]) => paths.map((p) => (p.startsWith("/") && !p.startsWith("/ignored") ? `${site.url}${p}` : p));
  site.set("/sitemap.xml", urlset(at(["/ignored-relative", "/a", "/b", "/docs/c", "/a#x", "ftp://x/y"])));
  site.set("/index.xml", sitemapIndex(at(["/sitemap.xml", "/sitemap2.xml"])));
  site.set("/sitemap2.xml", urlset(at(["/docs/d", "/b"])));
  site.set("/broken-index.xml", sitemapIndex(at(["/sitemap.xml", "/missing.xml"])));
});
afterAll(async () => {
  await site?.stop();
  await runtime.outbound.close();
});

const fetchPage = (path: string) => fetchDocument(runtime, config, `${site.url}${path}`, "page");
const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ImportItemError);
    return (err as Error).message;
  }
  throw new Error("it did not fail");
};

describe("fetchDocument", () => {
  it("reads an HTML page, decoding the charset from the header or from <meta>", async () => {
    const page = await fetchPage("/page");
    expect(page).toMatchObject({ status: 200, mediaType: "text/html", html: true });
    expect(page.text).toContain("<p>Hello</p>");
    expect((await fetchPage("/latin1")).text).toContain("café");
    expect((await fetchPage("/meta")).text).toContain("naïve");
  });

  it("takes plain text, and a typeless body that opens like HTML", async () => {
    expect(await fetchPage("/plain")).toMatchObject({ html: false, text: "Just text." });
    expect(await fetchPage("/none")).toMatchObject({ html: true });
  });

  it("follows redirects and reports where the content came from", async () => {
    const page = await fetchPage("/moved");
    expect(page.url).toBe(`${site.url}/page`);
    expect(await failure(fetchPage("/loop"))).toMatch(/redirect/i);
  });

  it("fails with a clear reason: error status, not HTML, too large", async () => {
    expect(await failure(fetchPage("/gone"))).toBe("HTTP 404 Not Found");
    expect(await failure(fetchPage("/pdf"))).toBe("not an HTML page (application/pdf)");
    expect(await failure(fetchPage("/big"))).toBe("larger than 64 KiB (IMPORT_PAGE_MAX_BYTES)");
  });

  it("refuses a private address without the allowlist, before any request", async () => {
    const before = site.requests.length;
    const strict = { outbound: new OutboundGuard() };
    expect(await failure(fetchDocument(strict, config, `${site.url}/page`, "page"))).toMatch(/^refused to connect to 127\.0\.0\.1: .*loopback/);
    expect(site.requests.length).toBe(before);
    await strict.outbound.close();
  });

  it("decodes a byte-order mark before any declared charset", () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("é", "utf8")]);
    expect(decodeBody(bom, "iso-8859-1", "html")).toBe("é");
    expect(decodeBody(Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>', "latin1"), null, "xml")).toContain("<a>é</a>");
    expect(decodeBody(Buffer.from("ok"), "no-such-charset", "text")).toBe("ok");
  });
});

describe("robots.txt", () => {
  const rules = parseRobots(
    "https://example.com/robots.txt",
    "User-agent: *\nDisallow: /private\nCrawl-delay: 1\n\nUser-agent: Parley\nDisallow: /no-parley\nCrawl-delay: 600\n",
  );

  it("uses the group for our agent when there is one (and only that group)", () => {
    expect(rules.allowed("https://example.com/no-parley/x")).toBe(false);
    expect(rules.allowed("https://example.com/private/x")).toBe(true);
    expect(rules.allowed("https://example.com/docs")).toBe(true);
  });

  it("bounds the Crawl-delay", () => {
    expect(rules.delayMs).toBe(MAX_CRAWL_DELAY_MS);
    expect(parseRobots("https://e.com/robots.txt", "User-agent: *\nCrawl-delay: 0.01\n").delayMs).toBe(10);
  });

  it("reads robots.txt once per origin; a missing one allows all, a failing one closes the site", async () => {
    const robotsSite = await startSiteStub({ "/robots.txt": text("User-agent: *\nDisallow: /secret\n") });
    const failing = await startSiteStub({ "/robots.txt": { status: 503, body: "down" } });
    try {
      const cache = new RobotsCache(runtime, config);
      expect(await cache.refusal(`${robotsSite.url}/secret/page`)).toBe("disallowed by robots.txt");
      expect(await cache.refusal(`${robotsSite.url}/open`)).toBeNull();
      expect(robotsSite.hits("/robots.txt")).toBe(1);
      expect(await cache.refusal(`${site.url}/anything`)).toBeNull(); // the main stub answers 404
      expect(await cache.refusal(`${failing.url}/x`)).toMatch(/^robots\.txt could not be read \(HTTP 503/);
    } finally {
      await robotsSite.stop();
      await failing.stop();
    }
  });

  it("spaces fetches on one origin by its Crawl-delay (bounded), per origin", async () => {
    const slow = await startSiteStub({ "/robots.txt": text("User-agent: *\nCrawl-delay: 2\n") });
    const greedy = await startSiteStub({ "/robots.txt": text("User-agent: *\nCrawl-delay: 3600\n") });
    try {
      let now = 1_000_000;
      const waits: number[] = [];
      const cache = new RobotsCache(runtime, config, undefined, { now: () => now, sleep: async (ms) => void waits.push(ms) });
      await cache.pace(`${slow.url}/a`);
      await cache.pace(`${slow.url}/b`);
      await cache.pace(`${slow.url}/c`);
      expect(waits).toEqual([2000, 4000]);
      now += 10_000;
      await cache.pace(`${slow.url}/d`);
      expect(waits).toEqual([2000, 4000]);
      await cache.pace(`${greedy.url}/a`);
      await cache.pace(`${greedy.url}/b`);
      expect(waits).toEqual([2000, 4000, MAX_CRAWL_DELAY_MS]);
      await cache.pace(`${site.url}/page`); // no robots.txt: no delay
      expect(waits).toHaveLength(3);
    } finally {
      await slow.stop();
      await greedy.stop();
    }
  });
});

describe("sitemaps", () => {
  it("parses a urlset and an index; anything else is not a sitemap", () => {
    expect(parseSitemap('<urlset><url><loc> https://a.example/x </loc></url><url><loc>https://a.example/y</loc></url></urlset>')).toEqual({
      kind: "urlset",
      locs: ["https://a.example/x", "https://a.example/y"],
    });
    expect(parseSitemap("<sitemapindex><sitemap><loc>https://a.example/s.xml</loc></sitemap></sitemapindex>").kind).toBe("sitemapindex");
    expect(() => parseSitemap("<html><body>hi</body></html>")).toThrow("not an XML sitemap (the root element is <html>)");
    expect(() => parseSitemap("just words")).toThrow("not an XML sitemap");
  });

  it("keeps absolute http(s) links, normalised and deduplicated, filtered and bounded", async () => {
    const all = await collectSitemapLinks(runtime, config, `${site.url}/sitemap.xml`, { keep: () => true, maxLinks: 100, deadlineMs: 5000 });
    expect(all.links).toEqual([`${site.url}/a`, `${site.url}/b`, `${site.url}/docs/c`]);
    expect(all.truncated).toBe(false);
    const docs = await collectSitemapLinks(runtime, config, `${site.url}/sitemap.xml`, { keep: (u) => u.includes("/docs/"), maxLinks: 100, deadlineMs: 5000 });
    expect(docs.links).toEqual([`${site.url}/docs/c`]);
    const two = await collectSitemapLinks(runtime, config, `${site.url}/sitemap.xml`, { keep: () => true, maxLinks: 2, deadlineMs: 5000 });
    expect(two).toMatchObject({ links: [`${site.url}/a`, `${site.url}/b`], truncated: true });
  });

  it("follows a sitemap index", async () => {
    const found = await collectSitemapLinks(runtime, config, `${site.url}/index.xml`, { keep: () => true, maxLinks: 100, deadlineMs: 5000 });
    expect(found.links).toEqual([`${site.url}/a`, `${site.url}/b`, `${site.url}/docs/c`, `${site.url}/docs/d`]);
    expect(found.sitemaps).toBe(3);
  });

  it("names the sitemap that failed", async () => {
    const opts = { keep: () => true, maxLinks: 100, deadlineMs: 5000 };
    expect(await failure(collectSitemapLinks(runtime, config, `${site.url}/broken-index.xml`, opts))).toBe(
      `the sitemap ${site.url}/missing.xml (listed in an index): HTTP 404 Not Found`,
    );
    expect(await failure(collectSitemapLinks(runtime, config, `${site.url}/not-sitemap.xml`, opts))).toBe("not an XML sitemap (the root element is <rss>)");
    expect(await failure(collectSitemapLinks(runtime, config, `${site.url}/page`, opts))).toBe("not an XML sitemap (text/html)");
  });
});

describe("pages", () => {
  it("keeps the paragraphs that mention a phrase, else the whole page", () => {
    const page = "Shipping takes 3 days.\n\nReturns are free.\n\nOur SHIPPING partners are listed below.";
    expect(keepPhraseParagraphs(page, ["shipping"])).toBe("Shipping takes 3 days.\n\nOur SHIPPING partners are listed below.");
    expect(keepPhraseParagraphs(page, ["warranty"])).toBe(page);
    expect(keepPhraseParagraphs(page, [])).toBe(page);
  });

  it("queues links on the same site only, pages only, without the page itself", () => {
    const site = siteOf("http://example.com/");
    const found = siteLinks(
      ["https://www.example.com/docs", "http://example.com/", "http://other.example/x", "http://example.com/file.PDF", "http://example.com:8080/x", "http://example.com/a?b=1"],
      site,
      "http://example.com/",
      1,
      100,
    );
    expect(found).toEqual([
      { target: "https://www.example.com/docs", depth: 1 },
      { target: "http://example.com/a?b=1", depth: 1 },
    ]);
    expect(looksLikePage(new URL("http://e.com/a/b.html"))).toBe(true);
    expect(looksLikePage(new URL("http://e.com/a/archive.zip"))).toBe(false);
  });
});

describe("extractive summary", () => {
  const text = [
    "Acme Cloud Storage",
    "Acme Cloud Storage keeps your files safe in encrypted storage across three regions.",
    "Our office dog is called Biscuit and likes long walks.",
    "Storage plans start at 5 dollars per month, and every plan includes encrypted backups of your files.",
    "The weather was nice when we wrote this page.",
    "You can restore deleted files from storage backups for 30 days.",
  ].join("\n\n");

  it("keeps the three most representative sentences, in their original order", () => {
    expect(extractiveSummary(text, { title: "Acme Cloud Storage" })).toBe(
      "Acme Cloud Storage keeps your files safe in encrypted storage across three regions. " +
        "Storage plans start at 5 dollars per month, and every plan includes encrypted backups of your files. " +
        "You can restore deleted files from storage backups for 30 days.",
    );
  });

  it("returns a short text as it is, and bounds a long one", () => {
    expect(extractiveSummary("One sentence only.")).toBe("One sentence only.");
    expect(extractiveSummary("")).toBe("");
    const long = Array.from({ length: 10 }, (_, i) => `Sentence ${i} talks about storage ${"and storage ".repeat(40)}here.`).join(" ");
    const summary = extractiveSummary(long);
    expect(summary.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    expect(summary.endsWith("…")).toBe(true);
  });
});
