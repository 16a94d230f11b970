import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import cors from "@fastify/cors";
import pino, { type Logger } from "pino";
import type { Config } from "./config.ts";
import { loadSecret } from "./auth/secret.ts";
import { openDatabase, type Database } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { EventBus } from "./events/bus.ts";
import { AppError } from "./errors.ts";
import { createGraphQL } from "./graphql/yoga.ts";
import { attachGraphQLWebSocket } from "./graphql/websocket.ts";
import { dialectForPath, useDialectErrors } from "./rest/errors.ts";
import { buildOpenApi } from "./rest/openapi.ts";
import { registerGroup, type RouteGroup } from "./rest/route.ts";
import { quickchatGroup } from "./rest/quickchat/index.ts";
import { quincerGroup } from "./rest/quincer/index.ts";
import { sitechatGroup } from "./rest/sitechat/index.ts";
import { registerFileRoutes } from "./rest/files.ts";
import { browserCors } from "./rest/cors.ts";
import type { Runtime } from "./services/context.ts";
import { JobRunner } from "./jobs/runner.ts";
import { registerKnowledgeBaseJobs } from "./services/knowledge-base.ts";
import { RateLimits } from "./services/rate-limit.ts";
import { registerChatJobs } from "./services/chat.ts";
import { createAnalyzer, createResponder } from "./ai/index.ts";

export const VERSION = "0.1.0";
export const ROUTE_GROUPS: RouteGroup[] = [quickchatGroup, quincerGroup, sitechatGroup];
const BODY_LIMIT = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface App {
  readonly config: Config;
  readonly runtime: Runtime;
  readonly database: Database;
  readonly http: FastifyInstance;
  readonly log: Logger;
  /** Method and URL of every route the HTTP server registered. */
  readonly routes: { method: string; url: string }[];
  /** Applies pending migrations and listens; resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  stop(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
  /** Rate-limit store and budgets; defaults to the documented budgets in process memory. */
  rateLimits?: RateLimits;
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: "parley" } });
  const database = openDatabase(config);
  const clock = config.clock ?? (() => new Date());
  const runtime: Runtime = {
    db: database.prisma,
    provider: database.provider,
    events: new EventBus(),
    rateLimits: options.rateLimits ?? new RateLimits(),
    signingSecret: loadSecret(config),
    clock,
    jobs: new JobRunner({ db: database.prisma, provider: database.provider, clock, log }, config.jobs),
    responder: createResponder(config),
    analyzer: createAnalyzer(config),
    log,
  };
  registerKnowledgeBaseJobs(runtime);
  registerChatJobs(runtime);

  const http = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  const routes: { method: string; url: string }[] = [];
  http.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) if (method !== "HEAD") routes.push({ method, url: r.url });
  });
  http.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });

  await http.register(cors, browserCors(config));

  // Outside the route groups (GraphQL's body parsing, unknown paths): the path's dialect.
  useDialectErrors(http);
  http.setNotFoundHandler((req, reply) => {
    const e = new AppError("NOT_FOUND", `No route ${req.method} ${req.url.split("?")[0]}`);
    return reply.status(404).send(dialectForPath(req.url).renderError(e));
  });

  http.get("/healthz", async () => ({ status: "ok" }));
  registerFileRoutes(http, runtime);
  http.get("/readyz", async (_req, reply) => {
    try {
      await Promise.race([
        runtime.db.$queryRawUnsafe("SELECT 1"),
        new Promise((_, reject) => setTimeout(() => reject(new Error("database check timed out")), 2000).unref()),
      ]);
      return { status: "ready", database: "ok" };
    } catch (err) {
      log.warn({ err }, "readiness check failed");
      return reply.status(503).send({ status: "unavailable", database: "unreachable" });
    }
  });

  for (const group of ROUTE_GROUPS) {
    await http.register(async (scope) => registerGroup(scope, runtime, group, config));
  }
  const openapi = buildOpenApi(ROUTE_GROUPS, VERSION);
  http.get("/openapi.json", async () => openapi);
  await http.register(import("@scalar/fastify-api-reference"), {
    routePrefix: "/docs",
    configuration: { url: "/openapi.json", title: "Parley REST reference" },
  });

  const yoga = createGraphQL(config, runtime, log);
  http.route({
    url: yoga.graphqlEndpoint,
    method: ["GET", "POST", "OPTIONS"],
    handler: async (req, reply) => {
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
      response.headers.forEach((value, key) => reply.header(key, value));
      reply.status(response.status);
      reply.send(response.body);
      return reply;
    },
  });

  let ws: ReturnType<typeof attachGraphQLWebSocket> | undefined;
  let started = false;
  return {
    config,
    runtime,
    database,
    http,
    log,
    routes,
    async start() {
      const result = await migrate(database.provider, database.location);
      if (result.applied.length) log.info({ applied: result.applied }, "applied database migrations");
      // WAL (set by the migration runner) with synchronous=NORMAL: a commit no longer waits for an
      // fsync, which blocks the event loop for about a millisecond per write. The database stays
      // consistent; a power cut (not a crash of Parley) can lose the last commits.
      if (database.provider === "sqlite") await runtime.db.$executeRawUnsafe("PRAGMA synchronous = NORMAL");
      runtime.jobs.start();
      ws = attachGraphQLWebSocket(http.server, yoga, runtime, config);
      await http.listen({ port: config.port, host: config.host });
      started = true;
      const address = http.server.address();
      const port = typeof address === "object" && address ? address.port : config.port;
      const host = config.host.includes(":") ? `[${config.host}]` : config.host;
      return { url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`, port };
    },
    async stop() {
      await ws?.close();
      if (started) await http.close();
      await runtime.jobs.stop();
      await database.close();
    },
  };
}
