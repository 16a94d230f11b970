import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP site on 127.0.0.1 for outbound-client tests: records every request it gets (so a
 * test can show a refused target got nothing) and answers each path as the test says (404 else).
 *
 *   const site = await startSite();
 *   site.on("/moved", (_req, res) => res.writeHead(302, { location: "/here" }).end());
 *   site.seen("/here")   // the requests to /here
 */

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type SiteHandler = (req: SeenRequest, res: ServerResponse, raw: IncomingMessage) => void;

export interface TestSite {
  port: number;
  /** The site's origin, http://127.0.0.1:<port>. */
  origin: string;
  url(path: string, host?: string): string;
  on(path: string, handler: SiteHandler): void;
  /** Requests so far, to one path or to any. */
  seen(path?: string): SeenRequest[];
  close(): Promise<void>;
}

export async function startSite(): Promise<TestSite> {
  const requests: SeenRequest[] = [];
  const handlers = new Map<string, SiteHandler>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: SeenRequest = { method: req.method ?? "", path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(seen);
      const handler = handlers.get(seen.path.split("?")[0]!);
      if (handler) handler(seen, res, req);
      else res.writeHead(404, { "content-type": "text/plain" }).end("not here");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    url: (path, host = "127.0.0.1") => `http://${host}:${port}${path}`,
    on: (path, handler) => void handlers.set(path, handler),
    seen: (path) => (path === undefined ? [...requests] : requests.filter((r) => r.path === path)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
