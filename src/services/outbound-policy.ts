import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

// Which addresses outbound requests may reach: globally routable unicast only, unless
// OUTBOUND_ALLOWLIST names the host, the address or its range. Kept free of the HTTP client so the
// config can validate the allowlist without loading it.

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** A refused target: the message says which address and why, and how to permit it. */
export class OutboundRefusedError extends Error {
  override name = "OutboundRefusedError";
  readonly code = "OUTBOUND_REFUSED";
}

export const stripBrackets = (host: string) => host.replace(/^\[(.*)\]$/, "$1");

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/;

/**
 * Validates OUTBOUND_ALLOWLIST entries: a host name, an IP address or a CIDR range. Returns the
 * entries normalised (lower case), or throws with the first bad one.
 */
export function parseAllowlist(value: string): string[] {
  const entries = value.split(",").map((e) => e.trim().toLowerCase()).filter(Boolean);
  for (const e of entries) {
    if (e.includes("/")) {
      if (!ipaddr.isValidCIDR(e)) throw new Error(`"${e}" is not a valid CIDR range (e.g. 10.0.0.0/8)`);
    } else if (!isIP(stripBrackets(e)) && !HOST_NAME.test(e)) {
      throw new Error(`"${e}" is neither a host name, an IP address nor a CIDR range`);
    }
  }
  return entries;
}

const RANGE_NAMES: Record<string, string> = {
  loopback: "a loopback",
  private: "a private",
  carrierGradeNat: "a carrier-grade NAT (100.64.0.0/10)",
  uniqueLocal: "a private (unique local)",
  linkLocal: "a link-local",
  unspecified: "an unspecified",
  multicast: "a multicast",
  broadcast: "a broadcast",
  reserved: "a reserved",
};

const METADATA = new Set(["169.254.169.254", "fd00:ec2::254"]);

export class OutboundPolicy {
  private readonly hosts = new Set<string>();
  private readonly ranges: Cidr[] = [];

  constructor(allowlist: readonly string[] = []) {
    for (const entry of allowlist) {
      if (entry.includes("/")) this.ranges.push(ipaddr.parseCIDR(entry));
      else if (isIP(stripBrackets(entry))) {
        const addr = ipaddr.parse(stripBrackets(entry));
        this.ranges.push([addr, addr.kind() === "ipv4" ? 32 : 128]);
      } else this.hosts.add(entry.replace(/\.$/, ""));
    }
  }

  /** Why `address` may not be reached (a sentence), or null when it may. */
  refusal(address: string): string | null {
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      addr = ipaddr.parse(stripBrackets(address));
    } catch {
      return `${address} is not an IP address`;
    }
    // ::ffff:127.0.0.1 is 127.0.0.1.
    if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
    if (this.ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) return null;
    const text = addr.toString();
    if (METADATA.has(text)) return `${text} is a cloud metadata address`;
    const range = addr.range();
    // Only globally routable unicast is fair game; NAT64, 6to4, Teredo and other special IPv6
    // ranges can wrap an internal IPv4 address, so they are refused with the rest.
    if (range === "unicast") return null;
    return `${text} is ${RANGE_NAMES[range] ?? `a special-purpose (${range})`} address`;
  }

  /** The allowlist names this host: any address it resolves to may be reached. */
  hostAllowed(hostname: string): boolean {
    return this.hosts.has(stripBrackets(hostname).toLowerCase().replace(/\.$/, ""));
  }

  /** The error for a refused connection to `host`; `resolved` when the refused address came from DNS. */
  refused(host: string, why: string, resolved: boolean): OutboundRefusedError {
    const reason = resolved ? `it resolves to ${why.replace(/ is /, ", which is ")}` : why;
    return new OutboundRefusedError(`refused to connect to ${host}: ${reason} (OUTBOUND_ALLOWLIST can permit it)`);
  }
}

export type OutboundFetchErrorCode =
  /** The URL (or a redirect's Location) is not http(s). */
  | "BAD_SCHEME"
  /** The URL is not a URL at all. */
  | "BAD_URL"
  /** A redirect's Location could not be parsed. */
  | "BAD_REDIRECT"
  | "TOO_MANY_REDIRECTS"
  /** The body is (or announces itself as) larger than the caller's cap. */
  | "RESPONSE_TOO_LARGE"
  /** The whole exchange, redirects and body included, took longer than the caller's cap. */
  | "TIMEOUT"
  /** The caller's signal stopped it. */
  | "ABORTED"
  /** Anything the network said: refused connection, reset, unknown host, TLS, malformed HTTP. */
  | "NETWORK";

/** A fetch that did not produce a usable response; `url` is the hop it happened on. */
export class OutboundFetchError extends Error {
  override name = "OutboundFetchError";
  constructor(
    readonly code: OutboundFetchErrorCode,
    message: string,
    readonly url: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** scheme://host:port with the default port spelled out: how trusted origins are compared. */
export function originKey(protocol: string, hostname: string, port: string | number): string {
  const scheme = protocol.replace(/:$/, "").toLowerCase();
  const effective = port === "" || port === undefined ? (scheme === "https" ? 443 : 80) : Number(port);
  return `${scheme}://${stripBrackets(hostname).toLowerCase().replace(/\.$/, "")}:${effective}`;
}

/** The origin key of an http(s) URL; null for anything else (or not a URL). */
export function urlOriginKey(raw: string | URL): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return originKey(url.protocol, url.hostname, url.port);
}
