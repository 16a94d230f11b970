import * as cheerio from "cheerio";

// Reading what a YouTube watch page and its caption tracks say, without fetching anything: the
// player response embedded in the page (title, playability, caption tracks), which track to take,
// and the timedtext XML turned into paragraphs of plain text.

export interface CaptionTrack {
  baseUrl: string;
  languageCode: string;
  /** "asr" for automatic speech recognition; absent for captions someone wrote. */
  kind?: string;
  name?: string;
}

export interface PlayerInfo {
  /** OK, ERROR, UNPLAYABLE, LOGIN_REQUIRED, LIVE_STREAM_OFFLINE, … */
  status: string;
  reason: string | null;
  title: string | null;
  tracks: CaptionTrack[];
  /** The index in tracks YouTube itself would show first, when it says. */
  defaultTrack: number | null;
}

export interface Caption {
  /** Seconds from the start. */
  start: number;
  duration: number;
  text: string;
}

/**
 * The JSON object starting at text[from] ("{"), by counting braces outside strings: the page has
 * the object inline in a script (`var ytInitialPlayerResponse = {...};`), followed by more code.
 */
export function jsonObjectAt(text: string, from: number): string | null {
  if (text[from] !== "{") return null;
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return text.slice(from, i + 1);
  }
  return null;
}

/** The player response of a watch page, or null when the page has none (not a watch page, a consent wall). */
export function findPlayerResponse(html: string): Record<string, unknown> | null {
  const marker = /ytInitialPlayerResponse"?\]?\s*=\s*\{/g;
  for (let m = marker.exec(html); m; m = marker.exec(html)) {
    const json = jsonObjectAt(html, m.index + m[0].length - 1);
    if (!json) continue;
    try {
      const value: unknown = JSON.parse(json);
      if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // Another occurrence (inside a string, say) may be the real one.
    }
  }
  return null;
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

/** YouTube writes names as {simpleText} or {runs: [{text}]}. */
function textOf(v: unknown): string | undefined {
  const o = obj(v);
  if (typeof o.simpleText === "string") return o.simpleText;
  if (Array.isArray(o.runs)) return o.runs.map((r) => String(obj(r).text ?? "")).join("") || undefined;
  return undefined;
}

export function playerInfo(player: Record<string, unknown>): PlayerInfo {
  const playability = obj(player.playabilityStatus);
  const renderer = obj(obj(player.captions).playerCaptionsTracklistRenderer);
  const tracks: CaptionTrack[] = [];
  for (const t of Array.isArray(renderer.captionTracks) ? renderer.captionTracks : []) {
    const o = obj(t);
    const baseUrl = str(o.baseUrl);
    if (!baseUrl) continue;
    tracks.push({ baseUrl, languageCode: str(o.languageCode) ?? "", kind: str(o.kind) ?? undefined, name: textOf(o.name) });
  }
  const audio = Array.isArray(renderer.audioTracks) ? obj(renderer.audioTracks[0]) : {};
  const defaultTrack = typeof audio.defaultCaptionTrackIndex === "number" && tracks[audio.defaultCaptionTrackIndex] ? audio.defaultCaptionTrackIndex : null;
  return {
    status: str(playability.status) ?? "OK",
    reason: str(playability.reason) ?? textOf(obj(playability.errorScreen).playerErrorMessageRenderer) ?? null,
    title: str(obj(player.videoDetails).title),
    tracks,
    defaultTrack,
  };
}

const primary = (lang: string) => lang.toLowerCase().split(/[-_]/)[0] ?? "";

/**
 * The track to import: captions someone wrote beat speech recognition. Among written ones, the
 * video's own language (that of its automatic track, which follows the speech, else YouTube's
 * default track), then English, then the first; without any, the automatic track.
 */
export function chooseTrack(tracks: CaptionTrack[], defaultTrack: number | null = null): CaptionTrack | null {
  const manual = tracks.filter((t) => t.kind !== "asr");
  const asr = tracks.filter((t) => t.kind === "asr");
  const spoken = asr[0]?.languageCode ?? (defaultTrack !== null ? tracks[defaultTrack]?.languageCode : undefined);
  const inLanguage = (lang: string | undefined) => (lang ? manual.find((t) => primary(t.languageCode) === primary(lang)) : undefined);
  return inLanguage(spoken) ?? inLanguage("en") ?? manual[0] ?? asr[0] ?? null;
}

/**
 * Entities left after the XML parse (YouTube encodes caption text twice) and markup like <font>,
 * which may itself have been encoded: decoded and stripped until nothing changes (twice at most).
 */
function plain(text: string): string {
  let out = text;
  for (let pass = 0; pass < 2 && /&[#a-z0-9]+;|<[a-z/]/i.test(out); pass++) out = cheerio.load(out, null, false).text();
  return out.replace(/\s+/g, " ").trim();
}

/** Both timedtext formats: <transcript><text start dur> (seconds) and srv3 <timedtext><body><p t d> (milliseconds). */
export function parseTimedText(xml: string): Caption[] {
  const $ = cheerio.load(xml, { xml: true });
  const captions: Caption[] = [];
  const num = (v: string | undefined, scale: number) => {
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n / scale : 0;
  };
  $("transcript > text").each((_, el) => {
    const e = $(el);
    captions.push({ start: num(e.attr("start"), 1), duration: num(e.attr("dur"), 1), text: plain(e.text()) });
  });
  $("timedtext > body > p").each((_, el) => {
    const e = $(el);
    captions.push({ start: num(e.attr("t"), 1000), duration: num(e.attr("d"), 1000), text: plain(e.text()) });
  });
  return captions.filter((c) => c.text);
}

/** Sound annotations ("[Music]", "[Applause]") say nothing a reader wants. */
const ANNOTATION = /^[[(][^\])]*[\])]$/;
const SENTENCE_END = /[.!?…]["'”’)]*$/;
export const PARAGRAPH_CHARS = 500;
const PARAGRAPH_MAX_CHARS = 1000;
const PAUSE_SECONDS = 2;

/**
 * Captions → paragraphs: a pause of more than two seconds starts a new one, and so does a sentence
 * end once a paragraph has ~500 characters (or, without one, 1000). Paragraphs are separated by a
 * blank line, as every imported article's.
 */
export function captionsToParagraphs(captions: Caption[]): string {
  const paragraphs: string[] = [];
  let current = "";
  let lastEnd: number | null = null;
  for (const c of captions) {
    if (ANNOTATION.test(c.text)) continue;
    const pause = lastEnd !== null && c.start - lastEnd > PAUSE_SECONDS;
    const full = current.length >= PARAGRAPH_MAX_CHARS || (current.length >= PARAGRAPH_CHARS && SENTENCE_END.test(current));
    if (current && (pause || full)) {
      paragraphs.push(current);
      current = "";
    }
    current = current ? `${current} ${c.text}` : c.text;
    lastEnd = c.start + c.duration;
  }
  if (current) paragraphs.push(current);
  return paragraphs.join("\n\n");
}
