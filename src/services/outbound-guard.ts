import dns, { type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import { Agent, buildConnector, request, type Dispatcher } from "undici";
import type { Config } from "../config.ts";
import {
  announcedLength,
  cappedChunks,
  DEFAULT_USER_AGENT,
  httpUrl,
  outboundFailure,
  readCapped,
  redirectedRequest,
  redirectLocation,
  requestHeaders,
  tooLarge,
  type HopRequest,
  type OutboundFetchOptions,
  type OutboundFetchResponse,
  type OutboundRequest,
  type OutboundResponse,
  type OutboundStreamOptions,
  type OutboundStreamResponse,
} from "./outbound-http.ts";
import { OutboundFetchError, OutboundPolicy, originKey, stripBrackets, urlOriginKey } from "./outbound-policy.ts";

export { OutboundFetchError, OutboundRefusedError, parseAllowlist, type OutboundFetchErrorCode } from "./outbound-policy.ts";
export {
  DEFAULT_USER_AGENT,
  type OutboundBody,
  type OutboundFetchOptions,
  type OutboundFetchResponse,
  type OutboundMethod,
  type OutboundRequest,
  type OutboundResponse,
  type OutboundStreamOptions,
  type OutboundStreamResponse,
  type ResponseHeaders,
} from "./outbound-http.ts";

// Every request Parley makes to the outside (webhook receivers, imported pages and sitemaps,
// YouTube, Intercom, the LLM) goes through this guard. Addresses someone else chose must not reach
// the server's own network: loopback, private ranges, link-local (cloud metadata), and the like.
// The check runs when the connection is made, on every address the name resolves to, so a name
// that resolved to a public address when it was saved and to 127.0.0.1 now (DNS rebinding) is
// refused too, and so is every hop of a redirect chain. OUTBOUND_ALLOWLIST opens chosen hosts or
// ranges (development, tests, an intranet). The base URLs the operator configured (a local Ollama,
// a test stub) are trusted origins: exactly those scheme://host:port skip the address check, but
// only for requests that say they were built from that configuration (`trusted`), so a URL a user
// chose (or a sitemap listed, or a redirect pointed to) never reaches them unchecked.

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup's shape (as net.connect calls it); tests pass their own resolver. */
export type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

export interface OutboundGuardOptions {
  /** Origins (any URL on them) the operator configured: the address policy does not apply to exactly these. */
  trustedOrigins?: readonly string[];
  /** Name resolution (dns.lookup by default). */
  resolve?: LookupFunction;
  /** Sent when the caller sets none. */
  userAgent?: string;
}

interface Opened {
  res: Dispatcher.ResponseData;
  url: URL;
  redirects: string[];
  fail: (err: unknown) => Error;
}

/** The runtime's guard: OUTBOUND_ALLOWLIST, and the configured base URLs as trusted origins. */
export function createOutboundGuard(config: Pick<Config, "outboundAllowlist" | "llm" | "translator" | "imports">): OutboundGuard {
  const origins = [config.llm?.baseUrl, config.translator?.baseUrl, config.imports.youtubeBaseUrl, config.imports.intercomBaseUrl];
  return new OutboundGuard(config.outboundAllowlist, { trustedOrigins: origins.filter((o): o is string => Boolean(o)) });
}

/**
 * The outbound HTTP client with its address policy. One per runtime (its allowlist and trusted
 * origins come from the config); keep-alive connections are pooled in its agent.
 */
export class OutboundGuard {
  readonly policy: OutboundPolicy;
  private readonly trustedOrigins: ReadonlySet<string>;
  private readonly resolve: LookupFunction;
  private readonly userAgent: string;
  private strictAgent: Agent | undefined;
  private trustAgent: Agent | undefined;

  constructor(allowlist: readonly string[] = [], options: OutboundGuardOptions | LookupFunction = {}) {
    const o = typeof options === "function" ? { resolve: options } : options;
    this.policy = new OutboundPolicy(allowlist);
    this.resolve = o.resolve ?? (dns.lookup as unknown as LookupFunction);
    this.userAgent = o.userAgent ?? DEFAULT_USER_AGENT;
    const trusted = new Set<string>();
    for (const origin of o.trustedOrigins ?? []) {
      const key = urlOriginKey(origin);
      if (!key) throw new Error(`trusted origin ${origin} is not an http(s) URL`);
      trusted.add(key);
    }
    this.trustedOrigins = trusted;
  }

  /** The URL is on a trusted origin (requests with `trusted` skip the address policy there). */
  isTrusted(url: string | URL): boolean {
    const key = urlOriginKey(url);
    return key !== null && this.trustedOrigins.has(key);
  }

  /**
   * A save-time check of a URL's host, for a clear error before anything is stored: IP literals
   * are checked as they are, names by resolving them. A name that does not resolve now passes
   * (it is checked again on every connection).
   */
  async checkHost(hostname: string, timeoutMs = 3000): Promise<string | null> {
    const host = stripBrackets(hostname);
    if (this.policy.hostAllowed(host)) return null;
    if (isIP(host)) {
      const why = this.policy.refusal(host);
      return why && this.policy.refused(host, why, false).message;
    }
    const addresses = await new Promise<LookupAddress[]>((resolve) => {
      const timer = setTimeout(() => resolve([]), timeoutMs);
      this.resolve(host, { all: true }, (err, found) => {
        clearTimeout(timer);
        resolve(err || !Array.isArray(found) ? [] : found);
      });
    });
    for (const a of addresses) {
      const why = this.policy.refusal(a.address);
      if (why) return this.policy.refused(host, why, true).message;
    }
    return null;
  }

  /**
   * checkHost for a URL a user gave: also refuses what is not http(s). Trusted origins get no
   * exception here (they are for the operator's own requests).
   */
  async checkUrl(raw: string | URL, timeoutMs = 3000): Promise<string | null> {
    let url: URL;
    try {
      url = httpUrl(raw);
    } catch (err) {
      return (err as Error).message;
    }
    return this.checkHost(url.hostname, timeoutMs);
  }

  /** dns.lookup that refuses the whole name when any address it resolves to is refused. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname, { ...options, all: true }, (err, found) => {
      if (err) return callback(err, []);
      const addresses = found as LookupAddress[];
      if (!this.policy.hostAllowed(hostname)) {
        for (const a of addresses) {
          const why = this.policy.refusal(a.address);
          if (why) return callback(this.policy.refused(hostname, why, true), []);
        }
      }
      if (!addresses.length) return callback(Object.assign(new Error(`${hostname} did not resolve`), { code: "ENOTFOUND" }), []);
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

  /** An undici dispatcher whose every new connection passes the policy (IP literals never reach a lookup). */
  get agent(): Agent {
    this.strictAgent ??= this.buildAgent(false);
    return this.strictAgent;
  }

  /**
   * The dispatcher for requests the operator's configuration chose: connections to a trusted
   * origin skip the policy, all others pass it. Its own pool, so a connection opened this way
   * never serves a request a user chose.
   */
  private get trustingAgent(): Agent {
    this.trustAgent ??= this.buildAgent(true);
    return this.trustAgent;
  }

  private buildAgent(trusting: boolean): Agent {
    const guarded = buildConnector({ timeout: 10_000, lookup: this.lookup });
    const open = buildConnector({ timeout: 10_000, lookup: this.resolve });
    return new Agent({
      keepAliveTimeout: 4_000,
      connect: (options, callback) => {
        if (trusting && this.trustedOrigins.has(originKey(options.protocol, options.hostname, options.port))) return open(options, callback);
        const host = stripBrackets(options.hostname);
        if (isIP(host) && !this.policy.hostAllowed(host)) {
          const why = this.policy.refusal(host);
          if (why) return callback(this.policy.refused(host, why, false), null);
        }
        guarded(options, callback);
      },
    });
  }

  /**
   * A request with its body read into memory. Redirects are followed here, so every hop is
   * http(s), passes the address policy, and counts against maxRedirects and the one timeout.
   * Throws OutboundRefusedError (the address policy) or OutboundFetchError.
   */
  async fetch(url: string | URL, options: OutboundFetchOptions): Promise<OutboundFetchResponse> {
    const { res, url: final, redirects, fail } = await this.open(url, options);
    const base = { status: res.statusCode, url: final.href, headers: res.headers, redirects };
    if ((options.method ?? "GET") === "HEAD") {
      await res.body.dump().catch(() => {});
      return { ...base, body: Buffer.alloc(0), truncated: false };
    }
    const mode = options.tooLarge ?? "error";
    const announced = announcedLength(res.headers);
    if (mode === "error" && announced !== null && announced > options.maxResponseBytes) {
      res.body.destroy();
      throw tooLarge(final, options.maxResponseBytes, announced);
    }
    try {
      return { ...base, ...(await readCapped(res.body, final, options.maxResponseBytes, mode)) };
    } catch (err) {
      throw fail(err);
    }
  }

  /** As fetch, with the body handed over as it arrives (server-sent events), under the same caps. */
  async stream(url: string | URL, options: OutboundStreamOptions): Promise<OutboundStreamResponse> {
    const { res, url: final, redirects, fail } = await this.open(url, options);
    const announced = announcedLength(res.headers);
    if (announced !== null && announced > options.maxResponseBytes) {
      res.body.destroy();
      throw tooLarge(final, options.maxResponseBytes, announced);
    }
    return {
      status: res.statusCode,
      url: final.href,
      headers: res.headers,
      redirects,
      body: cappedChunks(res.body, final, options.maxResponseBytes, fail),
      cancel: () => void res.body.destroy(),
    };
  }

  /**
   * One request, redirects not followed (a 3xx comes back as it is: the webhook sender reports
   * it), the body cut at maxResponseBytes.
   */
  async request(url: string | URL, req: OutboundRequest): Promise<OutboundResponse> {
    const res = await this.fetch(url, { ...req, maxRedirects: 0, redirect: "manual", tooLarge: "truncate" });
    return { status: res.status, headers: res.headers, body: res.body, truncated: res.truncated };
  }

  /** Sends the request, following redirects unless told not to; the response's body is still unread. */
  private async open(input: string | URL, options: OutboundStreamOptions): Promise<Opened> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let url = httpUrl(input);
    const failure = { timeout, timeoutMs: options.timeoutMs, caller: options.signal };
    let hop: HopRequest = { method: options.method ?? "GET", headers: requestHeaders(options.headers, this.userAgent), body: options.body };
    const redirects: string[] = [];
    for (;;) {
      let res: Dispatcher.ResponseData;
      try {
        signal.throwIfAborted();
        res = await request(url, {
          method: hop.method,
          headers: hop.headers,
          body: hop.body,
          dispatcher: options.trusted ? this.trustingAgent : this.agent,
          signal,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        });
      } catch (err) {
        throw outboundFailure(err, url, failure);
      }
      const current = url;
      const location = options.redirect === "manual" ? null : redirectLocation(res.statusCode, res.headers);
      if (location === null) return { res, url, redirects, fail: (err) => outboundFailure(err, current, failure) };
      // The redirect's own body is of no interest; reading a little of it keeps the connection reusable.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
      const next = httpUrl(location, url);
      if (redirects.length >= options.maxRedirects) {
        throw new OutboundFetchError("TOO_MANY_REDIRECTS", `${redirects[0] ?? url.href} redirected more than ${options.maxRedirects} times`, url.href);
      }
      redirects.push(url.href);
      hop = redirectedRequest(res.statusCode, url, next, hop);
      url = next;
    }
  }

  async close(): Promise<void> {
    const agents = [this.strictAgent, this.trustAgent];
    this.strictAgent = this.trustAgent = undefined;
    await Promise.all(agents.map((a) => a?.close()));
  }
}
