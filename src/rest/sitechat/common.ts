import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Principal } from "../../auth/scopes.ts";
import type { Config } from "../../config.ts";
import type { AttachmentLimits } from "../../services/attachments.ts";
import { siteKeyPolicy } from "../../services/rate-limit.ts";

export const SiteError = z.object({ error: z.string() });
export const siteErrors = {
  401: { description: "Missing or invalid site key", schema: SiteError },
  429: { description: "Rate limit exceeded", schema: SiteError },
};

export const auth = ["widget"] as const;

/**
 * The documented per-route limits, counted per site key and visitor address: the key is public,
 * so one abusive visitor must not spend every visitor's budget.
 */
export const siteLimit = (route: string, perMinute: number) => (p: Principal, req: FastifyRequest) => ({
  policy: siteKeyPolicy(route, perMinute),
  key: `${p.kind === "system" ? "system" : p.credentialId}:${req.ip}`,
  message: () => "Rate limit exceeded. Please try again later.",
});

declare module "fastify" {
  interface FastifyInstance {
    /** The site-key routes' attachment limits (from the configuration). */
    attachmentLimits: AttachmentLimits;
  }
}

/** The group's plugins: multipart bodies for replies with files, and the limits they obey. */
export async function setupSitechat(app: FastifyInstance, config: Config) {
  app.decorate("attachmentLimits", config.attachments);
  await app.register(import("@fastify/multipart"), { throwFileSizeLimit: false });
}
