import { setTimeout as delay } from "node:timers/promises";
import type { ImportConfig } from "../config.ts";
import type { Runtime } from "./context.ts";
import { ImportItemError } from "./kb-import-types.ts";
import { OutboundGuard } from "./outbound-guard.ts";

// The part of Intercom's REST API (version 2.11) that imports use: who the token belongs to, the
// Help Center articles page by page, one article. INTERCOM_BASE_URL says where it is (tests use a
// local stub). Rate limits (429) wait for Retry-After, bounded; server errors are retried a few
// times; a rejected token (401) is final.

export const INTERCOM_VERSION = "2.11";
export const TOKEN_REJECTED = "Intercom rejected the access token";
const PER_PAGE = 50;
const MAX_ATTEMPTS = 4;
/** The longest Retry-After honoured; a longer one is waited for this long, then tried again. */
const MAX_RETRY_AFTER_MS = 30_000;
const BACKOFF_MS = 250;
/** Pages of 50 read at most in one listing (drafts count too). */
const MAX_PAGES = 200;

export interface IntercomArticle {
  id: string;
  title: string;
  description: string;
  /** HTML. */
  body: string;
  state: string;
  url: string | null;
  updatedAt: Date | null;
}

/**
 * Intercom said no, or could not be reached after the retries: the message says which. An import
 * keeps it as its error (or the item's) without retrying the job: the retries were done here.
 */
export class IntercomError extends ImportItemError {
  override name = "IntercomError";
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const text = (v: unknown) => (typeof v === "string" ? v : "");

export function articleFrom(raw: unknown): IntercomArticle | null {
  const o = obj(raw);
  const id = typeof o.id === "number" || typeof o.id === "string" ? String(o.id) : "";
  if (!id) return null;
  const updated = typeof o.updated_at === "number" ? new Date(o.updated_at * 1000) : null;
  return {
    id,
    title: text(o.title).trim(),
    description: text(o.description).trim(),
    body: text(o.body),
    state: text(o.state) || "published",
    url: text(o.url) || null,
    updatedAt: updated && !Number.isNaN(updated.getTime()) ? updated : null,
  };
}

/** Retry-After in seconds or as an HTTP date, in ms (null when absent or unreadable). */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** A wait that ends early (rejecting) when the import is stopped. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal });
}

export class IntercomClient {
  private readonly guard: OutboundGuard;

  constructor(
    runtime: Pick<Runtime, "outbound">,
    private readonly config: ImportConfig,
    private readonly token: string,
    private readonly signal?: AbortSignal,
  ) {
    this.guard = runtime.outbound;
  }

  /** GET path as JSON; null for 404. */
  private async get(path: string): Promise<Record<string, unknown> | null> {
    const url = `${this.config.intercomBaseUrl}${path}`;
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let body: Buffer;
      let retryAfter: number | null = null;
      try {
        const res = await this.guard.request(url, {
          headers: { authorization: `Bearer ${this.token}`, accept: "application/json", "intercom-version": INTERCOM_VERSION },
          timeoutMs: this.config.fetchTimeoutMs,
          maxResponseBytes: this.config.pageMaxBytes * 4,
          signal: this.signal,
          // INTERCOM_BASE_URL is the operator's (a trusted origin).
          trusted: true,
        });
        if (res.truncated) throw new IntercomError(`Intercom's answer to ${path} is larger than ${this.config.pageMaxBytes * 4} bytes`);
        ({ status, body } = res);
        retryAfter = retryAfterMs(res.headers["retry-after"]);
      } catch (err) {
        if (err instanceof IntercomError || this.signal?.aborted) throw err;
        if (attempt >= MAX_ATTEMPTS) throw new IntercomError(`Intercom could not be reached: ${(err as Error).message}`);
        await sleep(BACKOFF_MS * 2 ** (attempt - 1), this.signal);
        continue;
      }
      if (status === 401) throw new IntercomError(TOKEN_REJECTED, 401);
      if (status === 404) return null;
      if (status >= 200 && status < 300) {
        try {
          return obj(JSON.parse(body.toString("utf8")));
        } catch {
          throw new IntercomError(`Intercom answered ${path} with something that is not JSON`, status);
        }
      }
      const retriable = status === 429 || status >= 500;
      if (!retriable || attempt >= MAX_ATTEMPTS) {
        throw new IntercomError(`Intercom answered HTTP ${status} for ${path}${retriable ? ` (after ${attempt} attempts)` : ""}`, status);
      }
      const wait = status === 429 && retryAfter !== null ? retryAfter : BACKOFF_MS * 2 ** (attempt - 1);
      await sleep(Math.min(wait, MAX_RETRY_AFTER_MS), this.signal);
    }
  }

  /** The workspace (app) the token belongs to. */
  async me(): Promise<{ appName: string | null }> {
    const me = await this.get("/me");
    if (!me) throw new IntercomError("Intercom answered 404 for /me", 404);
    const name = obj(me.app).name;
    return { appName: typeof name === "string" && name.trim() ? name.trim() : null };
  }

  /** One page of articles (1-based) and how many pages there are. */
  async articlePage(page: number): Promise<{ articles: IntercomArticle[]; totalPages: number }> {
    const res = await this.get(`/articles?page=${page}&per_page=${PER_PAGE}`);
    if (!res) throw new IntercomError("Intercom answered 404 for /articles: is the Help Center enabled?", 404);
    const data = Array.isArray(res.data) ? res.data : [];
    const totalPages = Number(obj(res.pages).total_pages);
    return {
      articles: data.map(articleFrom).filter((a): a is IntercomArticle => a !== null),
      totalPages: Number.isInteger(totalPages) && totalPages > 0 ? totalPages : page,
    };
  }

  /**
   * The articles keep() accepts, in Intercom's order, up to limit: paging stops there (or after
   * MAX_PAGES, whatever Intercom says its total is).
   */
  async listArticles(limit: number, keep: (a: IntercomArticle) => boolean = () => true): Promise<IntercomArticle[]> {
    const kept: IntercomArticle[] = [];
    const seen = new Set<string>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const { articles, totalPages } = await this.articlePage(page);
      for (const a of articles) {
        if (seen.has(a.id)) continue;
        seen.add(a.id);
        if (keep(a)) kept.push(a);
        if (kept.length >= limit) return kept;
      }
      if (!articles.length || page >= totalPages) break;
    }
    return kept;
  }

  /** One article, or null when Intercom no longer has it. */
  async article(id: string): Promise<IntercomArticle | null> {
    const res = await this.get(`/articles/${encodeURIComponent(id)}`);
    return res ? articleFrom(res) : null;
  }
}
