import { z } from "zod";
import type { Principal } from "../../auth/scopes.ts";
import { developerLimitMessage, POLICIES } from "../../services/rate-limit.ts";

// What every Quincer route file shares: the error responses and the developer-key budgets.

export const QuincerError = z.object({ error: z.string() });
export const quincerErrors = {
  401: { description: "Missing, invalid, expired or revoked developer key", schema: QuincerError },
  403: { description: "The key lacks the route's scope", schema: QuincerError },
  404: { description: "No such object in the key's workspace", schema: QuincerError },
  429: { description: "Rate limit exceeded; the message says how many requests remain", schema: QuincerError },
};

/** Developer keys: 100 reads and 30 writes per minute per key, across all routes (and GraphQL). */
export const developerLimit = (kind: "read" | "write") => (p: Principal) => ({
  policy: kind === "read" ? POLICIES.developerRead : POLICIES.developerWrite,
  key: p.kind === "system" ? "system" : p.credentialId,
  message: developerLimitMessage(kind),
});
