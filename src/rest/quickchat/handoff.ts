import { getHandoffConfiguration, HandoffConfiguration, HandoffConfigurationInput, updateHandoffConfiguration } from "../../services/handoff-configuration.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;
const PATH = "/v1/api/human_handoff/configuration";

export const handoffRoutes: RouteDef[] = [
  {
    method: "GET",
    path: PATH,
    summary: "Get handoff configuration",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "The handoff configuration (defaults until one is saved)", schema: HandoffConfiguration }, ...quickchatErrorResponses },
    handler: (ctx) => getHandoffConfiguration(ctx),
  },
  {
    method: "PUT",
    path: PATH,
    summary: "Update handoff configuration (fetch, modify, PUT back: list items with an id are updated, without one created, left out deleted)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    body: HandoffConfigurationInput,
    responses: { 200: { description: "The updated handoff configuration", schema: HandoffConfiguration }, ...quickchatErrorResponses },
    handler: (ctx, req) => updateHandoffConfiguration(ctx, req.body ?? {}),
  },
];
