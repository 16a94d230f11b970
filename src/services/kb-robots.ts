import { ImportItemError } from "./kb-import-types.ts";
import { setTimeout as delay } from "node:timers/promises";
import robotsParserModule from "robots-parser";
import type { ImportConfig } from "../config.ts";
import type { Runtime } from "./context.ts";
import { FetchStatusError, fetchDocument } from "./kb-web-fetch.ts";

// robots.txt for site-wide crawls (RFC 9309): read once per origin per run, rules for our product
// token or else `*`. A robots.txt that is missing (4xx) allows everything; one the server fails to
// give (5xx, timeout, refused) disallows everything, as the RFC asks — the crawl must not guess.
// Crawl-delay is honoured, but bounded so one site cannot hold an import for minutes per page.

/** The product token robots.txt groups are matched against (the guard's User-Agent starts with it). */
export const ROBOTS_AGENT = "Parley";
/** The longest Crawl-delay honoured, whatever robots.txt asks. */
export const MAX_CRAWL_DELAY_MS = 5_000;

interface OriginRules {
  /** Why the whole origin is off limits (robots.txt unavailable), or null. */
  closed: string | null;
  allowed(url: string): boolean;
  delayMs: number;
}

export class RobotsCache {
  private readonly origins = new Map<string, Promise<OriginRules>>();
  private readonly nextSlot = new Map<string, number>();

  constructor(
    private readonly runtime: Pick<Runtime, "outbound">,
    private readonly config: ImportConfig,
    private readonly signal?: AbortSignal,
    /** Tests pass their own clock and sleep. */
    private readonly time: { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void> } = { now: Date.now, sleep: abortableSleep },
  ) {}

  /** Null when the URL may be fetched, else why not (the item's skip reason). */
  async refusal(url: string): Promise<string | null> {
    const rules = await this.rules(url);
    if (rules.closed) return rules.closed;
    return rules.allowed(url) ? null : "disallowed by robots.txt";
  }

  /** Waits for the origin's Crawl-delay since the previous fetch this run made there (or reserved). */
  async pace(url: string): Promise<void> {
    const origin = new URL(url).origin;
    const { delayMs } = await this.rules(url);
    if (!delayMs) return;
    const now = this.time.now();
    const slot = Math.max(now, this.nextSlot.get(origin) ?? 0);
    this.nextSlot.set(origin, slot + delayMs);
    if (slot > now) await this.time.sleep(slot - now, this.signal);
  }

  private rules(url: string): Promise<OriginRules> {
    const origin = new URL(url).origin;
    let found = this.origins.get(origin);
    if (!found) {
      found = this.load(origin);
      this.origins.set(origin, found);
    }
    return found;
  }

  private async load(origin: string): Promise<OriginRules> {
    const robotsUrl = `${origin}/robots.txt`;
    let text: string;
    try {
      text = (await fetchDocument(this.runtime, this.config, robotsUrl, "robots", { signal: this.signal })).text;
    } catch (err) {
      if (this.signal?.aborted) throw err;
      if (err instanceof FetchStatusError && err.status >= 400 && err.status < 500) return openRules;
      // The site can't be reached at all: its pages fail (below, a 5xx robots.txt closes the site).
      if (!(err instanceof FetchStatusError)) throw new ImportItemError(`the site cannot be reached: ${(err as Error).message}`);
      return { closed: `robots.txt could not be read (${(err as Error).message}), so the site may not be crawled`, allowed: () => false, delayMs: 0 };
    }
    return parseRobots(robotsUrl, text);
  }
}

// The package is CommonJS exporting the function itself; its typings declare it as `default`.
const robotsParser = robotsParserModule as unknown as typeof robotsParserModule.default;

const openRules: OriginRules = { closed: null, allowed: () => true, delayMs: 0 };

/** The rules of one robots.txt for our agent (or `*`), with the Crawl-delay bounded. */
export function parseRobots(robotsUrl: string, text: string): OriginRules {
  const robots = robotsParser(robotsUrl, text);
  const delay = robots.getCrawlDelay(ROBOTS_AGENT);
  const delayMs = typeof delay === "number" && delay > 0 ? Math.min(delay * 1000, MAX_CRAWL_DELAY_MS) : 0;
  return {
    closed: null,
    // undefined: the URL is on another origin than this robots.txt (never asked here).
    allowed: (url) => robots.isAllowed(url, ROBOTS_AGENT) !== false,
    delayMs,
  };
}

/** A wait that ends early (rejecting) when the import is stopped. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal });
}
