import type { FastifyRequest } from "fastify";
import type { Principal } from "../../auth/scopes.ts";
import { POLICIES } from "../../services/rate-limit.ts";
import { z } from "zod";

export const QuickchatError = z.object({
  errors: z.object({ root: z.array(z.object({ message: z.string(), code: z.string() })) }),
});

export const quickchatErrorResponses = {
  400: { description: "BAD_REQUEST: invalid input", schema: QuickchatError },
  401: { description: "PERMISSION_DENIED: invalid, expired or revoked token", schema: QuickchatError },
  403: { description: "PERMISSION_DENIED: the token lacks the required scope", schema: QuickchatError },
  422: { description: "VALIDATION_ERROR: the body failed schema validation", schema: QuickchatError },
  429: { description: "TOO_MANY_REQUESTS", schema: QuickchatError },
};

export const paginated = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), offset: z.number().int(), limit: z.number().int(), count: z.number().int() });

/** Quickchat tiers count per token per endpoint. */
export const quickchatLimit =
  (tier: "quickchatRead" | "quickchatWrite" | "quickchatHeavy") => (p: Principal, req: FastifyRequest) => ({
    policy: POLICIES[tier],
    key: `${p.kind === "system" ? "system" : p.credentialId}:${req.method} ${req.routeOptions.url}`,
    message: () => "Rate limit exceeded. Try again later.",
  });

