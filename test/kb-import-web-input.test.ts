import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WRITE_SCOPE_MESSAGE, errorCodes, http, quickchatError } from "./helpers/http.ts";
import { seed } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startSiteStub, type SiteStub } from "./helpers/site-stub.ts";
import { IMPORT_BASE, IMPORT_QUERY, startDemoSite, webImports } from "./helpers/web-imports.ts";

// Bad input to the web-import routes: each is a documented error (422 naming the field, 400 for a
// body that is not JSON) and starts nothing. Credentials: none (401), read_all (403), another
// scenario's import (NOT_FOUND).

let server: TestServer;
let site: SiteStub;
let elsewhere: SiteStub;
const client = http(() => server);
const { call, callJson, gql } = client;
const web = webImports(client);
const at = (path: string) => `${site.url}${path}`;

beforeAll(async () => {
  elsewhere = await startSiteStub();
  site = await startDemoSite(elsewhere.url);
  server = await startServer({}, { OUTBOUND_ALLOWLIST: "127.0.0.1" });
});
afterAll(async () => {
  await server?.stop();
  await site?.stop();
  await elsewhere?.stop();
});

type Case = [string, "website" | "site-map" | "scrape-list" | "DELETE", unknown, string, RegExp];
const cases = (u: (path: string) => string): Case[] => [
  ["website without url", "website", {}, "url", /^url: is required$/],
  ["website with an empty body", "website", undefined, "url", /^url: is required$/],
  ["website url not a string", "website", { url: 42 }, "url", /^url: must be a URL$/],
  ["website url not a URL", "website", { url: "not a url" }, "url", /^url is not a valid URL/],
  ["website non-http url", "website", { url: "ftp://example.com/file" }, "url", /^url must be an http:\/\/ or https:\/\/ URL, not ftp:$/],
  ["website javascript: url", "website", { url: "javascript:alert(1)" }, "url", /not javascript:/],
  ["website bad mode", "website", { url: u("/"), mode: "everything" }, "mode", /^mode: must be one of individual, site_wide, individual_with_summary$/],
  ["website invalid selector", "website", { url: u("/"), html_selector: "div[" }, "html_selector", /^html_selector is not a valid CSS selector/],
  ["website phrases not an array", "website", { url: u("/"), phrases: "refund" }, "phrases", /^phrases:/],
  ["website unknown field", "website", { url: u("/"), depth: 9 }, "", /depth/],
  ["website toast_process_uuid not v4", "website", { url: u("/"), toast_process_uuid: "123" }, "toast_process_uuid", /UUID v4/],
  ["site-map without site_map", "site-map", { link_filter_regex: ".*" }, "site_map", /^site_map: is required$/],
  ["site-map invalid regex", "site-map", { site_map: u("/sitemap.xml"), link_filter_regex: "(docs" }, "link_filter_regex", /^link_filter_regex is not a valid regular expression/],
  ["site-map backreference (not RE2)", "site-map", { site_map: u("/sitemap.xml"), link_filter_regex: "(a)\\1" }, "link_filter_regex", /link_filter_regex/],
  ["site-map summarize not a boolean", "site-map", { site_map: u("/sitemap.xml"), summarize: "yes" }, "summarize", /^summarize: must be a boolean$/],
  ["site-map non-http", "site-map", { site_map: "file:///etc/passwd" }, "site_map", /^site_map must be an http/],
  ["site-map unreachable (404)", "site-map", { site_map: u("/no-sitemap.xml") }, "site_map", /^site_map: HTTP 404 Not Found$/],
  ["site-map not XML", "site-map", { site_map: u("/docs") }, "site_map", /^site_map: not an XML sitemap \(text\/html\)$/],
  ["site-map server error", "site-map", { site_map: u("/broken") }, "site_map", /^site_map: HTTP 500/],
  ["site-map nothing matches", "site-map", { site_map: u("/sitemap.xml"), link_filter_regex: "^nothing$" }, "site_map", /no links to import/],
  ["site-map invalid selector", "site-map", { site_map: u("/sitemap.xml"), html_selector: "::nope(" }, "html_selector", /^html_selector/],
  ["scrape-list without links", "scrape-list", { tags: ["x"] }, "links", /^links: is required$/],
  ["scrape-list empty links", "scrape-list", { links: [] }, "links", /^links: must list at least one URL$/],
  ["scrape-list links not an array", "scrape-list", { links: u("/") }, "links", /^links: must be an array of URLs$/],
  ["scrape-list non-http link", "scrape-list", { links: [u("/"), "mailto:someone@example.com"] }, "links.1", /^links\.1 must be an http/],
  ["scrape-list empty tag", "scrape-list", { links: [u("/")], tags: [" "] }, "tags.0", /^tags\.0: each tag must not be empty$/],
  ["scrape-list invalid selector", "scrape-list", { links: [u("/")], html_selector: "a[href" }, "html_selector", /^html_selector/],
  ["delete without links", "DELETE", {}, "links", /^links: is required$/],
  ["delete empty links", "DELETE", { links: [] }, "links", /^links: must list at least one URL$/],
  ["delete invalid link", "DELETE", { links: ["nope"] }, "links.0", /^links\.0 is not a valid URL/],
];

describe("bad input", () => {
  // The URLs are made when the test runs: the site's port is known only once it listens.
  it.each(cases((p) => p).map((c) => c[0]))("%s → 422, nothing started", async (name) => {
    const [, route, body, field, message] = cases(at).find((c) => c[0] === name)!;
    const t = await seed(server.app).workspace("Bad input");
    const token = (await t.token("write_all")).secret;
    const res =
      route === "DELETE"
        ? await callJson(IMPORT_BASE, { method: "DELETE", token, body })
        : await callJson(`${IMPORT_BASE}/${route}`, { method: "POST", token, body });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", message));
    if (field) expect(res.body.errors.root[0].message.startsWith(field)).toBe(true);
    expect(await web.importCount(token, t.scenarioId)).toBe(0);
    expect((await web.urlArticles(token)).size).toBe(0);
  });

  it("a body that is not JSON → 400", async () => {
    const t = await seed(server.app).workspace("Not JSON");
    const token = (await t.token("write_all")).secret;
    for (const path of ["website", "site-map", "scrape-list"]) {
      const res = await call(`${IMPORT_BASE}/${path}`, { method: "POST", token, raw: "{url:" });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toEqual(quickchatError("BAD_REQUEST"));
    }
    expect(await web.importCount(token, t.scenarioId)).toBe(0);
  });

  it("scrape-list: more links than IMPORT_MAX_LINKS → 422 (see kb-import-web-options for the bound itself)", async () => {
    const t = await seed(server.app).workspace("Too many");
    const token = (await t.token("write_all")).secret;
    const links = Array.from({ length: server.config.imports.maxLinks + 1 }, (_, i) => at(`/p/${i}`));
    const res = await callJson(`${IMPORT_BASE}/scrape-list`, { method: "POST", token, body: { links } });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", `links: at most ${server.config.imports.maxLinks} links per import (IMPORT_MAX_LINKS)`));
  });
});

describe("credentials", () => {
  const routes = () =>
    [
      ["POST", `${IMPORT_BASE}/website`, { url: at("/") }],
      ["POST", `${IMPORT_BASE}/site-map`, { site_map: at("/sitemap.xml") }],
      ["POST", `${IMPORT_BASE}/scrape-list`, { links: [at("/")] }],
      ["DELETE", IMPORT_BASE, { links: [at("/")] }],
    ] as const;

  it("no token or a wrong one → 401; read_all → 403; nothing fetched or started", async () => {
    const t = await seed(server.app).workspace("Scopes");
    const read = (await t.token("read_all")).secret;
    const before = site.requests.length;
    for (const [method, path, body] of routes()) {
      expect((await callJson(path, { method, body })).status, `${method} ${path}`).toBe(401);
      expect((await callJson(path, { method, body, token: "not-a-token" })).status, `${method} ${path}`).toBe(401);
      const res = await callJson(path, { method, body, token: read });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
    }
    expect(site.requests.length).toBe(before);
    expect(await web.importCount(read, t.scenarioId)).toBe(0);
  });

  it("another scenario's import is NOT_FOUND, and its articles are not another's to delete", async () => {
    const a = await seed(server.app).workspace("Owner");
    const aWrite = (await a.token("write_all")).secret;
    const { accepted } = await web.run(aWrite, "website", { url: at("/docs/faq") });
    const sibling = await a.scenario("Sibling");
    const siblingToken = (await sibling.token("write_all")).secret;
    const stranger = await seed(server.app).workspace("Stranger");
    const strangerToken = (await stranger.token("write_all")).secret;
    expect(errorCodes(await gql((await stranger.developerKey()).secret, IMPORT_QUERY, { id: accepted.import_id }))).toEqual(["NOT_FOUND"]);
    for (const token of [siblingToken, strangerToken]) {
      expect(errorCodes(await gql(token, IMPORT_QUERY, { id: accepted.import_id }))).toEqual(["NOT_FOUND"]);
      const del = await callJson(IMPORT_BASE, { method: "DELETE", token, body: { links: [at("/docs/faq")] } });
      expect(del.body).toEqual({ status: "success", deleted: [], not_found: [at("/docs/faq")] });
    }
    expect((await web.view(aWrite, accepted.import_id))?.status).toBe("completed");
    expect([...(await web.urlArticles(aWrite)).keys()]).toEqual([at("/docs/faq")]);
  });

  it("toast_process_uuid names the import; a second import with it → 409", async () => {
    const t = await seed(server.app).workspace("Handle");
    const token = (await t.token("write_all")).secret;
    const handle = "6f1c2b9e-8d4a-4c1e-9b7a-2f3e4d5c6b7a";
    const first = await web.post(token, "website", { url: at("/docs/faq"), toast_process_uuid: handle });
    expect(first.status).toBe(202);
    expect((await web.view(token, handle))?.id).toBe(first.body.import_id);
    const second = await web.post(token, "scrape-list", { links: [at("/docs")], toast_process_uuid: handle });
    expect(second.status).toBe(409);
    expect(second.body).toEqual(quickchatError("CONFLICT"));
    await web.finished(token, first.body.import_id);
  });
});
