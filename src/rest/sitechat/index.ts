import { z } from "zod";
import { getWidgetConfig } from "../../services/widget.ts";
import { sitechatDialect } from "../errors.ts";
import type { RouteDef, RouteGroup } from "../route.ts";
import { auth, setupSitechat, siteErrors, siteLimit } from "./common.ts";
import { conversationRoutes } from "./conversations.ts";
import { fileRoutes } from "./files.ts";

export { siteLimit };

const routes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/chat/config",
    summary: "Widget configuration (site key, 60 req/min)",
    auth,
    rateLimit: siteLimit("config", 60),
    responses: { 200: { description: "Widget configuration", schema: z.object({ greeting: z.string() }) }, ...siteErrors },
    handler: (ctx) => getWidgetConfig(ctx),
  },
  ...conversationRoutes,
  ...fileRoutes,
];

export const sitechatGroup: RouteGroup = { dialect: sitechatDialect, routes, setup: setupSitechat };
