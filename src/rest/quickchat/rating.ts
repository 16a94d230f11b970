import {
  getRatingConfiguration,
  RatingConfiguration,
  RatingConfigurationPatch,
  updateRatingConfiguration,
} from "../../services/rating-configuration.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;

export const ratingRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api/conversation_ratings/configuration",
    summary: "Get conversation rating configuration",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "The rating configuration", schema: RatingConfiguration }, ...quickchatErrorResponses },
    handler: (ctx) => getRatingConfiguration(ctx),
  },
  {
    method: "PATCH",
    path: "/v1/api/conversation_ratings/configuration",
    summary: "Update conversation rating configuration (only the fields sent)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    body: RatingConfigurationPatch,
    responses: { 200: { description: "The whole updated configuration", schema: RatingConfiguration }, ...quickchatErrorResponses },
    handler: (ctx, req) => updateRatingConfiguration(ctx, req.body ?? {}),
  },
];
