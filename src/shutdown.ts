import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";

// Pieces of the graceful stop (App.stop, on SIGTERM). The order lives in app.ts.

/** Resolves true when `promise` settles within `ms`, false when the time ran out first. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Responses that stream until the client leaves (GraphQL over SSE). They never finish on their
 * own, so a draining server cuts them at once; the client sees its connection drop and
 * reconnects, to another instance behind the load balancer.
 */
export class OpenStreams {
  private readonly open = new Set<ServerResponse>();
  private cutting = false;

  track(res: ServerResponse): void {
    // A stream whose request was in flight when the stop began starts after cutAll(): cut it too.
    if (this.cutting) {
      setImmediate(() => res.destroy());
      return;
    }
    this.open.add(res);
    res.once("close", () => this.open.delete(res));
  }

  cutAll(): void {
    this.cutting = true;
    for (const res of this.open) res.destroy();
    this.open.clear();
  }
}

/**
 * Closes the HTTP server: no new connections from now on (the listening socket closes; requests
 * on kept-alive connections get Fastify's 503 with Connection: close), requests in flight run to
 * the end. Connections their responses leave idle are closed as they become idle. After `graceMs`
 * the connections still open are cut.
 */
export async function drainHttp(http: FastifyInstance, graceMs: number, log: Logger): Promise<void> {
  const closed = http.close();
  // Node closes the connections idle at close() time; the ones busy then become idle later.
  const sweeper = setInterval(() => http.server.closeIdleConnections(), 50);
  try {
    if (!(await settlesWithin(closed, graceMs))) {
      log.warn({ graceMs }, "requests still in flight at the end of the shutdown grace period; closing their connections");
      http.server.closeAllConnections();
    }
    await closed;
  } finally {
    clearInterval(sweeper);
  }
}
