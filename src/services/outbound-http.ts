import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { OutboundFetchError, OutboundRefusedError } from "./outbound-policy.ts";

// The outbound guard's request and response shapes, and the HTTP mechanics that do not touch
// connections: URLs and redirects as fetch does them, reading a body under a cap, and turning
// undici's failures into the guard's two errors (OutboundRefusedError for the address policy,
// OutboundFetchError for the rest).

export type OutboundMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
export type OutboundBody = string | Buffer | Uint8Array;
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface OutboundFetchOptions {
  method?: OutboundMethod;
  headers?: Record<string, string>;
  /** Sent again on a 307/308 redirect; dropped when a redirect turns the request into a GET. */
  body?: OutboundBody;
  /** The whole exchange: every hop, and the body. */
  timeoutMs: number;
  maxResponseBytes: number;
  /** Redirects followed at most (0: none; a redirect is then TOO_MANY_REDIRECTS). */
  maxRedirects: number;
  signal?: AbortSignal;
  /** Beyond maxResponseBytes: RESPONSE_TOO_LARGE ("error", the default) or the first bytes with `truncated`. */
  tooLarge?: "error" | "truncate";
  /** "manual": a redirect comes back as the response, not followed (webhooks). */
  redirect?: "follow" | "manual";
  /**
   * The URL was built from the operator's configuration (LLM_BASE_URL, YOUTUBE_BASE_URL…), not
   * chosen by a user: hops on a trusted origin skip the address policy (hops elsewhere do not).
   * Never set it for a URL a user gave or a page named: a sitemap could list the local LLM server.
   */
  trusted?: boolean;
}

export interface OutboundFetchResponse {
  status: number;
  /** Where the response came from (after the redirects; no fragment). */
  url: string;
  /** Lower-case names. */
  headers: ResponseHeaders;
  body: Buffer;
  truncated: boolean;
  /** The URLs that answered with a redirect, in order (the first is the one asked for); [] without redirects. */
  redirects: string[];
}

export type OutboundStreamOptions = Omit<OutboundFetchOptions, "tooLarge">;

export interface OutboundStreamResponse {
  status: number;
  url: string;
  headers: ResponseHeaders;
  redirects: string[];
  /**
   * The body as it arrives; iterating throws OutboundFetchError (RESPONSE_TOO_LARGE past
   * maxResponseBytes, TIMEOUT when timeoutMs, counted from the request, runs out). Iterate it
   * once; breaking out of the loop closes the connection.
   */
  body: AsyncIterable<Uint8Array>;
  /** Drops the response when its body is not wanted (or not wanted any more). */
  cancel(): void;
}

/** The webhook sender's request: one hop, never a redirect, a body cut at the cap. */
export interface OutboundRequest {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** Reading stops here (the rest is discarded); `truncated` says so. */
  maxResponseBytes: number;
  signal?: AbortSignal;
  /** As in OutboundFetchOptions. */
  trusted?: boolean;
}

export interface OutboundResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
  truncated: boolean;
}

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Sent unless the caller names its own, so site operators can tell who is fetching and why. */
export const DEFAULT_USER_AGENT = `Parley/${VERSION} (+self-hosted knowledge importer)`;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that describe a request body: gone with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = ["content-type", "content-length", "content-encoding", "content-language", "content-location"];
/** Credentials meant for one origin (as fetch drops them on a cross-origin redirect). */
const ORIGIN_CREDENTIALS = ["authorization", "proxy-authorization", "cookie"];

/** An http(s) URL without its fragment (never sent), or BAD_URL / BAD_SCHEME. */
export function httpUrl(raw: string | URL, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    const where = base ? base.href : String(raw);
    throw base
      ? new OutboundFetchError("BAD_REDIRECT", `${where} redirected to an invalid URL: ${String(raw).slice(0, 200)}`, where)
      : new OutboundFetchError("BAD_URL", `not a valid URL: ${String(raw).slice(0, 200)}`, where);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    const where = base ? base.href : url.href;
    const what = base ? `${where} redirected to a ${url.protocol} URL` : `${url.protocol} URLs cannot be fetched`;
    throw new OutboundFetchError("BAD_SCHEME", `${what} (http and https only)`, where);
  }
  url.hash = "";
  return url;
}

/** Header names in lower case (so the guard's own edits cannot miss a differently spelled duplicate), with a User-Agent. */
export function requestHeaders(given: Record<string, string> | undefined, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) headers[name.toLowerCase()] = value;
  headers["user-agent"] ??= userAgent;
  return headers;
}

/** The Location of a redirect response, or null when the response is to be handed over as it is. */
export function redirectLocation(status: number, headers: ResponseHeaders): string | null {
  if (!REDIRECTS.has(status)) return null;
  const location = headers.location;
  const value = Array.isArray(location) ? location[0] : location;
  return value ? value : null;
}

export interface HopRequest {
  method: OutboundMethod;
  headers: Record<string, string>;
  body: OutboundBody | undefined;
}

/**
 * The request for the next hop, as fetch builds it: 303 (for anything but GET/HEAD) and 301/302
 * after a POST become a GET without the body; 307/308 repeat method and body. Credentials stay
 * with their origin.
 */
export function redirectedRequest(status: number, from: URL, to: URL, req: HopRequest): HopRequest {
  let { method, body } = req;
  const headers = { ...req.headers };
  if ((status === 303 && method !== "GET" && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
    method = "GET";
    body = undefined;
    for (const name of BODY_HEADERS) delete headers[name];
  }
  if (from.origin !== to.origin) for (const name of ORIGIN_CREDENTIALS) delete headers[name];
  return { method, headers, body };
}

/** The announced Content-Length, when there is a sane one. */
export function announcedLength(headers: ResponseHeaders): number | null {
  const raw = headers["content-length"];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d+$/.test(value.trim())) return null;
  return Number(value);
}

export function tooLarge(url: URL, cap: number, announced?: number): OutboundFetchError {
  const size = announced === undefined ? `more than ${cap} bytes` : `${announced} bytes (the limit is ${cap})`;
  return new OutboundFetchError("RESPONSE_TOO_LARGE", `the response from ${url.href} is ${size}`, url.href);
}

/**
 * Reads a body up to `cap` bytes: beyond it either throws RESPONSE_TOO_LARGE or stops and says so
 * (the rest is not read; the connection is dropped rather than drained).
 */
export async function readCapped(body: Readable, url: URL, cap: number, mode: "error" | "truncate"): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = cap - size;
    if (chunk.length <= room) {
      chunks.push(chunk);
      size += chunk.length;
      continue;
    }
    body.destroy();
    if (mode === "error") throw tooLarge(url, cap);
    chunks.push(chunk.subarray(0, room));
    return { body: Buffer.concat(chunks), truncated: true };
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** The chunks of a body, failing with RESPONSE_TOO_LARGE once they pass `cap` bytes. */
export async function* cappedChunks(body: Readable, url: URL, cap: number, fail: (err: unknown) => Error): AsyncGenerator<Uint8Array> {
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > cap) throw tooLarge(url, cap);
      yield chunk;
    }
  } catch (err) {
    throw fail(err);
  } finally {
    // Also when the consumer stops early: the rest of the body is not wanted.
    if (!body.readableEnded) body.destroy();
  }
}

export interface FailureContext {
  timeout: AbortSignal;
  timeoutMs: number;
  caller?: AbortSignal;
}

/** The guard's error for whatever undici (or the body stream) threw. */
export function outboundFailure(err: unknown, url: URL, c: FailureContext): Error {
  if (err instanceof OutboundFetchError || err instanceof OutboundRefusedError) return err;
  const e = err as { code?: string; message?: string; cause?: unknown };
  if (e?.cause instanceof OutboundRefusedError) return e.cause;
  if (c.caller?.aborted) return new OutboundFetchError("ABORTED", `the request to ${url.href} was cancelled`, url.href, { cause: err });
  if (c.timeout.aborted || (e?.code && /^UND_ERR_(HEADERS|BODY|CONNECT)_TIMEOUT$/.test(e.code))) {
    return new OutboundFetchError("TIMEOUT", `${url.href} did not answer within ${c.timeoutMs} ms`, url.href, { cause: err });
  }
  const cause = e?.cause as { message?: string } | undefined;
  const detail = cause?.message && cause.message !== e?.message ? `${e?.message}: ${cause.message}` : (e?.message ?? String(err));
  return new OutboundFetchError("NETWORK", detail, url.href, { cause: err });
}
