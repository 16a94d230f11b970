import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for Intercom's REST API (the parts imports use): GET /me, GET /articles
 * (paginated: pageSize articles a page, whatever per_page says, so a few articles make several
 * pages), GET /articles/:id. Bearer tokens are checked; failures can be switched on.
 *
 *   const ic = await startIntercomStub({ tokens: ["tok_good"] });
 *   ic.article({ id: "11", title: "Refunds", body: "<p>…</p>" });
 *   ic.failNext(429, 1, { "retry-after": "0" });
 *   startServer({}, { INTERCOM_BASE_URL: ic.url })
 */

export interface StubArticle {
  id: string;
  title: string;
  description?: string;
  body: string;
  state?: "published" | "draft";
  /** Unix seconds. */
  updated_at?: number;
}

export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface IntercomStub {
  url: string;
  requests: StubRequest[];
  /** Adds or replaces an article. */
  article(a: StubArticle): void;
  remove(id: string): void;
  /** Tokens accepted from now on (others get 401). */
  tokens: Set<string>;
  /** The next `times` requests (any path) answer `status`. */
  failNext(status: number, times?: number, headers?: Record<string, string>): void;
  /** Every request answers `status` until called with null. */
  failAlways(status: number | null): void;
  stop(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
const errorList = (code: string, message: string) => ({ type: "error.list", request_id: "stub", errors: [{ code, message }] });

export async function startIntercomStub(options: { tokens?: string[]; pageSize?: number; appName?: string } = {}): Promise<IntercomStub> {
  const articles = new Map<string, StubArticle>();
  const requests: StubRequest[] = [];
  const tokens = new Set(options.tokens ?? []);
  const pageSize = options.pageSize ?? 2;
  let failures: { status: number; times: number; headers: Record<string, string> } | null = null;
  let always: number | null = null;
  let base = "";

  const view = (a: StubArticle) => ({
    type: "article",
    id: a.id,
    workspace_id: "stubws",
    title: a.title,
    description: a.description ?? "",
    body: a.body,
    author_id: 1,
    state: a.state ?? "published",
    created_at: 1_700_000_000,
    updated_at: a.updated_at ?? 1_700_000_000,
    url: `https://help.example.test/articles/${a.id}`,
    parent_id: null,
    parent_type: null,
  });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    requests.push({ method: req.method ?? "", path: url.pathname + url.search, headers: req.headers });
    if (always !== null) return json(res, always, errorList("server_error", "stub failure"));
    if (failures && failures.times > 0) {
      failures.times--;
      return json(res, failures.status, errorList(failures.status === 429 ? "rate_limit_exceeded" : "server_error", "stub failure"), failures.headers);
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!token || !tokens.has(token)) return json(res, 401, errorList("unauthorized", "Access Token Invalid"));
    if (url.pathname === "/me") {
      return json(res, 200, { type: "admin", id: "1", name: "Stub Admin", email: "admin@example.test", app: { type: "app", id_code: "stubapp", name: options.appName ?? "Stub Help Center" } });
    }
    if (url.pathname === "/articles") {
      const all = [...articles.values()];
      const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
      const totalPages = Math.max(1, Math.ceil(all.length / pageSize));
      const data = all.slice((page - 1) * pageSize, page * pageSize).map(view);
      return json(res, 200, { type: "list", data, total_count: all.length, pages: { type: "pages", page, per_page: pageSize, total_pages: totalPages } });
    }
    const one = /^\/articles\/([^/]+)$/.exec(url.pathname);
    if (one) {
      const a = articles.get(decodeURIComponent(one[1]!));
      return a ? json(res, 200, view(a)) : json(res, 404, errorList("not_found", "Resource Not Found"));
    }
    json(res, 404, errorList("not_found", "Resource Not Found"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    tokens,
    article: (a) => void articles.set(a.id, a),
    remove: (id) => void articles.delete(id),
    failNext: (status, times = 1, headers = {}) => void (failures = { status, times, headers }),
    failAlways: (status) => void (always = status),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
