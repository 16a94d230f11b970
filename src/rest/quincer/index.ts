import { quincerDialect } from "../errors.ts";
import type { RouteGroup } from "../route.ts";
import { activityRoutes } from "./activities.ts";
import { integrationRoutes } from "./integrations.ts";
import { leadRoutes } from "./leads.ts";
import { takeoverRoutes } from "./takeover.ts";

export const quincerGroup: RouteGroup = { dialect: quincerDialect, routes: [...takeoverRoutes, ...integrationRoutes, ...leadRoutes, ...activityRoutes] };
