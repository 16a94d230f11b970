import type { HttpClient } from "./http.ts";
import { html, sitemapIndex, startSiteStub, text, urlset, type SiteStub } from "./site-stub.ts";
import { until } from "./wait.ts";

/**
 * The demo site web-import tests crawl, and the calls they make against Parley.
 *
 * Site (relative links unless said): / → /docs, /about, /private/secret (robots.txt disallows it),
 * /broken (500), /data (JSON), /files/manual.pdf (never queued), an off-site link (to `elsewhere`);
 * /docs → /docs/install, /docs/faq; /docs/install → /docs/install/advanced → …/deeper (depth 4).
 * Sitemaps: /sitemap.xml, /sitemap-index.xml (→ /sitemap.xml, /sitemap-blog.xml).
 */
export async function startDemoSite(elsewhere: string): Promise<SiteStub> {
  const site = await startSiteStub({
    "/": html("Acme Home", `<nav><a href="/">Home</a> <a href="/docs">Docs</a> <a href="/about">About</a></nav>
      <main><h1>Welcome to Acme</h1><p>Acme makes rocket skates for everyone.</p>
      <p><a href="/private/secret">Secret</a> <a href="/broken">Broken</a> <a href="/data">Data</a>
      <a href="/files/manual.pdf">Manual</a> <a href="${elsewhere}/elsewhere">Partner</a> <a href="mailto:hi@acme.test">Mail</a>
      <a href="#top">Top</a></p></main>`),
    "/docs": html("Docs", `<main><h1>Documentation</h1><p>Read the guides below.</p><a href="/docs/install">Install</a> <a href="/docs/faq">FAQ</a></main>`),
    "/docs/install": html("Install", `<main><p>Install the zephyrquartz module before your first ride.</p><a href="/docs/install/advanced">Advanced</a></main>`),
    "/docs/install/advanced": html("Advanced install", `<main><p>Advanced setups need two zephyrquartz modules.</p><a href="/docs/install/advanced/deeper">Deeper</a></main>`),
    "/docs/install/advanced/deeper": html("Deeper", "<main><p>Too deep to reach.</p></main>"),
    "/docs/faq": html("FAQ", "<main><p>Skates ship within three days.</p></main>"),
    "/about": html("About Acme", `<div class="ads">Buy our premium wax now</div><div id="content"><p>Acme was founded in 1949.</p><p>We love skating.</p></div><a href="/">Home</a>`),
    "/private/secret": html("Secret", "<p>Nobody should import this.</p>"),
    "/broken": { status: 500, type: "text/plain", body: "boom" },
    "/data": { type: "application/json", body: '{"not":"html"}' },
    "/files/manual.pdf": { type: "application/pdf", body: "%PDF-1.4" },
    "/robots.txt": text("User-agent: *\nDisallow: /private/\n"),
    "/policies": html(
      "Policies",
      "<main><p>Refunds are paid within 14 days.</p><p>Shipping is free above 50 euros.</p><p>Our REFUND desk answers by email.</p></main>",
    ),
    "/blog/1": html("Blog one", "<main><p>The first post is about wheels.</p></main>"),
    "/blog/2": html("Blog two", "<main><p>The second post is about brakes.</p></main>"),
    "/notes.txt": text("Plain notes.\n\nSecond paragraph of notes."),
    "/empty": html("Empty", "<main>  </main><script>var x = 1;</script>"),
    "/hang": { hang: true },
  });
  const at = (path: string) => `${site.url}${path}`;
  site.set("/sitemap.xml", urlset([at("/docs"), at("/docs/faq"), at("/about"), at("/broken"), at("/docs/faq#again")]));
  site.set("/sitemap-blog.xml", urlset([at("/blog/1"), at("/blog/2")]));
  site.set("/sitemap-index.xml", sitemapIndex([at("/sitemap.xml"), at("/sitemap-blog.xml")]));
  return site;
}

export const IMPORT_QUERY = `query($id: ID!) { knowledgeImport(id: $id) { id kind status params total processed created updated unchanged failed skipped error
  items(first: 100) { edges { node { target depth status error articleId } } } } }`;

export interface ImportView {
  id: string;
  kind: string;
  status: string;
  params: Record<string, unknown>;
  total: number;
  processed: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  skipped: number;
  error: string | null;
  items: { target: string; depth: number; status: string; error: string | null; articleId: number | null }[];
}

export const IMPORT_BASE = "/v1/api/knowledge_base/import_external";

export function webImports(client: HttpClient) {
  /** The import as GraphQL shows it to this token's scenario. */
  async function view(token: string, id: string): Promise<ImportView | null> {
    const res = await client.gql(token, IMPORT_QUERY, { id });
    const imp = res.data?.knowledgeImport;
    if (!imp) return null;
    return { ...imp, items: imp.items.edges.map((e: { node: ImportView["items"][number] }) => e.node) };
  }

  /** Waits for the import to finish (completed, failed or cancelled) and answers it. */
  function finished(token: string, id: string): Promise<ImportView> {
    return until(
      `import ${id} to finish`,
      async () => {
        const imp = await view(token, id);
        return imp && ["completed", "failed", "cancelled"].includes(imp.status) ? imp : null;
      },
      { timeoutMs: 30_000 },
    );
  }

  async function post(token: string, path: "website" | "site-map" | "scrape-list", body: unknown) {
    return client.callJson(`${IMPORT_BASE}/${path}`, { method: "POST", token, body });
  }

  /** Starts an import that must be accepted, and waits for it. */
  async function run(token: string, path: "website" | "site-map" | "scrape-list", body: unknown): Promise<{ accepted: any; imp: ImportView }> {
    const res = await post(token, path, body);
    if (res.status !== 202) throw new Error(`expected 202, got ${res.status}: ${JSON.stringify(res.body)}`);
    return { accepted: res.body, imp: await finished(token, res.body.import_id) };
  }

  /** The scenario's URL articles (without content), by URL. */
  async function urlArticles(token: string): Promise<Map<string, any>> {
    const res = await client.callJson("/v1/api/knowledge_base/articles/?types=URL&limit=100", { token });
    if (res.status !== 200) throw new Error(`articles: ${res.status}`);
    return new Map(res.body.items.map((a: { url: string }) => [a.url, a]));
  }

  async function article(token: string, id: number) {
    return (await client.callJson(`/v1/api/knowledge_base/articles/${id}`, { token })).body;
  }

  async function importCount(token: string, scenarioId: string): Promise<number> {
    const res = await client.gql(token, `query($s: ID!) { knowledgeImports(scenarioId: $s, first: 1) { totalCount } }`, { s: scenarioId });
    return res.data.knowledgeImports.totalCount;
  }

  return { view, finished, post, run, urlArticles, article, importCount };
}

/** The items of an import by target, status and error only. */
export function itemsByTarget(imp: ImportView): Record<string, string> {
  return Object.fromEntries(imp.items.map((i) => [i.target, i.error ? `${i.status}: ${i.error}` : i.status]));
}
