import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for YouTube's watch pages and caption tracks: a watch page embeds
 * ytInitialPlayerResponse (title, playability, captionTracks pointing at the stub's /api/timedtext),
 * as youtube.com does. Unknown ids get YouTube's "Video unavailable" page.
 *
 *   const yt = await startYoutubeStub();
 *   yt.video("abcdefghijk", { title: "Intro", tracks: [{ lang: "en", captions: [[0, 2, "Hello."]] }] });
 *   startServer({}, { YOUTUBE_BASE_URL: yt.url })
 */

/** [start seconds, duration seconds, text] */
export type StubCaption = [number, number, string];

export interface StubTrack {
  lang: string;
  /** "asr" for an automatic track. */
  kind?: string;
  /** srv1 (<transcript><text>, the default) or srv3 (<timedtext><body><p t d>, milliseconds). */
  format?: "srv1" | "srv3";
  captions: StubCaption[];
  /** The caption URL as an absolute URL to the stub (default: relative, as a path). */
  absolute?: boolean;
}

export interface StubVideo {
  title: string;
  /** playabilityStatus.status; default OK. */
  status?: string;
  reason?: string;
  tracks?: StubTrack[];
}

export interface YoutubeStub {
  url: string;
  /** Paths requested, in order (/watch?v=…, /api/timedtext?…). */
  requests: string[];
  video(id: string, video: StubVideo): void;
  stop(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function timedText(track: StubTrack): string {
  if (track.format === "srv3") {
    const ps = track.captions.map(([start, dur, text]) => `<p t="${Math.round(start * 1000)}" d="${Math.round(dur * 1000)}">${xmlEscape(text)}</p>`);
    return `<?xml version="1.0" encoding="utf-8" ?><timedtext format="3"><body>${ps.join("")}</body></timedtext>`;
  }
  // YouTube's srv1 encodes the caption text twice (an apostrophe arrives as &amp;#39;).
  const texts = track.captions.map(([start, dur, text]) => `<text start="${start}" dur="${dur}">${xmlEscape(xmlEscape(text).replace(/'/g, "&#39;"))}</text>`);
  return `<?xml version="1.0" encoding="utf-8" ?><transcript>${texts.join("")}</transcript>`;
}

export async function startYoutubeStub(): Promise<YoutubeStub> {
  const videos = new Map<string, StubVideo>();
  const requests: string[] = [];
  let base = "";
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    requests.push(url.pathname + url.search);
    const id = url.searchParams.get("v") ?? "";
    const video = videos.get(id);
    if (url.pathname === "/watch") {
      const player = video
        ? {
            playabilityStatus: { status: video.status ?? "OK", ...(video.reason ? { reason: video.reason } : {}) },
            videoDetails: { videoId: id, title: video.title, author: "Stub channel" },
            ...(video.tracks?.length
              ? {
                  captions: {
                    playerCaptionsTracklistRenderer: {
                      captionTracks: video.tracks.map((t) => {
                        const path = `/api/timedtext?v=${id}&lang=${t.lang}${t.kind ? `&kind=${t.kind}` : ""}`;
                        return {
                          baseUrl: t.absolute ? `${base}${path}` : path,
                          name: { simpleText: t.lang },
                          vssId: `${t.kind === "asr" ? "a" : ""}.${t.lang}`,
                          languageCode: t.lang,
                          ...(t.kind ? { kind: t.kind } : {}),
                          isTranslatable: true,
                        };
                      }),
                    },
                  },
                }
              : {}),
          }
        : { playabilityStatus: { status: "ERROR", reason: "Video unavailable" } };
      // Like the real page: the object inline in a script, more code after it, braces in strings.
      const html = `<!DOCTYPE html><html><head><title>${xmlEscape(video?.title ?? "YouTube")}</title></head><body>
<script>var ytcfg = {"x": "}{"};</script>
<script nonce="n">var ytInitialPlayerResponse = ${JSON.stringify(player)};var meta = document.createElement('meta'); if (a) { b(); }</script>
<div id="player"></div></body></html>`;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
      return;
    }
    if (url.pathname === "/api/timedtext") {
      const lang = url.searchParams.get("lang");
      const kind = url.searchParams.get("kind") ?? undefined;
      const track = video?.tracks?.find((t) => t.lang === lang && t.kind === kind);
      if (!track) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "text/xml; charset=utf-8" }).end(timedText(track));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    video: (id, video) => void videos.set(id, video),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
