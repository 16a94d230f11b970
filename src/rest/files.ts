import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Runtime } from "../services/context.ts";
import { notFound } from "../errors.ts";
import { getFile } from "../services/files.ts";

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The server's public scheme://host as the caller reached it: the Host header (X-Forwarded-Host and
 * X-Forwarded-Proto when TRUST_PROXY is on, which Fastify applies to req.host and req.protocol).
 */
export function publicBaseUrl(req: FastifyRequest): string {
  const host = req.host;
  const address = req.socket.localAddress ?? "127.0.0.1";
  const fallback = `${address.includes(":") ? `[${address}]` : address}:${req.socket.localPort}`;
  return `${req.protocol}://${host && HOST.test(host) ? host : fallback}`;
}

/**
 * GET /files/:id: widget images, public like any image on a website (never attachments).
 * A file's id changes whenever its content does, so responses are cacheable forever; not rate
 * limited, since every page view of a widget fetches them and caches answer with 304.
 */
export function registerFileRoutes(app: FastifyInstance, runtime: Runtime) {
  app.get<{ Params: { id: string } }>("/files/:id", async (req, reply) => {
    const file = await getFile(runtime, req.params.id);
    // Visitors' attachments are private to their conversation (served by the site-key routes).
    if (file.purpose !== "widget_image") throw notFound("File");
    const etag = `"${file.sha256}"`;
    reply
      .header("etag", etag)
      .header("cache-control", "public, max-age=31536000, immutable")
      .header("x-content-type-options", "nosniff")
      .header("content-security-policy", "default-src 'none'; sandbox");
    const match = req.headers["if-none-match"];
    if (typeof match === "string" && match.split(",").some((m) => m.trim().replace(/^W\//, "") === etag)) {
      return reply.status(304).send();
    }
    return reply.header("content-type", file.contentType).header("content-length", file.size).send(Buffer.from(file.data));
  });
}
