import { validationError } from "../errors.ts";
import type { Runtime } from "./context.ts";

const MAX_URL_LENGTH = 2048;

/**
 * The form imported URLs are stored and compared in, so one page is one article: scheme and host in
 * lower case (URL does that), no default port (likewise), no fragment, "/" for an empty path.
 */
export function normalizeSourceUrl(raw: string): string {
  const url = new URL(raw.trim());
  url.hash = "";
  url.username = "";
  url.password = "";
  return url.toString();
}

/** An http(s) URL the caller sent, or 422 naming the field. */
export function parseImportUrl(raw: unknown, field: string): URL {
  if (typeof raw !== "string" || !raw.trim()) throw validationError(`${field} is required and must be a URL`, field);
  if (raw.length > MAX_URL_LENGTH) throw validationError(`${field} must be at most ${MAX_URL_LENGTH} characters`, field);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw validationError(`${field} is not a valid URL: ${raw}`, field);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw validationError(`${field} must be an http:// or https:// URL, not ${url.protocol}`, field);
  }
  if (url.username || url.password) throw validationError(`${field} must not carry credentials`, field);
  return url;
}

/**
 * The save-time half of the outbound check for a URL to import: a scheme other than http(s), or a
 * host that is (or resolves to) a loopback, private, link-local or metadata address without
 * OUTBOUND_ALLOWLIST, is a 422 before anything is fetched. The connect-time check in the guard
 * still runs on every request (DNS can change; redirects go elsewhere). Returns the normalised URL.
 */
export async function checkImportUrl(ctx: Pick<Runtime, "outbound">, raw: unknown, field: string): Promise<string> {
  const url = parseImportUrl(raw, field);
  const refusal = await ctx.outbound.checkHost(url.hostname);
  if (refusal) throw validationError(`${field}: ${refusal}`, field);
  return normalizeSourceUrl(url.toString());
}
