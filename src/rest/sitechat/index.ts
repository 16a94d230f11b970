import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { Principal } from "../../auth/scopes.ts";
import { siteKeyPolicy } from "../../services/rate-limit.ts";
import { getWidgetConfig } from "../../services/widget.ts";
import { sitechatDialect } from "../errors.ts";
import type { RouteDef, RouteGroup } from "../route.ts";

const SiteError = z.object({ error: z.string() });
const errors = {
  401: { description: "Missing or invalid site key", schema: SiteError },
  429: { description: "Rate limit exceeded", schema: SiteError },
};

/**
 * The documented per-route limits, counted per site key and visitor address: the key is public,
 * so one abusive visitor must not spend every visitor's budget.
 */
export const siteLimit = (route: string, perMinute: number) => (p: Principal, req: FastifyRequest) => ({
  policy: siteKeyPolicy(route, perMinute),
  key: `${p.kind === "system" ? "system" : p.credentialId}:${req.ip}`,
  message: () => "Rate limit exceeded. Please try again later.",
});

const routes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/chat/config",
    summary: "Widget configuration (site key, 60 req/min)",
    auth: ["widget"],
    rateLimit: siteLimit("config", 60),
    responses: { 200: { description: "Widget configuration", schema: z.object({ greeting: z.string() }) }, ...errors },
    handler: (ctx) => getWidgetConfig(ctx),
  },
];

export const sitechatGroup: RouteGroup = { dialect: sitechatDialect, routes };
