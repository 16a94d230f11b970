import { randomUUID } from "node:crypto";
import { createYoga, handleStreamOrSingleExecutionResult, type Plugin, type YogaServerInstance } from "graphql-yoga";
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionResult } from "graphql";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { AppError, toAppError, unavailable } from "../errors.ts";
import { isDatabaseUnavailable } from "../db/faults.ts";
import type { Principal } from "../auth/scopes.ts";
import { authenticate } from "../services/access.ts";
import { createServiceContext, type Runtime } from "../services/context.ts";
import { POLICIES, developerLimitMessage, siteKeyPolicy, type Policy } from "../services/rate-limit.ts";
import { rateLimitHeaders } from "../rest/http.ts";
import type { GraphQLContext } from "./builder.ts";
import { schema } from "./schema.ts";
import { sharedSubscriptionEvents } from "./shared-events.ts";

/** Credentials GraphQL accepts. Widget keys reach only the visitor operations (authScopes `visitor`). */
const GRAPHQL_CREDENTIALS = ["scenario_token", "developer", "widget"] as const;

interface ServerContext {
  req?: FastifyRequest;
  reply?: FastifyReply;
  /** graphql-ws: the connection's already-authenticated principal. */
  wsPrincipal?: Principal | null;
  wsRequestId?: string;
  wsIp?: string;
}

function bearer(header: string | null | undefined): string | undefined {
  if (header == null || header === "") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new AppError("PERMISSION_DENIED", "Malformed Authorization header: expected 'Bearer <credential>'", { status: 401 });
  return m[1];
}

/** Request-level failures (bad credential, spent budget) keep their HTTP status. */
function requestError(err: AppError, headers?: Record<string, string>) {
  return new GraphQLError(err.message, { extensions: { code: err.code, http: { status: err.status, headers } } });
}

/** Authenticates a GraphQL caller: no credential is allowed (public fields only), a bad one is a 401. */
/**
 * The Authorization header, or a widget key sent as X-Site-Key as the site-key REST API accepts it
 * (only cw_live_… keys travel that way).
 */
function authorizationOf(headers: Headers): string | null {
  const authorization = headers.get("authorization");
  if (authorization) return authorization;
  const siteKey = headers.get("x-site-key")?.trim();
  return siteKey?.startsWith("cw_live_") ? `Bearer ${siteKey}` : null;
}

export async function graphqlPrincipal(runtime: Runtime, authorization: string | null | undefined): Promise<Principal | null> {
  const secret = bearer(authorization);
  if (secret === undefined) return null;
  return authenticate(createServiceContext(runtime), secret, GRAPHQL_CREDENTIALS);
}

/** Queries spend read budget, mutations write budget, from the same buckets as REST. */
function budgetFor(principal: Principal | null, op: "query" | "mutation" | "subscription", ip: string) {
  const write = op === "mutation";
  if (!principal || principal.kind === "system") return { policy: POLICIES.anonymous, key: `ip:${ip}` };
  if (principal.kind === "developer") {
    return {
      policy: write ? POLICIES.developerWrite : POLICIES.developerRead,
      key: principal.credentialId,
      message: developerLimitMessage(write ? "write" : "read"),
    };
  }
  // A widget key is public: its budget is per visitor address, as on the site-key routes.
  if (principal.kind === "widget") {
    return { policy: siteKeyPolicy("graphql", 60), key: `${principal.credentialId}:${ip}`, message: () => "Rate limit exceeded. Please try again later." };
  }
  const policy: Policy = write ? POLICIES.quickchatWrite : POLICIES.quickchatRead;
  return { policy, key: `${principal.credentialId}:graphql ${write ? "mutation" : "query"}` };
}

function rateLimitPlugin(runtime: Runtime): Plugin<GraphQLContext & { clientIp: string }> {
  const spend = async (document: DocumentNode, operationName: string | null | undefined, ctx: GraphQLContext & { clientIp: string }) => {
    const op = getOperationAST(document, operationName)?.operation ?? "query";
    const b = budgetFor(ctx.principal, op, ctx.clientIp);
    try {
      await runtime.rateLimits.consume(b.policy, b.key, b.message);
      return null;
    } catch (err) {
      if (err instanceof AppError && err.rateLimit) return requestError(err, rateLimitHeaders(err.rateLimit, true));
      throw err;
    }
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const error = await spend(args.document, args.operationName, args.contextValue);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const error = await spend(args.document, args.operationName, args.contextValue);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

/**
 * AppErrors keep their message and get extensions.code; anything else is masked as UNKNOWN and
 * logged with the request id (the one the HTTP response carries in x-request-id).
 */
function shapeError(error: unknown, requestId: string, log: Logger): GraphQLError {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: original.code },
    });
  }
  if (error instanceof GraphQLError && !original) return error;
  // A scalar refusing a value (DateTime, JSON…) throws a GraphQLError: bad input, not a fault.
  if (error instanceof GraphQLError && original instanceof GraphQLError) {
    return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions: { code: "VALIDATION_ERROR" } });
  }
  const code = original instanceof Error ? toAppError(original).code : "UNKNOWN";
  // The database down: over HTTP the whole response is a 503, as on REST (load balancers and
  // clients retry it); the message is the same everywhere. Logged as on REST: a warning.
  const down = code === "SERVICE_UNAVAILABLE";
  if (down) log.warn({ err: original, reqId: requestId }, "GraphQL operation failed: service unavailable");
  else log.error({ err: original, reqId: requestId }, "GraphQL operation failed");
  return new GraphQLError(down ? unavailable().message : "Unexpected error.", {
    nodes: error instanceof GraphQLError ? error.nodes : undefined,
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code, requestId, ...(down ? { http: { status: 503 } } : {}) },
  });
}

function errorPlugin(log: Logger): Plugin<GraphQLContext> {
  const shapeResults =
    (ctx: GraphQLContext) =>
    ({ result, setResult }: { result: ExecutionResult; setResult: (r: ExecutionResult) => void }) => {
      if (result.errors?.length) setResult({ ...result, errors: result.errors.map((e) => shapeError(e, ctx.requestId, log)) });
    };
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, shapeResults(args.contextValue)),
    }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, shapeResults(args.contextValue)),
    }),
  };
}

export function createGraphQL(config: Config, runtime: Runtime, log: Logger): YogaServerInstance<ServerContext, GraphQLContext> {
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    // CORS is answered by @fastify/cors (src/rest/cors.ts): one policy for the site-key routes and GraphQL.
    cors: false,
    logging: log,
    landingPage: false,
    graphiql: config.graphiql ? { title: "Parley GraphQL", subscriptionsProtocol: "WS" } : false,
    renderGraphiQL,
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: 10 },
        costLimit: { maxCost: 5000 },
        maxAliases: { n: 15 },
        maxTokens: { n: 2000 },
        maxDirectives: { n: 20 },
        blockFieldSuggestion: { enabled: true },
      }),
      ...(config.introspection ? [] : [useDisableIntrospection()]),
      rateLimitPlugin(runtime),
      errorPlugin(log),
      sharedSubscriptionEvents(),
    ],
    // Execution errors are shaped by errorPlugin, which knows the request id; this catches the
    // rest (errors outside execution) the same way.
    maskedErrors: { maskError: (error) => shapeError(error, randomUUID(), log) },
    context: async (initial): Promise<GraphQLContext & { clientIp: string }> => {
      const req = initial.req;
      let principal: Principal | null;
      if ("wsPrincipal" in initial) principal = initial.wsPrincipal ?? null;
      else {
        try {
          principal = await graphqlPrincipal(runtime, authorizationOf(initial.request.headers));
        } catch (err) {
          if (err instanceof AppError) throw requestError(err);
          // Authentication reads the database: down, it is a 503 like any other operation.
          if (isDatabaseUnavailable(err)) throw requestError(unavailable());
          throw err;
        }
      }
      return {
        ...createServiceContext(runtime, principal),
        requestId: req?.id ?? initial.wsRequestId ?? randomUUID(),
        clientIp: req?.ip ?? initial.wsIp ?? "unknown",
      };
    },
  });
}
