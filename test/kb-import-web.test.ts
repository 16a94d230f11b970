import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "./helpers/http.ts";
import { seed } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { html, startSiteStub, type SiteStub } from "./helpers/site-stub.ts";
import { IMPORT_BASE, itemsByTarget, startDemoSite, webImports } from "./helpers/web-imports.ts";

// Website (individual, site-wide), sitemap and link-list imports of a local site, through the REST
// routes; the import's counts and items read through GraphQL (knowledgeImport), the articles
// through the articles API and search. Removing imported links.

let server: TestServer;
let site: SiteStub;
let elsewhere: SiteStub;
const client = http(() => server);
const { callJson } = client;
const web = webImports(client);
const at = (path: string) => `${site.url}${path}`;

beforeAll(async () => {
  elsewhere = await startSiteStub({ "/elsewhere": html("Partner", "<p>Another site.</p>") });
  site = await startDemoSite(elsewhere.url);
  server = await startServer({}, { OUTBOUND_ALLOWLIST: "127.0.0.1" });
});
afterAll(async () => {
  await server?.stop();
  await site?.stop();
  await elsewhere?.stop();
});

async function tenant(name: string) {
  const t = await seed(server.app).workspace(name);
  return { ...t, write: (await t.token("write_all")).secret, read: (await t.token("read_all")).secret };
}

describe("site-wide website import", () => {
  it("crawls same-site links within the depth, honours robots.txt, and counts every outcome", async () => {
    const t = await tenant("Crawl");
    const never = ["/private/secret", "/files/manual.pdf", "/docs/install/advanced/deeper"];
    const hitsBefore = never.map((p) => site.hits(p));
    const elsewhereBefore = elsewhere.requests.length;
    const { accepted, imp } = await web.run(t.write, "website", { url: at("/"), mode: "site_wide" });
    expect(accepted).toEqual({ status: "success", url: at("/"), article: {}, import_id: expect.any(String) });
    expect(imp).toMatchObject({ kind: "website", status: "completed", total: 9, processed: 9, created: 6, updated: 0, unchanged: 0, failed: 2, skipped: 1 });
    expect(itemsByTarget(imp)).toEqual({
      [at("/")]: "created",
      [at("/docs")]: "created",
      [at("/about")]: "created",
      [at("/private/secret")]: "skipped: disallowed by robots.txt",
      [at("/broken")]: "failed: HTTP 500 Internal Server Error",
      [at("/data")]: "failed: not an HTML page (application/json)",
      [at("/docs/install")]: "created",
      [at("/docs/faq")]: "created",
      [at("/docs/install/advanced")]: "created",
    });
    expect(imp.items.find((i) => i.target === at("/docs/install/advanced"))!.depth).toBe(3);
    // Never asked for: disallowed, not a page, beyond the depth, another site.
    expect(never.map((p) => site.hits(p))).toEqual(hitsBefore);
    expect(elsewhere.requests.length).toBe(elsewhereBefore);

    const articles = await web.urlArticles(t.read);
    expect([...articles.keys()].sort()).toEqual(
      ["/", "/about", "/docs", "/docs/faq", "/docs/install", "/docs/install/advanced"].map(at).sort(),
    );
    const home = await web.article(t.read, articles.get(at("/")).id);
    expect(home).toMatchObject({ type: "URL", title: "Acme Home", url: at("/"), deploy_state: "published" });
    expect(home.content).toContain("Acme makes rocket skates for everyone.");
    expect(home.content).not.toContain("Docs About"); // the <nav> is page furniture

    const found = await callJson(`/v1/api/knowledge_base/articles/search?query=zephyrquartz`, { token: t.read });
    expect(found.status).toBe(200);
    expect(found.body.article_snapshots.items.map((a: { url: string }) => a.url).sort()).toEqual([at("/docs/install"), at("/docs/install/advanced")]);
  });

  it("a second crawl finds every page unchanged: no duplicate articles", async () => {
    const t = await tenant("Recrawl");
    await web.run(t.write, "website", { url: at("/docs"), mode: "site_wide" });
    const before = await web.urlArticles(t.read);
    const { imp } = await web.run(t.write, "website", { url: at("/docs"), mode: "site_wide" });
    expect(imp).toMatchObject({ status: "completed", total: 5, created: 0, updated: 0, unchanged: 5 });
    const after = await web.urlArticles(t.read);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [url, a] of after) expect(a.id).toBe(before.get(url).id);
  });
});

describe("individual website import", () => {
  it("imports one page; a re-import after a change updates the same article", async () => {
    const t = await tenant("Individual");
    site.set("/changing", html("Changing", "<main><p>First version of the page.</p><a href='/docs'>Docs</a></main>"));
    const docsHits = site.hits("/docs");
    const first = await web.run(t.write, "website", { url: at("/changing") });
    expect(first.imp).toMatchObject({ status: "completed", total: 1, created: 1 });
    expect(first.imp.items).toHaveLength(1);
    expect(site.hits("/docs")).toBe(docsHits); // one page: its links are not followed
    const id = (await web.urlArticles(t.read)).get(at("/changing")).id;

    site.set("/changing", html("Changing", "<main><p>Second version of the page.</p></main>"));
    const second = await web.run(t.write, "website", { url: `${at("/changing")}#section`, mode: "individual" });
    expect(second.accepted.url).toBe(at("/changing"));
    expect(second.imp).toMatchObject({ status: "completed", updated: 1, created: 0 });
    const articles = await web.urlArticles(t.read);
    expect(articles.size).toBe(1);
    const article = await web.article(t.read, id);
    expect(article.content).toBe("Second version of the page.");
    expect(article.version).toBe(2);
  });

  it("html_selector picks the content", async () => {
    const t = await tenant("Selector");
    const { imp } = await web.run(t.write, "website", { url: at("/about"), html_selector: "#content" });
    expect(imp).toMatchObject({ status: "completed", created: 1 });
    const article = await web.article(t.read, imp.items[0]!.articleId!);
    expect(article).toMatchObject({ title: "About Acme", content: "Acme was founded in 1949.\n\nWe love skating." });
  });

  it("a selector that matches nothing fails the page (and the import, its only page), saying why", async () => {
    const t = await tenant("Selector miss");
    const { imp } = await web.run(t.write, "website", { url: at("/about"), html_selector: "article.missing" });
    expect(imp).toMatchObject({ status: "failed", failed: 1, created: 0 });
    expect(imp.items[0]!.error).toBe('nothing on the page matches html_selector "article.missing"');
    expect(imp.error).toContain("html_selector");
    expect((await web.urlArticles(t.read)).size).toBe(0);
  });

  it("phrases keep the paragraphs that mention them; none matching keeps the whole page", async () => {
    const t = await tenant("Phrases");
    const { imp } = await web.run(t.write, "website", { url: at("/policies"), phrases: ["refund"] });
    expect(imp.params).toMatchObject({ phrases: ["refund"], mode: "individual" });
    expect((await web.article(t.read, imp.items[0]!.articleId!)).content).toBe("Refunds are paid within 14 days.\n\nOur REFUND desk answers by email.");
    const none = await web.run(t.write, "website", { url: at("/policies"), phrases: ["warranty"] });
    expect((await web.article(t.read, none.imp.items[0]!.articleId!)).content).toContain("Shipping is free above 50 euros.");
  });

  it("a page without text fails, saying so", async () => {
    const t = await tenant("Empty");
    const { imp } = await web.run(t.write, "website", { url: at("/empty") });
    expect(imp).toMatchObject({ status: "failed", failed: 1, error: `${at("/empty")}: the page has no text` });
  });

  it("takes a plain-text page as it is", async () => {
    const t = await tenant("Plain");
    const { imp } = await web.run(t.write, "website", { url: at("/notes.txt") });
    const article = await web.article(t.read, imp.items[0]!.articleId!);
    expect(article).toMatchObject({ content: "Plain notes.\n\nSecond paragraph of notes.", title: expect.stringContaining("notes.txt") });
  });
});

describe("sitemap import", () => {
  it("reads the sitemap during the request and imports its links", async () => {
    const t = await tenant("Sitemap");
    const { accepted, imp } = await web.run(t.write, "site-map", { site_map: at("/sitemap.xml") });
    expect(accepted).toEqual({ status: "success", links: [at("/docs"), at("/docs/faq"), at("/about"), at("/broken")], import_id: expect.any(String) });
    expect(imp).toMatchObject({ kind: "sitemap", status: "completed", total: 4, created: 3, failed: 1, skipped: 0 });
    // A sitemap import imports what it lists: it does not follow links.
    expect((await web.urlArticles(t.read)).size).toBe(3);
  });

  it("filters with link_filter_regex and follows a sitemap index", async () => {
    const t = await tenant("Sitemap filter");
    const res = await web.post(t.write, "site-map", { site_map: at("/sitemap-index.xml"), link_filter_regex: "/(docs|blog)/" });
    expect(res.status).toBe(202);
    expect(res.body.links).toEqual([at("/docs/faq"), at("/blog/1"), at("/blog/2")]);
    const imp = await web.finished(t.write, res.body.import_id);
    expect(imp).toMatchObject({ status: "completed", created: 3, params: { link_filter_regex: "/(docs|blog)/", summarize: false } });
  });

  it("summarize without an LLM writes an extractive summary into the description", async () => {
    const t = await tenant("Sitemap summary");
    const { imp } = await web.run(t.write, "site-map", { site_map: at("/sitemap.xml"), link_filter_regex: "faq", summarize: true });
    expect(imp).toMatchObject({ status: "completed", created: 1 });
    const article = await web.article(t.read, imp.items[0]!.articleId!);
    expect(article.description).toBe("Skates ship within three days.");
  });
});

describe("link-list import", () => {
  it("imports each link once, normalised, with the tags", async () => {
    const t = await tenant("List");
    const res = await web.post(t.write, "scrape-list", {
      links: [at("/blog/1"), `${at("/blog/1")}#comments`, at("/blog/2"), at("/missing")],
      tags: ["imported", "blog"],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: "success", links: [at("/blog/1"), at("/blog/2"), at("/missing")], import_id: expect.any(String) });
    const imp = await web.finished(t.write, res.body.import_id);
    expect(imp).toMatchObject({ kind: "links", status: "completed", total: 3, created: 2, failed: 1 });
    expect(itemsByTarget(imp)[at("/missing")]).toBe("failed: HTTP 404 Not Found");
    const articles = await web.urlArticles(t.read);
    expect(articles.get(at("/blog/1")).tags).toEqual(["imported", "blog"]);
    expect(articles.get(at("/blog/2"))).toMatchObject({ title: "Blog two", tags: ["imported", "blog"] });
  });
});

describe("DELETE import_external", () => {
  it("removes the URL articles of the links given and reports the unknown ones", async () => {
    const t = await tenant("Delete");
    await web.run(t.write, "scrape-list", { links: [at("/blog/1"), at("/blog/2"), at("/docs/faq")] });
    const other = await tenant("Delete other");
    await web.run(other.write, "scrape-list", { links: [at("/blog/1")] });

    const res = await callJson(IMPORT_BASE, {
      method: "DELETE",
      token: t.write,
      body: { links: [`${at("/blog/1")}#top`, at("/never-imported"), at("/docs/faq")] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "success", deleted: [`${at("/blog/1")}#top`, at("/docs/faq")], not_found: [at("/never-imported")] });
    expect([...(await web.urlArticles(t.read)).keys()]).toEqual([at("/blog/2")]);
    // Another scenario's article with the same URL is not touched.
    expect([...(await web.urlArticles(other.read)).keys()]).toEqual([at("/blog/1")]);
    const kb = await callJson("/v1/api/knowledge_base/", { token: t.read });
    expect(kb.body.retrain_state).toBe("to_be_retrained");

    const again = await callJson(IMPORT_BASE, { method: "DELETE", token: t.write, body: { links: [at("/blog/1")] } });
    expect(again.body).toEqual({ status: "success", deleted: [], not_found: [at("/blog/1")] });
  });
});
