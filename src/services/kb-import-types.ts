import type { Logger } from "pino";
import type { ImportConfig } from "../config.ts";
import type { KnowledgeImport, KnowledgeImportItem } from "../generated/sqlite/client.ts";
import type { Runtime } from "./context.ts";

// The contract between the import framework (kb-imports.ts: the job, the items, the counters,
// progress) and the processors that know a source (web pages, sitemaps, YouTube, Intercom).

export const IMPORT_KINDS = ["website", "sitemap", "links", "youtube", "intercom_import", "intercom_refresh"] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];
export const IMPORT_STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];
export const ITEM_STATUSES = ["pending", "created", "updated", "unchanged", "failed", "skipped"] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export type ImportRow = KnowledgeImport;
export type ImportItemRow = KnowledgeImportItem;

/** What an import saves: one article, found by url (URL articles) or by external source and id. */
export interface ImportedArticle {
  type: "Article" | "URL";
  /** The normalised source URL: URL articles are one per (scenario, url). */
  url?: string | null;
  /** e.g. "intercom", with the id there: articles found again by these are updated in place. */
  externalSource?: string | null;
  externalId?: string | null;
  title: string;
  /** The text, paragraphs separated by blank lines. */
  content: string;
  /** A summary, when asked for (summarize / individual_with_summary). */
  description?: string;
  /** Replaces the article's tags when given. */
  tags?: string[];
  /** When the source last changed it (Intercom updated_at). */
  externalUpdatedAt?: Date | null;
}

/** A new frontier entry (site-wide crawls): added unless already known, within the import's limits. */
export interface DiscoveredItem {
  target: string;
  depth: number;
}

export type ItemResult =
  | { article: ImportedArticle; discovered?: DiscoveredItem[] }
  | { skipped: string; discovered?: DiscoveredItem[] };

/** One (re)start of an import's job, as a processor sees it. */
export interface ImportRun {
  runtime: Runtime;
  config: ImportConfig;
  /** The row as it was when the run started (params as accepted by the route). */
  row: ImportRow;
  params: Record<string, unknown>;
  /** Aborted when the job loses its lease or the server stops: stop fetching. */
  signal: AbortSignal;
  log: Logger;
  /** Adds items to the frontier (deduplicated by target; beyond the limit they are not added). Returns how many were new. */
  addItems(items: DiscoveredItem[]): Promise<number>;
}

export interface ImportProcessor<State = unknown> {
  /**
   * Once per run, before the pending items are taken (again after a restart): robots.txt, a token,
   * the list of Intercom articles (added with run.addItems). Throwing fails the whole import with
   * the message.
   */
  start?(run: ImportRun): Promise<State>;
  /** One pending item. Throwing fails the item only (its message is kept); the import goes on. */
  item(run: ImportRun, item: ImportItemRow, state: State): Promise<ItemResult>;
  /** After the last item (e.g. a refresh removes what the source no longer has). */
  finish?(run: ImportRun, state: State): Promise<void>;
}

/** A failure the caller caused (a page answered 404, not HTML…): kept as the item's error as it is. */
export class ImportItemError extends Error {
  override name = "ImportItemError";
}
