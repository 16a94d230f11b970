import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Config } from "../config.ts";
import type { CredentialKind, Principal } from "../auth/scopes.ts";
import { AppError, unauthenticated, type RateLimitInfo } from "../errors.ts";
import { authenticate } from "../services/access.ts";
import { createServiceContext, type Runtime, type ServiceContext } from "../services/context.ts";
import type { Policy } from "../services/rate-limit.ts";
import { setRateLimitHeaders } from "./http.ts";
import { useDialectErrors } from "./errors.ts";

export type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/** One documented REST route: its contract (for OpenAPI) and a thin handler calling a service. */
export interface RouteDef {
  method: Method;
  path: string;
  summary: string;
  /** Which credentials the route accepts; the secret travels as a Bearer token (or X-Site-Key). */
  auth: readonly CredentialKind[];
  /** Where the secret is instead of the headers (POST /chat takes its api_key in the body). */
  credentialFrom?: (req: FastifyRequest) => string | undefined;
  /** The budget this request spends, given the caller. */
  rateLimit: (principal: Principal, req: FastifyRequest) => { policy: Policy; key: string; message?: (i: RateLimitInfo) => string };
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Overrides the server's 1 MiB body limit (routes that take uploads inline). */
  bodyLimit?: number;
  /** Response schemas by status, for the OpenAPI document. */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler: (ctx: ServiceContext, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export interface Dialect {
  name: "quickchat" | "quincer" | "sitechat" | "graphql" | "plain";
  tag: string;
  /** Renders an error in the dialect's JSON. */
  renderError: (err: AppError) => unknown;
}

/** A dialect and its routes: registered together, documented together. */
export interface RouteGroup {
  dialect: Dialect;
  routes: RouteDef[];
  /** Plugins the group's routes need (body parsers, settings), registered in its scope first. */
  setup?: (app: FastifyInstance, config: Config) => Promise<void>;
}

export function presentedSecret(req: FastifyRequest, allowSiteKeyHeader: boolean): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw unauthenticated("Malformed Authorization header: expected 'Bearer <credential>'");
    return m[1];
  }
  const siteKey = req.headers["x-site-key"];
  if (allowSiteKeyHeader && typeof siteKey === "string" && siteKey) return siteKey;
  return undefined;
}

/** Registers a group on an encapsulated instance, with the dialect's error rendering. */
export async function registerGroup(app: FastifyInstance, runtime: Runtime, { dialect, routes, setup }: RouteGroup, config: Config) {
  useDialectErrors(app, dialect);
  await setup?.(app, config);
  // Trailing slashes: the server ignores them, so each documented path also answers without it.
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.path,
      bodyLimit: route.bodyLimit,
      handler: async (req, reply) => {
        const ctx = createServiceContext(runtime);
        const secret = route.credentialFrom ? route.credentialFrom(req) : presentedSecret(req, route.auth.includes("widget"));
        ctx.principal = await authenticate(ctx, secret, route.auth);
        const limit = route.rateLimit(ctx.principal, req);
        setRateLimitHeaders(reply, await runtime.rateLimits.consume(limit.policy, limit.key, limit.message));
        const result = await route.handler(ctx, req, reply);
        if (reply.sent) return reply;
        if (result === undefined) return reply.status(204).send();
        return reply.send(result);
      },
    });
  }
}
