// Which YouTube video a URL names. People paste whatever their browser or share button gave them:
// watch pages with extra parameters, short links, embeds, Shorts, live streams, the mobile and music
// sites. The id is always 11 characters of [A-Za-z0-9_-]; anything else is not a video URL.

const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;
const YOUTUBE_HOSTS = new Set(["youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"]);
const NOCOOKIE_HOSTS = new Set(["youtube-nocookie.com", "www.youtube-nocookie.com"]);
const SHORT_HOSTS = new Set(["youtu.be", "www.youtu.be"]);
/** Paths whose second segment is the id: /embed/ID, /shorts/ID, … */
const ID_PATHS = new Set(["embed", "v", "shorts", "live", "watch", "e"]);

export const isVideoId = (id: string) => VIDEO_ID.test(id);

/** The video id of a YouTube URL, or null when the URL names no single video. */
export function youtubeVideoId(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password || url.port) return null;
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const segments = url.pathname.split("/").filter(Boolean);
  let id: string | undefined;
  if (SHORT_HOSTS.has(host)) {
    if (segments.length === 1) id = segments[0];
  } else if (YOUTUBE_HOSTS.has(host)) {
    if (segments.length === 1 && segments[0] === "watch") id = url.searchParams.get("v") ?? undefined;
    else if (segments.length === 2 && ID_PATHS.has(segments[0]!)) id = segments[1];
  } else if (NOCOOKIE_HOSTS.has(host)) {
    if (segments.length === 2 && (segments[0] === "embed" || segments[0] === "v")) id = segments[1];
  }
  return id !== undefined && isVideoId(id) ? id : null;
}

/** The one URL a video is stored under, whatever form it was imported from. */
export const canonicalVideoUrl = (id: string) => `https://www.youtube.com/watch?v=${id}`;
