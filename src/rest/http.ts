import type { FastifyReply } from "fastify";
import type { RateLimitInfo } from "../errors.ts";

/** RateLimit-Policy / RateLimit (IETF httpapi draft) on every limited response; Retry-After on 429. */
export function rateLimitHeaders(info: RateLimitInfo, exceeded: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    "ratelimit-policy": `${info.limit};w=${info.windowSeconds}`,
    ratelimit: `limit=${info.limit}, remaining=${info.remaining}, reset=${info.resetSeconds}`,
  };
  if (exceeded) headers["retry-after"] = String(info.resetSeconds);
  return headers;
}

export function setRateLimitHeaders(reply: FastifyReply, info: RateLimitInfo, exceeded = false) {
  reply.headers(rateLimitHeaders(info, exceeded));
}
