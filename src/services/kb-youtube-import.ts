import { z } from "zod";
import { validationError } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { startImport } from "./kb-imports.ts";
import { canonicalVideoUrl, youtubeVideoId } from "./kb-youtube-url.ts";
import { parseInput } from "./validation.ts";

// POST import_external/youtube: one video's transcript becomes one URL article (the video's
// canonical watch URL), through an import job whose handle is the caller's toast_process_uuid.

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`),
});

export const YoutubeImportInput = z
  .object({
    url: z.string(required("a string")).max(2048, "must be at most 2048 characters"),
    toast_process_uuid: z.string(required("a UUID v4")).regex(UUID_V4, "must be a UUID v4 (e.g. 550e8400-e29b-41d4-a716-446655440000)"),
  })
  .strict();

export interface YoutubeImportAccepted {
  status: "success";
  url: string;
  import_id: string;
  toast_process_uuid: string;
}

export async function startYoutubeImport(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<YoutubeImportAccepted> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const body = parseInput(YoutubeImportInput, input ?? {});
  const videoId = youtubeVideoId(body.url);
  if (!videoId) {
    throw validationError(
      "url: not a YouTube video URL (expected e.g. https://www.youtube.com/watch?v=<id>, https://youtu.be/<id>, /shorts/<id>, /embed/<id>)",
      "url",
    );
  }
  const url = canonicalVideoUrl(videoId);
  const handle = body.toast_process_uuid.toLowerCase();
  const row = await startImport(ctx, {
    scenarioId,
    kind: "youtube",
    params: { url, videoId, requestedUrl: body.url },
    handle,
    items: [{ target: url, depth: 0 }],
  });
  return { status: "success", url, import_id: row.id, toast_process_uuid: handle };
}
