import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a receiver got: the raw body exactly as sent, and the headers. */
export interface ReceivedHook {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** JSON.parse(rawBody). */
  body: any;
  at: Date;
}

export interface HookReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A local webhook receiver on 127.0.0.1: records every request and answers what `respond` says
 * (200 unless `on(path, …)` says otherwise). Paths separate subscriptions: `url("/a")`, `hooks("/a")`.
 */
export async function startReceiver() {
  const received: ReceivedHook[] = [];
  type Responder = (hook: ReceivedHook, nth: number) => HookReply | Promise<HookReply>;
  const responders = new Map<string, Responder>();
  const ok: Responder = () => ({ status: 200, body: "ok" });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      let body: unknown = null;
      try {
        body = JSON.parse(rawBody);
      } catch {
        // Not JSON: the test will say so.
      }
      const hook: ReceivedHook = { path: req.url ?? "/", headers: req.headers, rawBody, body, at: new Date() };
      received.push(hook);
      const nth = received.filter((h) => h.path === hook.path).length;
      const reply = await (responders.get(hook.path) ?? ok)(hook, nth);
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    received,
    url: (path = "/hook", host = "127.0.0.1") => `http://${host}:${port}${path}`,
    hooks: (path: string) => received.filter((h) => h.path === path),
    /** How to answer requests to `path` from now on; `nth` counts requests to that path, from 1. */
    on(path: string, fn: Responder) {
      responders.set(path, fn);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
