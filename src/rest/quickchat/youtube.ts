import { z } from "zod";
import { YoutubeImportInput, startYoutubeImport } from "../../services/kb-youtube-import.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

// The contract documents no body for the 202; Parley answers the canonical video URL and the import
// (its id, and the toast_process_uuid that is its handle), to follow it in GraphQL.
const YoutubeAccepted = z.object({
  status: z.literal("success"),
  url: z.string().describe("The video's canonical watch URL (the article's url)"),
  import_id: z.string(),
  toast_process_uuid: z.string(),
});

export const youtubeRoutes: RouteDef[] = [
  {
    method: "POST",
    path: "/v1/api/knowledge_base/import_external/youtube",
    summary: "Import a YouTube video's transcript (asynchronously, as an import job)",
    auth: ["scenario_token"],
    rateLimit: quickchatLimit("quickchatHeavy"),
    body: YoutubeImportInput,
    responses: {
      202: { description: "Accepted: the transcript is fetched in the background", schema: YoutubeAccepted },
      409: { description: "CONFLICT: an import with this toast_process_uuid exists", schema: quickchatErrorResponses[400].schema },
      ...quickchatErrorResponses,
    },
    handler: async (ctx, req, reply) => reply.status(202).send(await startYoutubeImport(ctx, req.body)),
  },
];
