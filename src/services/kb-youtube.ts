import type { ImportProcessor } from "./kb-import-types.ts";
import { YoutubeClient } from "./kb-youtube-client.ts";
import { canonicalVideoUrl, isVideoId, youtubeVideoId } from "./kb-youtube-url.ts";

// A YouTube import's one item: the video's transcript, as a URL article under its canonical watch
// URL (so importing the same video again, from any form of its URL, updates that article).
// The route is in kb-youtube-import.ts (kept apart: kb-imports.ts loads the processors).

export const youtubeProcessor: ImportProcessor = {
  async item(run, item) {
    const videoId = typeof run.params.videoId === "string" && isVideoId(run.params.videoId) ? run.params.videoId : youtubeVideoId(item.target);
    if (!videoId) throw new Error(`not a YouTube video URL: ${item.target}`);
    const transcript = await new YoutubeClient(run.runtime, run.config, run.signal).transcript(videoId);
    return { article: { type: "URL", url: canonicalVideoUrl(videoId), title: transcript.title, content: transcript.content } };
  },
};
