import type { FastifyCorsOptions, FastifyCorsOptionsDelegateCallback } from "@fastify/cors";
import type { FastifyRequest } from "fastify";
import type { Config } from "../config.ts";

// The widget runs on customers' sites, so the site-key routes and GraphQL answer browsers from
// other origins. No cookies are involved (credentials travel in headers), hence no
// Access-Control-Allow-Credentials; every other route stays same-origin.

/** Paths browsers on other sites may call. */
export function isBrowserPath(url: string): boolean {
  const path = url.split("?")[0]!;
  return path === "/api/v1/chat" || path.startsWith("/api/v1/chat/") || path === "/graphql" || path === "/graphql/";
}

export function browserCors(config: Pick<Config, "corsOrigins">): FastifyCorsOptions {
  const allowed: FastifyCorsOptions = {
    origin: config.corsOrigins,
    methods: ["GET", "POST", "OPTIONS"],
    allowedHeaders: ["Authorization", "X-Site-Key", "Content-Type", "X-Request-Id"],
    exposedHeaders: ["RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id", "Content-Disposition"],
    credentials: false,
    maxAge: 600,
  };
  const delegator: FastifyCorsOptionsDelegateCallback = (req: FastifyRequest, cb) =>
    cb(null, isBrowserPath(req.url) ? allowed : { origin: false });
  return { delegator };
}
