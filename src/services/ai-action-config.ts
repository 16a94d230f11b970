import { z } from "zod";
import { validationError } from "../errors.ts";

/**
 * AI action configuration: what each action type stores, how templates are checked, and when an
 * action counts as valid. Parley has no dashboard, so GraphQL creates and configures actions; the
 * Quickchat routes only list, toggle/decorate and delete them.
 *
 * Two kinds of wrong configuration are told apart:
 * - a MALFORMED value (a URL that does not parse, a method that does not exist, a header name that
 *   is not an HTTP token, a template variable nobody can resolve, a body on a GET) is rejected with
 *   VALIDATION_ERROR (422) and nothing is saved;
 * - an INCOMPLETE configuration (a draft with no URL yet) is saved, and the action reports
 *   is_valid = false until it is completed (see isValidConfig).
 */

export const AI_ACTION_TYPES = ["http_request", "remote_mcp", "shopify_remote_mcp"] as const;
export type AiActionType = (typeof AI_ACTION_TYPES)[number];

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
/** Methods whose requests carry the body template. */
export const METHODS_WITH_BODY: readonly string[] = ["POST", "PUT", "PATCH"];

/**
 * Template variables, written {{conversation.<field>}} or {{metadata.<key>}} (spaces inside the
 * braces are allowed). The conversation fields are those of the Quickchat conversation JSON;
 * metadata keys are whatever the conversation's metadata holds (any key without whitespace or
 * braces, ≤ 100 characters). Anything else is unknown and rejected.
 */
export const CONVERSATION_VARIABLES = [
  "id",
  "ord",
  "title",
  "source",
  "created_at",
  "last_message_at",
  "last_message_content",
  "terminated",
  "visitor_name",
  "visitor_email",
] as const;
const METADATA_KEY = /^[^\s{}]{1,100}$/;
const KNOWN = `conversation.{${CONVERSATION_VARIABLES.join(",")}} or metadata.<key>`;

/** The variables a template uses, or the reason it is malformed. */
export function templateVariables(template: string): { ok: true; variables: string[] } | { ok: false; reason: string } {
  const variables: string[] = [];
  const rest = template.replace(/\{\{([\s\S]*?)\}\}/g, (_m, inner: string) => {
    variables.push(inner.trim());
    return "";
  });
  if (rest.includes("{{")) return { ok: false, reason: "has an unclosed {{" };
  for (const v of variables) {
    const [head, ...tail] = v.split(".");
    const key = tail.join(".");
    const known =
      (head === "conversation" && (CONVERSATION_VARIABLES as readonly string[]).includes(key)) ||
      (head === "metadata" && METADATA_KEY.test(key));
    if (!known) return { ok: false, reason: `uses unknown variable {{${v}}}; known: ${KNOWN}` };
  }
  return { ok: true, variables };
}

const template = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((s, ctx) => {
      const t = templateVariables(s);
      if (!t.ok) ctx.addIssue({ code: "custom", message: `template ${t.reason}` });
    });

/** An HTTP header name: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headerName = z.string().min(1).max(100).regex(HEADER_NAME, "must be an HTTP header name (token characters only)");
const noLineBreaks = (s: string) => !/[\r\n\0]/.test(s);

/** A URL template: absolute http(s); variables only after the host (path, query). */
const urlTemplate = template(2000).superRefine((s, ctx) => {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(s);
  if (!m) return void ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
  if (m[2]!.includes("{{")) return void ctx.addIssue({ code: "custom", message: "template variables are allowed only in the path and query" });
  let url: URL;
  try {
    url = new URL(s.replace(/\{\{[\s\S]*?\}\}/g, "x"));
  } catch {
    return void ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
  }
});

const LOCALHOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
/** An MCP server: https, or http for a server on this machine only. */
const serverUrl = z
  .string()
  .max(2000)
  .superRefine((s, ctx) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      return void ctx.addIssue({ code: "custom", message: "must be an absolute https URL" });
    }
    const ok = url.protocol === "https:" || (url.protocol === "http:" && LOCALHOSTS.has(url.hostname));
    if (!ok || !url.hostname) ctx.addIssue({ code: "custom", message: "must be an absolute https URL (http only for localhost)" });
  });

/** MCP tool names to expose; an empty list exposes every tool the server offers. */
const tools = z
  .array(z.string().trim().min(1, "tool names must not be empty").max(200))
  .max(200)
  .refine((names) => new Set(names).size === names.length, "tool names must be unique");

const header = z
  .object({
    name: headerName,
    value: template(2000).refine(noLineBreaks, "must not contain line breaks"),
  })
  .strict();

/**
 * Each type's configuration, every field optional (a draft) and nullable (null clears it). Keys are
 * strict: a remote_mcp field on an http_request is a 422.
 */
export const ConfigSchemas = {
  http_request: z
    .object({
      method: z.enum(HTTP_METHODS).nullable(),
      url: urlTemplate.nullable(),
      headers: z.array(header).max(50).nullable(),
      body: template(10_000).nullable(),
    })
    .partial()
    .strict(),
  remote_mcp: z
    .object({
      server_url: serverUrl.nullable(),
      auth_header: z
        .object({ name: headerName, value: z.string().min(1).max(2000).refine(noLineBreaks, "must not contain line breaks") })
        .strict()
        .nullable(),
      tools: tools.nullable(),
    })
    .partial()
    .strict(),
  shopify_remote_mcp: z
    .object({
      store_domain: z
        .string()
        .trim()
        .toLowerCase()
        .regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, "must be a <store>.myshopify.com domain")
        .nullable(),
      tools: tools.nullable(),
    })
    .partial()
    .strict(),
} satisfies Record<AiActionType, z.ZodType>;

export type StoredConfig = Record<string, unknown>;

/**
 * Applies a (partial) configuration to the stored one: keys sent replace, null clears, keys not
 * sent stay. Then checks the rules that span fields, on the result.
 */
export function mergeConfig(type: AiActionType, stored: StoredConfig, patch: StoredConfig | undefined): StoredConfig {
  const merged: StoredConfig = { ...stored };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === undefined) continue;
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  if (type === "http_request" && typeof merged.method === "string" && merged.body !== undefined && !METHODS_WITH_BODY.includes(merged.method)) {
    throw validationError(`config.body: a ${merged.method} request has no body (only ${METHODS_WITH_BODY.join(", ")})`, "config.body");
  }
  return merged;
}

/**
 * Whether an action is complete enough to run:
 * - http_request: a method and a URL are set, and a POST/PUT/PATCH has a body template that is not
 *   blank (a request that should carry data but has no template sends nothing resolvable);
 * - remote_mcp: a server URL is set (no tools listed means all tools; the auth header is optional);
 * - shopify_remote_mcp: a store domain is set.
 * Malformed values never reach storage (see the schemas above), so only completeness is checked.
 */
export function isValidConfig(type: string, config: unknown): boolean {
  const c = (config ?? {}) as StoredConfig;
  const set = (k: string) => typeof c[k] === "string" && (c[k] as string).trim() !== "";
  switch (type) {
    case "http_request":
      return set("method") && set("url") && (!METHODS_WITH_BODY.includes(c.method as string) || set("body"));
    case "remote_mcp":
      return set("server_url");
    case "shopify_remote_mcp":
      return set("store_domain");
    default:
      return false;
  }
}
