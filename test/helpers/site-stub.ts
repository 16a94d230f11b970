import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A small web site on 127.0.0.1 for import tests: fixed pages by path, each a body with a status
 * and content type (or a function of the request), and every request recorded.
 *
 *   const site = await startSiteStub({ "/": html("Home", "<a href='/a'>A</a>"), "/robots.txt": text("User-agent: *\nDisallow: /private") });
 *   site.url        // http://127.0.0.1:<port>
 *   site.hits("/a") // how many times /a was asked for
 */

export interface StubPage {
  status?: number;
  /** Content-Type; defaults to text/html; charset=utf-8. */
  type?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Never answers (until the stub stops). */
  hang?: boolean;
}

export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export type StubRoute = StubPage | ((req: StubRequest) => StubPage);

export interface SiteStub {
  url: string;
  port: number;
  requests: StubRequest[];
  /** Requests for one path (query included). */
  hits(path: string): number;
  /** Adds or replaces a page. */
  set(path: string, route: StubRoute): void;
  stop(): Promise<void>;
}

export async function startSiteStub(routes: Record<string, StubRoute> = {}, host = "127.0.0.1"): Promise<SiteStub> {
  const table = new Map(Object.entries(routes));
  const requests: StubRequest[] = [];
  const server = createServer((req, res) => {
    const recorded: StubRequest = { method: req.method ?? "", path: req.url ?? "/", headers: req.headers };
    requests.push(recorded);
    req.resume();
    const route = table.get(recorded.path) ?? table.get(recorded.path.split("?")[0]!);
    const page: StubPage = route === undefined ? { status: 404, type: "text/plain", body: "not found" } : typeof route === "function" ? route(recorded) : route;
    if (page.hang) return;
    const body = page.body ?? "";
    res.writeHead(page.status ?? 200, { "content-type": page.type ?? "text/html; charset=utf-8", ...(page.headers ?? {}) });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    requests,
    hits: (path) => requests.filter((r) => r.path === path).length,
    set: (path, route) => void table.set(path, route),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An HTML page with a title and body markup. */
export function html(title: string, body: string, extra: Partial<StubPage> = {}): StubPage {
  return { body: `<!doctype html><html lang="en"><head><title>${title}</title></head><body>${body}</body></html>`, ...extra };
}

export function text(body: string, extra: Partial<StubPage> = {}): StubPage {
  return { type: "text/plain; charset=utf-8", body, ...extra };
}

export function xml(body: string, extra: Partial<StubPage> = {}): StubPage {
  return { type: "application/xml", body, ...extra };
}

/** A <urlset> sitemap of these URLs. */
export function urlset(urls: string[]): StubPage {
  const entries = urls.map((u) => `<url><loc>${u}</loc><lastmod>2026-01-01</lastmod></url>`).join("");
  return xml(`<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${entries}</urlset>`);
}

/** A <sitemapindex> of these sitemap URLs. */
export function sitemapIndex(urls: string[]): StubPage {
  const entries = urls.map((u) => `<sitemap><loc>${u}</loc></sitemap>`).join("");
  return xml(`<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${entries}</sitemapindex>`);
}

export function redirect(location: string, status = 302): StubPage {
  return { status, type: "text/plain", body: "", headers: { location } };
}
