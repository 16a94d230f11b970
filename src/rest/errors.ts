import type { FastifyError, FastifyInstance } from "fastify";
import { AppError, toAppError } from "../errors.ts";
import { rateLimitHeaders } from "./http.ts";
import type { Dialect } from "./route.ts";

const formatBytes = (n: number) => (n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`);

/** Maps Fastify's own request errors (parsing, size) onto the shared error model. */
function fromFastify(err: FastifyError, bodyLimit: number): AppError | null {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("BAD_REQUEST", `Request body is larger than ${formatBytes(bodyLimit)}`);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError("BAD_REQUEST", "Malformed JSON body");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("BAD_REQUEST", `Unsupported or invalid request body: ${err.message}`);
  }
  if (err instanceof SyntaxError && err.statusCode === 400) return new AppError("BAD_REQUEST", "Malformed JSON body");
  return null;
}

/** Sets the dialect's error rendering on an encapsulated set of routes (by path when none is given). */
export function useDialectErrors(app: FastifyInstance, fixed?: Dialect) {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const dialect = fixed ?? dialectForPath(req.url);
    const appError = fromFastify(err, req.routeOptions?.bodyLimit ?? 1024 * 1024) ?? toAppError(err);
    if (appError.code === "UNKNOWN") req.log.error({ err, reqId: req.id }, "request failed");
    // A dependency down (the database restarting…): every request says so while it lasts, and /readyz
    // reports it; a warning, not an error of the request.
    else if (appError.code === "SERVICE_UNAVAILABLE") req.log.warn({ err, reqId: req.id }, "request failed: service unavailable");
    if (appError.rateLimit) reply.headers(rateLimitHeaders(appError.rateLimit, true));
    return reply.status(appError.status).send(dialect.renderError(appError));
  });
}

export const quickchatDialect: Dialect = {
  name: "quickchat",
  tag: "Quickchat",
  renderError: (e) => ({ errors: { root: [{ message: e.message, code: e.code }] } }),
};
export const quincerDialect: Dialect = {
  name: "quincer",
  tag: "Quincer",
  renderError: (e) => ({ error: e.message }),
};
export const sitechatDialect: Dialect = {
  name: "sitechat",
  tag: "Site-key chat",
  renderError: (e) => ({ error: e.message }),
};

/** GraphQL over HTTP, for failures before Yoga sees the request (body too large, bad JSON). */
export const graphqlDialect: Dialect = {
  name: "graphql",
  tag: "GraphQL",
  renderError: (e) => ({ errors: [{ message: e.message, extensions: { code: e.code } }] }),
};
/** Everything else (health, docs): the code beside the message. */
const plainDialect: Dialect = {
  name: "plain",
  tag: "Parley",
  renderError: (e) => ({ error: e.message, code: e.code }),
};

/** Which dialect answers for a path outside a route group (unknown paths, pre-handler failures). */
export function dialectForPath(url: string): Dialect {
  const path = url.split("?")[0]!;
  if (path.startsWith("/api/v1/chat/") || path === "/api/v1/chat") return sitechatDialect;
  if (path.startsWith("/api/v1/")) return quincerDialect;
  if (path.startsWith("/v1/api") || path === "/chat" || path.startsWith("/chat/")) return quickchatDialect;
  if (path === "/graphql" || path === "/graphql/") return graphqlDialect;
  return plainDialect;
}
