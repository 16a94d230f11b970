import {
  getWidgetConfiguration,
  updateWidgetConfiguration,
  WidgetConfiguration,
  WidgetConfigurationPatch,
} from "../../services/widget-configuration.ts";
import { publicBaseUrl } from "../files.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;

export const widgetRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api/widget/configuration",
    summary: "Get widget configuration",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "The widget configuration", schema: WidgetConfiguration }, ...quickchatErrorResponses },
    handler: (ctx, req) => getWidgetConfiguration(ctx, publicBaseUrl(req)),
  },
  {
    method: "PATCH",
    path: "/v1/api/widget/configuration",
    summary: "Update widget configuration (only the fields sent; images as base64 data URLs)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    // Two images of up to 1 MiB each, base64-encoded (4/3), plus the other fields.
    bodyLimit: 4 * 1024 * 1024,
    body: WidgetConfigurationPatch,
    responses: { 200: { description: "The whole updated configuration", schema: WidgetConfiguration }, ...quickchatErrorResponses },
    handler: (ctx, req) => updateWidgetConfiguration(ctx, req.body ?? {}, publicBaseUrl(req)),
  },
];
