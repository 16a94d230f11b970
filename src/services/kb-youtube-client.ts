import type { ImportConfig } from "../config.ts";
import type { Runtime } from "./context.ts";
import { ImportItemError } from "./kb-import-types.ts";
import { captionsToParagraphs, chooseTrack, findPlayerResponse, parseTimedText, playerInfo } from "./kb-youtube-captions.ts";
import { OutboundGuard, type OutboundFetchResponse } from "./outbound-guard.ts";

// A video's title and transcript, from YouTube's watch page and its caption track. The base URL is
// the operator's (YOUTUBE_BASE_URL; tests point it at a local stub), and every request, the caption
// track's too, goes through the outbound guard. What the video's id is was settled by the route.

export interface Transcript {
  title: string;
  /** Paragraphs separated by blank lines. */
  content: string;
  languageCode: string;
  /** The track was YouTube's speech recognition, not captions someone wrote. */
  automatic: boolean;
}

/** An http(s) URL, relative ones resolved against base; anything else is not followed. */
function httpUrl(raw: string, base: string): string {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new ImportItemError(`YouTube gave an invalid caption URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ImportItemError(`YouTube gave a ${url.protocol} caption URL`);
  return url.toString();
}

export class YoutubeClient {
  private readonly guard: OutboundGuard;

  constructor(
    runtime: Pick<Runtime, "outbound">,
    private readonly config: ImportConfig,
    private readonly signal?: AbortSignal,
  ) {
    this.guard = runtime.outbound;
  }

  private async get(url: string, accept: string): Promise<OutboundFetchResponse> {
    try {
      return await this.guard.fetch(url, {
        // English names and titles where YouTube has a choice; the transcript's language is the track's.
        headers: { accept, "accept-language": "en-US,en;q=0.9" },
        timeoutMs: this.config.fetchTimeoutMs,
        maxResponseBytes: this.config.pageMaxBytes,
        maxRedirects: this.config.maxRedirects,
        signal: this.signal,
        tooLarge: "truncate",
        // YOUTUBE_BASE_URL is the operator's (a trusted origin); other hosts still pass the policy.
        trusted: true,
      });
    } catch (err) {
      if (err instanceof ImportItemError || this.signal?.aborted) throw err;
      throw new ImportItemError(`Could not reach YouTube: ${networkReason(err, this.config.fetchTimeoutMs)}`);
    }
  }

  /** The video's title and transcript; ImportItemError saying why when there is none. */
  async transcript(videoId: string): Promise<Transcript> {
    const base = this.config.youtubeBaseUrl;
    const page = await this.get(`${base}/watch?v=${encodeURIComponent(videoId)}`, "text/html");
    if (page.status === 404) throw new ImportItemError(`YouTube video ${videoId} does not exist`);
    if (page.status < 200 || page.status >= 300) throw new ImportItemError(`YouTube answered HTTP ${page.status} for video ${videoId}`);
    const player = findPlayerResponse(page.body.toString("utf8"));
    if (!player) throw new ImportItemError(`Could not read the YouTube page of video ${videoId} (no player data)`);
    const info = playerInfo(player);
    if (info.status !== "OK") {
      const why = info.reason ?? (info.status === "LOGIN_REQUIRED" ? "it requires signing in" : info.status.toLowerCase());
      throw new ImportItemError(`YouTube video ${videoId} is unavailable: ${why}`);
    }
    const track = chooseTrack(info.tracks, info.defaultTrack);
    if (!track) throw new ImportItemError(`YouTube video ${videoId} has no captions, so there is no transcript to import`);
    const captions = await this.get(httpUrl(track.baseUrl, page.url), "application/xml,text/xml;q=0.9,*/*;q=0.1");
    if (captions.status < 200 || captions.status >= 300) {
      throw new ImportItemError(`The transcript of YouTube video ${videoId} could not be fetched (HTTP ${captions.status})`);
    }
    if (captions.truncated) throw new ImportItemError(`The transcript of YouTube video ${videoId} is larger than ${this.config.pageMaxBytes} bytes`);
    const content = limitText(captionsToParagraphs(parseTimedText(captions.body.toString("utf8"))), this.config.maxTextChars);
    if (!content) throw new ImportItemError(`The transcript of YouTube video ${videoId} is empty`);
    return { title: info.title ?? `YouTube video ${videoId}`, content, languageCode: track.languageCode, automatic: track.kind === "asr" };
  }
}

/** A fetch failure in a few words (the guard's refusal, a timeout, the socket's error). */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  if (e?.name === "OutboundFetchError" && e.code !== "TIMEOUT") return e.message;
  if (e?.name === "TimeoutError" || e?.code === "TIMEOUT" || e?.code === "UND_ERR_HEADERS_TIMEOUT" || e?.code === "UND_ERR_BODY_TIMEOUT") {
    return `timed out after ${timeoutMs} ms`;
  }
  const inner = e?.cause ?? e;
  return inner?.message || inner?.code || String(err);
}

/** At most max characters, cut at a paragraph (or, for one long paragraph, a word) boundary. */
function limitText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const at = Math.max(cut.lastIndexOf("\n\n"), cut.lastIndexOf(" "));
  return (at > 0 ? cut.slice(0, at) : cut).trim();
}
