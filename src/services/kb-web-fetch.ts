import { STATUS_CODES } from "node:http";
import type { ImportConfig } from "../config.ts";
import type { Runtime } from "./context.ts";
import { ImportItemError } from "./kb-import-types.ts";
import { OutboundFetchError, OutboundRefusedError, type OutboundFetchResponse } from "./outbound-guard.ts";

// Fetching one page (or sitemap, or robots.txt) to import, always through the outbound guard: every
// hop of a redirect passes the address policy when it connects, the size and the time are capped.
// Failures come back as ImportItemError with a message a person can act on ("HTTP 404", "not an
// HTML page", "refused: … loopback address"), which the import keeps as the item's error.

/** What a fetch is for: which content types it takes. */
export type FetchPurpose = "page" | "sitemap" | "robots";

export interface FetchedDocument {
  /** Where the content came from after redirects. */
  url: string;
  status: number;
  /** The media type, lower case, without parameters ("" when the server sent none). */
  mediaType: string;
  /** The body decoded with its charset (header, BOM, <meta> or XML declaration; UTF-8 otherwise). */
  text: string;
  /** The page is HTML (else plain text) — only meaningful for "page". */
  html: boolean;
}

export interface FetchOptions {
  signal?: AbortSignal;
  /** Defaults to config.fetchTimeoutMs. */
  timeoutMs?: number;
}

const ACCEPT: Record<FetchPurpose, string> = {
  page: "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.5",
  sitemap: "application/xml,text/xml;q=0.9,*/*;q=0.1",
  robots: "text/plain,*/*;q=0.1",
};
const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);
const XML_TYPES = new Set(["application/xml", "text/xml", "text/plain", ""]);

/** The server answered, with a status outside 2xx (robots.txt tells 4xx from 5xx). */
export class FetchStatusError extends ImportItemError {
  override name = "FetchStatusError";
  constructor(readonly status: number) {
    super(`HTTP ${status}${statusText(status)}`);
  }
}

function header(headers: OutboundFetchResponse["headers"], name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

const round = (n: number) => Math.round(n * 10) / 10;
const mib = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${round(bytes / 1024 / 1024)} MiB` : bytes >= 1024 ? `${round(bytes / 1024)} KiB` : `${bytes} bytes`;

/** The guard's failures, as a line for the item's error (the guard's messages name the URL and the cause). */
export function describeFetchError(err: unknown): string {
  if (err instanceof ImportItemError) return err.message;
  if (err instanceof OutboundRefusedError) return err.message;
  if (err instanceof OutboundFetchError) {
    if (err.code === "TOO_MANY_REDIRECTS") return `too many redirects: ${err.message}`;
    if (err.code === "TIMEOUT") return `timed out: ${err.message}`;
    return err.message;
  }
  return `could not fetch: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * Fetches one document to import. Throws ImportItemError: an error status, a content type that is
 * not what the purpose takes, a body over config.pageMaxBytes, a refused address, a timeout. The
 * caller's signal (the run's) aborts it: that error is rethrown as it is.
 */
export async function fetchDocument(
  runtime: Pick<Runtime, "outbound">,
  config: ImportConfig,
  url: string,
  purpose: FetchPurpose,
  options: FetchOptions = {},
): Promise<FetchedDocument> {
  const guard = runtime.outbound;
  const timeoutMs = options.timeoutMs ?? config.fetchTimeoutMs;
  let res: OutboundFetchResponse;
  try {
    res = await guard.fetch(url, {
      headers: { accept: ACCEPT[purpose] },
      timeoutMs,
      maxResponseBytes: config.pageMaxBytes,
      maxRedirects: config.maxRedirects,
      signal: options.signal,
      tooLarge: "error",
    });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    if (err instanceof OutboundFetchError && err.code === "RESPONSE_TOO_LARGE") {
      throw new ImportItemError(`larger than ${mib(config.pageMaxBytes)} (IMPORT_PAGE_MAX_BYTES)`);
    }
    throw new ImportItemError(describeFetchError(err));
  }
  if (res.status < 200 || res.status > 299) throw new FetchStatusError(res.status);
  const contentType = header(res.headers, "content-type");
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  let html = HTML_TYPES.has(mediaType);
  if (purpose === "page" && !html && mediaType !== "text/plain") {
    // No content type at all: a body that opens like an HTML document is taken as one.
    if (mediaType === "" && looksLikeHtml(res.body)) html = true;
    else throw new ImportItemError(`not an HTML page (${mediaType || "no content type"})`);
  }
  if (purpose === "sitemap" && !XML_TYPES.has(mediaType) && !mediaType.endsWith("+xml")) {
    throw new ImportItemError(`not an XML sitemap (${mediaType})`);
  }
  const text = decodeBody(res.body, charsetOf(contentType), purpose === "page" ? (html ? "html" : "text") : purpose === "sitemap" ? "xml" : "text");
  return { url: res.url, status: res.status, mediaType, text, html };
}

const statusText = (status: number) => (STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : "");

function looksLikeHtml(body: Buffer): boolean {
  const head = body.subarray(0, 512).toString("latin1").trimStart().toLowerCase();
  return head.startsWith("<!doctype html") || head.startsWith("<html") || (head.startsWith("<") && head.includes("<html"));
}

function charsetOf(contentType: string): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m ? m[1]!.toLowerCase() : null;
}

function decoderFor(label: string | null): TextDecoder | null {
  if (!label) return null;
  try {
    return new TextDecoder(label);
  } catch {
    return null;
  }
}

/**
 * The body as text. A byte-order mark wins (as browsers do), then the header's charset, then what
 * the document declares in its first KiB (<meta charset>, or the XML declaration); UTF-8 otherwise.
 * Unknown labels are ignored rather than failing the page.
 */
export function decodeBody(body: Buffer, headerCharset: string | null, kind: "html" | "xml" | "text"): string {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return new TextDecoder("utf-8").decode(body.subarray(3));
  if (body[0] === 0xff && body[1] === 0xfe) return new TextDecoder("utf-16le").decode(body.subarray(2));
  if (body[0] === 0xfe && body[1] === 0xff) return new TextDecoder("utf-16be").decode(body.subarray(2));
  let decoder = decoderFor(headerCharset);
  if (!decoder && kind !== "text") {
    const head = body.subarray(0, 1024).toString("latin1");
    const declared =
      kind === "html"
        ? (/<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head)?.[1] ?? null)
        : (/^\s*<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']/i.exec(head)?.[1] ?? null);
    decoder = decoderFor(declared);
  }
  return (decoder ?? new TextDecoder("utf-8")).decode(body);
}
