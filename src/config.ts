import { z } from "zod";
import { resolve } from "node:path";
import type { JobRunnerOptions } from "./jobs/types.ts";
import { parseAllowlist } from "./services/outbound-policy.ts";
import type { WebhookOptions } from "./services/webhook-events.ts";

const bool = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off"])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "DATABASE_URL must be a postgresql:// URL (leave it unset for SQLite)")
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379")
    .optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  PARLEY_SECRET: z.string().min(32, "PARLEY_SECRET must be at least 32 characters").optional(),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  GRAPHIQL: bool.optional(),
  INTROSPECTION: bool.optional(),
  TRUST_PROXY: bool.default(false),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
  // Graceful shutdown (SIGTERM): how long requests in flight may take to finish.
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  CORS_ORIGINS: z
    .string()
    .default("*")
    .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every((o) => o === "*" || /^https?:\/\/[^\s/?#]+$/.test(o)), "CORS_ORIGINS must be * or comma-separated origins like https://shop.example.com")
    .transform((list): "*" | string[] => (list.length === 0 || list.includes("*") ? "*" : list)),
  ATTACHMENT_MAX_FILE_BYTES: z.coerce.number().int().min(1).default(10 * 1024 * 1024),
  ATTACHMENT_MAX_FILES: z.coerce.number().int().min(1).max(50).default(5),
  JOB_WORKERS: z.coerce.number().int().min(0).max(16).default(0),
  LLM_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, "LLM_BASE_URL must be an http(s):// URL, e.g. http://127.0.0.1:8080/v1")
    .optional(),
  LLM_API_KEY: z.string().optional(),
  LLM_MODEL: z.string().min(1).optional(),
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  TRANSLATOR_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, "TRANSLATOR_BASE_URL must be an http(s):// URL, e.g. http://127.0.0.1:8080/v1")
    .optional(),
  TRANSLATOR_API_KEY: z.string().optional(),
  TRANSLATOR_MODEL: z.string().min(1).optional(),
  TRANSLATOR_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s/]+/, "SMTP_URL must be an smtp:// or smtps:// URL, e.g. smtp://user:password@mail.example.com:587")
    .optional(),
  SMTP_FROM: z.string().min(3).default("Parley <parley@localhost>"),
  // Knowledge-base uploads and imports (see README "Knowledge-base imports").
  KB_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1).default(20 * 1024 * 1024),
  KB_UPLOAD_MAX_PAGES: z.coerce.number().int().min(1).default(500),
  KB_UPLOAD_MAX_TEXT_CHARS: z.coerce.number().int().min(1).default(2_000_000),
  KB_DOCX_MAX_INFLATED_BYTES: z.coerce.number().int().min(1).default(100 * 1024 * 1024),
  KB_DOCX_MAX_ENTRIES: z.coerce.number().int().min(1).default(2_000),
  IMPORT_MAX_PAGES: z.coerce.number().int().min(1).max(10_000).default(100),
  IMPORT_MAX_DEPTH: z.coerce.number().int().min(0).max(20).default(3),
  IMPORT_MAX_LINKS: z.coerce.number().int().min(1).max(10_000).default(1_000),
  IMPORT_PAGE_MAX_BYTES: z.coerce.number().int().min(1024).default(5 * 1024 * 1024),
  IMPORT_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  IMPORT_MAX_REDIRECTS: z.coerce.number().int().min(0).max(20).default(5),
  YOUTUBE_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, "YOUTUBE_BASE_URL must be an http(s):// URL, e.g. https://www.youtube.com")
    .default("https://www.youtube.com"),
  INTERCOM_BASE_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, "INTERCOM_BASE_URL must be an http(s):// URL, e.g. https://api.intercom.io")
    .default("https://api.intercom.io"),
  OUTBOUND_ALLOWLIST: z
    .string()
    .default("")
    .transform((v, ctx) => {
      try {
        return parseAllowlist(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
}).refine((e) => !e.LLM_BASE_URL || e.LLM_MODEL, {
  path: ["LLM_MODEL"],
  message: "required when LLM_BASE_URL is set",
}).refine((e) => !e.TRANSLATOR_BASE_URL || e.TRANSLATOR_MODEL, {
  path: ["TRANSLATOR_MODEL"],
  message: "required when TRANSLATOR_BASE_URL is set",
});

/** An OpenAI-compatible chat-completions endpoint (replies and analysis); absent: no LLM. */
export interface LlmConfig {
  /** Base URL up to the version, e.g. http://127.0.0.1:8080/v1 (POST {baseUrl}/chat/completions). */
  baseUrl: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
}

/** Limits of knowledge-base uploads and imports, and where the external services are (KB_*, IMPORT_*, YOUTUBE_*, INTERCOM_*). */
export interface ImportConfig {
  /** An uploaded file's size (422 above it). */
  uploadMaxBytes: number;
  /** A PDF's page count. */
  uploadMaxPages: number;
  /** Extracted text, in characters (an upload or one imported page). */
  maxTextChars: number;
  /** A DOCX's decompressed size, counted while inflating (zip bombs stop here). */
  docxMaxInflatedBytes: number;
  /** Entries in a DOCX's zip. */
  docxMaxEntries: number;
  /** Pages one site-wide crawl imports at most. */
  maxPages: number;
  /** Link depth of a site-wide crawl from its start page (0: the start page only). */
  maxDepth: number;
  /** Links one sitemap or link-list import takes at most. */
  maxLinks: number;
  /** One fetched page or sitemap, in bytes. */
  pageMaxBytes: number;
  /** One fetch, connect to last byte. */
  fetchTimeoutMs: number;
  /** Redirects followed per fetch (each hop passes the outbound policy again). */
  maxRedirects: number;
  /** Where YouTube watch pages and caption tracks are fetched (tests point it at a local stub). */
  youtubeBaseUrl: string;
  /** The Intercom REST API (tests point it at a local stub). */
  intercomBaseUrl: string;
}

/** Where email notifications go out (SMTP_URL, SMTP_FROM); absent: they stay in the outbox. */
export interface SmtpConfig {
  /** smtp://[user:password@]host[:port] (STARTTLS when the server offers it) or smtps:// (TLS from the start). */
  url: string;
  /** The From header of every notification. */
  from: string;
}

export interface Config {
  port: number;
  host: string;
  /** postgresql://… or undefined for the embedded SQLite database in dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /**
   * redis://… shared by several instances: live events fan out through it and rate-limit counters
   * live in it; unset: one instance, in-process pubsub and counters.
   */
  redisUrl?: string;
  /** Explicit signing secret; when undefined one is generated once and kept in dataDir. */
  secret?: string;
  env: "development" | "production" | "test";
  logLevel: string;
  graphiql: boolean;
  introspection: boolean;
  trustProxy: boolean;
  wsConnectionInitTimeoutMs: number;
  /**
   * On stop (SIGTERM): requests in flight get this long to finish, WebSocket clients this long to
   * answer their close, before their connections are cut.
   */
  shutdownTimeoutMs: number;
  /** Origins allowed to call the site-key routes and /graphql from browsers ("*": any). */
  corsOrigins: "*" | string[];
  /** Visitor file attachments: bytes per file and files per message. */
  attachments: { maxFileBytes: number; maxFiles: number };
  /** The LLM for replies and analysis (LLM_* variables); null: the knowledge-base responder and rule-based analysis. */
  llm: LlmConfig | null;
  /**
   * Translates operators' and agents' replies into the visitor's language (TRANSLATOR_* variables,
   * an OpenAI-compatible endpoint like the LLM's); null: replies are stored untranslated.
   */
  translator: LlmConfig | null;
  /** Email notifications over SMTP; null: notifications are kept in the outbox (GraphQL outbox) only. */
  smtp: SmtpConfig | null;
  /**
   * Hosts, IP addresses and CIDR ranges outbound requests (webhooks) may reach although they are
   * loopback, private or link-local (OUTBOUND_ALLOWLIST, comma-separated); empty: none.
   */
  outboundAllowlist: string[];
  /** Knowledge-base file uploads and web/YouTube/Intercom imports: limits and the services' base URLs. */
  imports: ImportConfig;
  /** Webhook delivery timings (retry schedule, timeouts, polling); tests shorten them. */
  webhooks?: Partial<WebhookOptions>;
  /** Tests pin time; everything else reads the wall clock. */
  clock?: () => Date;
  /**
   * Background jobs (assistant replies, analysis, training) run in this many worker processes;
   * 0 runs them in the server process.
   */
  jobWorkers: number;
  /** Job runner timings (lease, poll, backoff…); tests shorten them. */
  jobs?: Partial<JobRunnerOptions>;
}

/** Reads the environment once into a typed config; throws one readable line per bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  const dev = e.NODE_ENV !== "production";
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    redisUrl: e.REDIS_URL,
    secret: e.PARLEY_SECRET,
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    graphiql: e.GRAPHIQL ?? dev,
    introspection: e.INTROSPECTION ?? dev,
    trustProxy: e.TRUST_PROXY,
    wsConnectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    corsOrigins: e.CORS_ORIGINS,
    attachments: { maxFileBytes: e.ATTACHMENT_MAX_FILE_BYTES, maxFiles: e.ATTACHMENT_MAX_FILES },
    jobWorkers: e.JOB_WORKERS,
    llm: e.LLM_BASE_URL
      ? { baseUrl: e.LLM_BASE_URL.replace(/\/+$/, ""), apiKey: e.LLM_API_KEY, model: e.LLM_MODEL!, timeoutMs: e.LLM_TIMEOUT_MS }
      : null,
    translator: e.TRANSLATOR_BASE_URL
      ? { baseUrl: e.TRANSLATOR_BASE_URL.replace(/\/+$/, ""), apiKey: e.TRANSLATOR_API_KEY, model: e.TRANSLATOR_MODEL!, timeoutMs: e.TRANSLATOR_TIMEOUT_MS }
      : null,
    smtp: e.SMTP_URL ? { url: e.SMTP_URL, from: e.SMTP_FROM } : null,
    outboundAllowlist: e.OUTBOUND_ALLOWLIST,
    imports: {
      uploadMaxBytes: e.KB_UPLOAD_MAX_BYTES,
      uploadMaxPages: e.KB_UPLOAD_MAX_PAGES,
      maxTextChars: e.KB_UPLOAD_MAX_TEXT_CHARS,
      docxMaxInflatedBytes: e.KB_DOCX_MAX_INFLATED_BYTES,
      docxMaxEntries: e.KB_DOCX_MAX_ENTRIES,
      maxPages: e.IMPORT_MAX_PAGES,
      maxDepth: e.IMPORT_MAX_DEPTH,
      maxLinks: e.IMPORT_MAX_LINKS,
      pageMaxBytes: e.IMPORT_PAGE_MAX_BYTES,
      fetchTimeoutMs: e.IMPORT_FETCH_TIMEOUT_MS,
      maxRedirects: e.IMPORT_MAX_REDIRECTS,
      youtubeBaseUrl: e.YOUTUBE_BASE_URL.replace(/\/+$/, ""),
      intercomBaseUrl: e.INTERCOM_BASE_URL.replace(/\/+$/, ""),
    },
  };
}
