import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http, quickchatError } from "./helpers/http.ts";
import { startLlmStub, type LlmStub } from "./helpers/llm-stub.ts";
import { seed } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startSiteStub, type SiteStub } from "./helpers/site-stub.ts";
import { IMPORT_BASE, startDemoSite, webImports } from "./helpers/web-imports.ts";

// Web imports with their options set by the operator: summaries written by a configured LLM (and
// the extractive fallback when it fails), and the crawl/list bounds from IMPORT_MAX_* in the env.

describe("summaries through the configured LLM", () => {
  let server: TestServer;
  let site: SiteStub;
  let elsewhere: SiteStub;
  let llm: LlmStub;
  const client = http(() => server);
  const web = webImports(client);
  const at = (path: string) => `${site.url}${path}`;

  beforeAll(async () => {
    elsewhere = await startSiteStub();
    site = await startDemoSite(elsewhere.url);
    llm = await startLlmStub();
    // The LLM's base URL is a trusted origin: only the site needs the allowlist.
    server = await startServer({}, { OUTBOUND_ALLOWLIST: "127.0.0.1", LLM_BASE_URL: llm.url, LLM_MODEL: "test-model" });
  });
  afterAll(async () => {
    await server?.stop();
    await llm?.stop();
    await site?.stop();
    await elsewhere?.stop();
  });

  it("individual_with_summary puts the model's summary in the description", async () => {
    const t = await seed(server.app).workspace("LLM summary");
    const token = (await t.token("write_all")).secret;
    llm.respond(() => ({ content: "  Acme ships skates\nwithin three days.  " }));
    const { imp } = await web.run(token, "website", { url: at("/docs/faq"), mode: "individual_with_summary" });
    expect(imp).toMatchObject({ status: "completed", created: 1 });
    const article = await web.article(token, imp.items[0]!.articleId!);
    expect(article).toMatchObject({ description: "Acme ships skates within three days.", content: "Skates ship within three days." });
    const asked = llm.requests.at(-1)!.body;
    expect(asked.messages.at(-1)!.content).toBe("Title: FAQ\n\nSkates ship within three days.");
  });

  it("scrape-list with summarize, the model failing: the extractive summary instead", async () => {
    const t = await seed(server.app).workspace("LLM down");
    const token = (await t.token("write_all")).secret;
    llm.respond(() => ({ status: 500, body: '{"error":{"message":"model overloaded"}}' }));
    const before = llm.requests.length;
    const { imp } = await web.run(token, "scrape-list", { links: [at("/blog/2")], summarize: true });
    expect(imp).toMatchObject({ status: "completed", created: 1 });
    expect(llm.requests.length).toBeGreaterThan(before);
    expect((await web.article(token, imp.items[0]!.articleId!)).description).toBe("The second post is about brakes.");
  });

  it("without summarize the model is not asked and the description stays empty", async () => {
    const t = await seed(server.app).workspace("No summary");
    const token = (await t.token("write_all")).secret;
    const before = llm.requests.length;
    const { imp } = await web.run(token, "website", { url: at("/blog/1") });
    expect(llm.requests.length).toBe(before);
    expect((await web.article(token, imp.items[0]!.articleId!)).description).toBe("");
  });
});

describe("bounds from the environment", () => {
  let server: TestServer;
  let site: SiteStub;
  let elsewhere: SiteStub;
  const client = http(() => server);
  const web = webImports(client);
  const at = (path: string) => `${site.url}${path}`;

  beforeAll(async () => {
    elsewhere = await startSiteStub();
    site = await startDemoSite(elsewhere.url);
    server = await startServer({}, { OUTBOUND_ALLOWLIST: "127.0.0.1", IMPORT_MAX_PAGES: "4", IMPORT_MAX_DEPTH: "1", IMPORT_MAX_LINKS: "3", IMPORT_FETCH_TIMEOUT_MS: "300" });
  });
  afterAll(async () => {
    await server?.stop();
    await site?.stop();
    await elsewhere?.stop();
  });

  it("site_wide stops at IMPORT_MAX_PAGES items and IMPORT_MAX_DEPTH links from the start", async () => {
    const t = await seed(server.app).workspace("Bounded crawl");
    const token = (await t.token("write_all")).secret;
    const deep = ["/docs/install", "/docs/faq", "/docs/install/advanced"];
    const before = deep.map((p) => site.hits(p));
    const { imp } = await web.run(token, "website", { url: at("/"), mode: "site_wide" });
    expect(imp).toMatchObject({ status: "completed", total: 4, processed: 4 });
    expect(Math.max(...imp.items.map((i) => i.depth))).toBe(1);
    expect(deep.map((p) => site.hits(p))).toEqual(before);
  });

  it("a page that does not answer within IMPORT_FETCH_TIMEOUT_MS fails; the import goes on", async () => {
    const t = await seed(server.app).workspace("Timeout");
    const token = (await t.token("write_all")).secret;
    const { imp } = await web.run(token, "scrape-list", { links: [at("/hang"), at("/blog/1")] });
    expect(imp).toMatchObject({ status: "completed", created: 1, failed: 1 });
    expect(imp.items.find((i) => i.target === at("/hang"))!.error).toBe(`timed out: ${at("/hang")} did not answer within 300 ms`);
  });

  it("a sitemap import keeps IMPORT_MAX_LINKS links; a longer list is refused", async () => {
    const t = await seed(server.app).workspace("Bounded lists");
    const token = (await t.token("write_all")).secret;
    const res = await web.post(token, "site-map", { site_map: at("/sitemap-index.xml") });
    expect(res.status).toBe(202);
    expect(res.body.links).toEqual([at("/docs"), at("/docs/faq"), at("/about")]);
    const imp = await web.finished(token, res.body.import_id);
    expect(imp).toMatchObject({ total: 3, params: { truncated: true } });

    const list = await client.callJson(`${IMPORT_BASE}/scrape-list`, { method: "POST", token, body: { links: ["/a", "/b", "/c", "/d"].map(at) } });
    expect(list.status).toBe(422);
    expect(list.body).toEqual(quickchatError("VALIDATION_ERROR", "links: at most 3 links per import (IMPORT_MAX_LINKS)"));
  });
});
