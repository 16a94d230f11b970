import dns, { type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import { Agent, buildConnector, request } from "undici";
import { OutboundPolicy, stripBrackets } from "./outbound-policy.ts";

export { OutboundRefusedError, parseAllowlist } from "./outbound-policy.ts";

// Requests Parley makes to addresses someone else chose (webhook receivers, later web imports) must
// not reach the server's own network: loopback, private ranges, link-local (cloud metadata), and
// the like. The check runs when the connection is made, on every address the name resolves to, so
// a name that resolved to a public address when it was saved and to 127.0.0.1 now (DNS rebinding)
// is refused too. OUTBOUND_ALLOWLIST opens chosen hosts or ranges (development, tests, an intranet).

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup's shape (as net.connect calls it); tests pass their own resolver. */
export type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

export interface OutboundRequest {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The whole exchange: connect, headers and body. */
  timeoutMs: number;
  /** Reading stops here (the rest is discarded); `truncated` says so. */
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  truncated: boolean;
}

/**
 * The outbound HTTP client with its address policy. One per runtime (its allowlist comes from the
 * config); keep-alive connections are pooled in its agent.
 */
export class OutboundGuard {
  readonly policy: OutboundPolicy;
  private agentInstance: Agent | undefined;

  constructor(
    allowlist: readonly string[] = [],
    private readonly resolve: LookupFunction = dns.lookup as unknown as LookupFunction,
  ) {
    this.policy = new OutboundPolicy(allowlist);
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
    if (!this.agentInstance) {
      const connector = buildConnector({ timeout: 10_000, lookup: this.lookup });
      this.agentInstance = new Agent({
        keepAliveTimeout: 4_000,
        connect: (options, callback) => {
          const host = stripBrackets(options.hostname);
          if (isIP(host) && !this.policy.hostAllowed(host)) {
            const why = this.policy.refusal(host);
            if (why) return callback(this.policy.refused(host, why, false), null);
          }
          connector(options, callback);
        },
      });
    }
    return this.agentInstance;
  }

  /**
   * One HTTP request through the guard. Redirects are not followed (a 3xx comes back as it is: the
   * caller decides, and a redirect would otherwise skip its checks); the body is read up to
   * maxResponseBytes.
   */
  async request(url: string | URL, req: OutboundRequest): Promise<OutboundResponse> {
    const timeout = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const res = await request(url, {
      method: req.method ?? "GET",
      headers: req.headers,
      body: req.body,
      dispatcher: this.agent,
      signal,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const room = req.maxResponseBytes - size;
      if (chunk.length >= room) {
        chunks.push(chunk.subarray(0, room));
        size += room;
        truncated = chunk.length > room;
        if (truncated) break;
      } else {
        chunks.push(chunk);
        size += chunk.length;
      }
    }
    // Leaving the loop early destroys the stream; the connection is then not reused.
    if (truncated) res.body.destroy();
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), truncated };
  }

  async close(): Promise<void> {
    const agent = this.agentInstance;
    this.agentInstance = undefined;
    await agent?.close();
  }
}
