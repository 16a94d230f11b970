import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http, quickchatError } from "./helpers/http.ts";
import { seed } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { html, redirect, startSiteStub, urlset, type SiteStub } from "./helpers/site-stub.ts";
import { IMPORT_BASE, itemsByTarget, webImports } from "./helpers/web-imports.ts";

// Web imports must not reach the server's own network. Without OUTBOUND_ALLOWLIST, every URL the
// caller gives (url, site_map, each link) that is or resolves to a loopback, private, link-local,
// metadata or IPv4-mapped address is a 422 before anything is fetched — the local server listening
// there receives nothing. With the allowlist opening one host name, a page there that redirects to
// another loopback address fails that page: the guard checks every hop when it connects.

let recorder: SiteStub;
beforeAll(async () => {
  recorder = await startSiteStub({ "/": html("Internal", "<p>internal admin page</p>"), "/sitemap.xml": urlset(["http://example.com/"]) });
});
afterAll(() => recorder?.stop());

describe("without OUTBOUND_ALLOWLIST", () => {
  let server: TestServer;
  const client = http(() => server);
  const web = webImports(client);
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server?.stop());

  const targets = () => [
    `http://127.0.0.1:${recorder.port}/`,
    `http://127.0.0.1:${recorder.port}/sitemap.xml`,
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    `http://[::ffff:127.0.0.1]:${recorder.port}/`,
    `http://[::1]:${recorder.port}/`,
    `http://localhost:${recorder.port}/`,
    `http://2130706433:${recorder.port}/`,
    `http://0x7f.1:${recorder.port}/`,
    `http://0.0.0.0:${recorder.port}/`,
  ];
  const names = ["127.0.0.1", "127.0.0.1 sitemap", "10.0.0.1", "metadata", "::ffff:127.0.0.1", "::1", "localhost", "decimal 127.0.0.1", "hex 127.0.0.1", "0.0.0.0"];

  it.each(names.map((n, i) => [n, i] as const))("%s: url, site_map and links are refused with 422, nothing fetched", async (_name, i) => {
    const target = targets()[i]!;
    const t = await seed(server.app).workspace("SSRF");
    const token = (await t.token("write_all")).secret;
    const attempts = [
      ["website", { url: target }, "url"],
      ["website", { url: target, mode: "site_wide" }, "url"],
      ["site-map", { site_map: target }, "site_map"],
      ["scrape-list", { links: [target] }, "links.0"],
      ["scrape-list", { links: ["http://192.168.1.20/", target] }, "links.0"],
    ] as const;
    for (const [path, body, field] of attempts) {
      const res = await client.callJson(`${IMPORT_BASE}/${path}`, { method: "POST", token, body });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", new RegExp(`^${field.replace(".", "\\.")}: .*(loopback|private|link-local|metadata|unspecified)`)));
    }
    expect(recorder.requests).toHaveLength(0);
    expect(await web.importCount(token, t.scenarioId)).toBe(0);
  });
});

describe("with OUTBOUND_ALLOWLIST naming one host", () => {
  let server: TestServer;
  let front: SiteStub;
  let inside: SiteStub;
  let inside6: SiteStub;
  const client = http(() => server);
  const web = webImports(client);
  const viaName = (path: string) => `http://localhost:${front.port}${path}`;

  beforeAll(async () => {
    // "localhost" resolves to 127.0.0.1 here; the allowlist opens that name, not the addresses.
    inside = await startSiteStub({ "/inside": html("Inside", "<p>internal only</p>") }, "127.0.0.2");
    inside6 = await startSiteStub({ "/inside": html("Inside", "<p>internal only</p>") }, "::1");
    front = await startSiteStub({
      "/page": html("Front", "<main><p>An allowed page.</p></main>"),
      "/to-inside": redirect(`${inside.url}/inside`),
      "/to-inside6": redirect(`${inside6.url}/inside`),
      "/to-metadata": redirect("http://169.254.169.254/latest/meta-data", 307),
    });
    front.set("/sitemap.xml", urlset([viaName("/page"), `${inside.url}/inside`]));
    server = await startServer({}, { OUTBOUND_ALLOWLIST: "localhost" });
  });
  afterAll(async () => {
    await server?.stop();
    await front?.stop();
    await inside?.stop();
    await inside6?.stop();
  });

  it("the addresses behind the allowed name stay refused when named directly", async () => {
    const t = await seed(server.app).workspace("Direct");
    const token = (await t.token("write_all")).secret;
    const frontBefore = front.requests.length;
    for (const url of [`${inside.url}/inside`, `${inside6.url}/inside`, `http://127.0.0.1:${front.port}/page`]) {
      const res = await web.post(token, "website", { url });
      expect(res.status, url).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", /^url: .*loopback/));
    }
    expect(inside.requests).toHaveLength(0);
    expect(inside6.requests).toHaveLength(0);
    expect(front.requests.length).toBe(frontBefore);
  });

  it("a redirect from an allowed page to a private address fails that page; the rest is imported", async () => {
    const t = await seed(server.app).workspace("Redirect");
    const token = (await t.token("write_all")).secret;
    const redirected = front.hits("/to-inside");
    const res = await web.post(token, "scrape-list", { links: ["/page", "/to-inside", "/to-inside6", "/to-metadata"].map(viaName) });
    expect(res.status).toBe(202);
    const imp = await web.finished(token, res.body.import_id);
    expect(imp).toMatchObject({ status: "completed", created: 1, failed: 3 });
    const items = itemsByTarget(imp);
    expect(items[viaName("/page")]).toBe("created");
    expect(items[viaName("/to-inside")]).toMatch(/^failed: refused to connect to .*127\.0\.0\.2.*loopback/);
    expect(items[viaName("/to-inside6")]).toMatch(/^failed: refused to connect to .*::1.*loopback/);
    expect(items[viaName("/to-metadata")]).toMatch(/^failed: refused to connect to .*169\.254\.169\.254.*metadata/);
    expect(inside.requests).toHaveLength(0);
    expect(inside6.requests).toHaveLength(0);
    expect(front.hits("/to-inside")).toBe(redirected + 1);
  });

  it("a sitemap on the allowed host listing a private address: that page fails when it would be fetched", async () => {
    const t = await seed(server.app).workspace("Sitemap");
    const token = (await t.token("write_all")).secret;
    const { accepted, imp } = await web.run(token, "site-map", { site_map: viaName("/sitemap.xml") });
    expect(accepted.links).toEqual([viaName("/page"), `${inside.url}/inside`]);
    expect(imp).toMatchObject({ status: "completed", created: 1, failed: 1 });
    expect(itemsByTarget(imp)[`${inside.url}/inside`]).toMatch(/^failed: refused to connect to .*loopback/);
    expect(inside.requests).toHaveLength(0);
  });

  it("a site-wide crawl from the allowed host does not follow the redirect inside", async () => {
    const t = await seed(server.app).workspace("Crawl");
    const token = (await t.token("write_all")).secret;
    front.set("/home", html("Home", `<main><p>Home page.</p><a href="/to-inside">In</a> <a href="${inside.url}/inside">Direct</a></main>`));
    const { imp } = await web.run(token, "website", { url: viaName("/home"), mode: "site_wide" });
    // The direct link is another site (not queued); the same-site one redirects off the site and is refused.
    expect(itemsByTarget(imp)).toEqual({ [viaName("/home")]: "created", [viaName("/to-inside")]: expect.stringMatching(/^failed: refused to connect to .*loopback/) });
    expect(inside.requests).toHaveLength(0);
  });
});
