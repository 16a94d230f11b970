import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import cors from "@fastify/cors";
import pino, { type Logger } from "pino";
import type { Config } from "./config.ts";
import type { Database } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
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
import { JobWorkerPool } from "./jobs/worker-pool.ts";
import { createRuntime, tuneDatabase, type BuildOptions } from "./runtime.ts";
import { drainHttp, OpenStreams } from "./shutdown.ts";
import { connectRedis, type RedisConnections } from "./redis.ts";
import { RedisEventBridge } from "./events/redis-bridge.ts";
import { RateLimits, sharedLimiters } from "./services/rate-limit.ts";

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
  /** The job worker processes (JOB_WORKERS > 0), or null when jobs run in this process. */
  readonly jobWorkers: JobWorkerPool | null;
  /** The Redis connections (REDIS_URL), or null for one instance on its own. */
  readonly redis: RedisConnections | null;
  /** Method and URL of every route the HTTP server registered. */
  readonly routes: { method: string; url: string }[];
  /** Applies pending migrations and listens; resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  stop(): Promise<void>;
}

export type { BuildOptions };

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: "parley" } });
  // Several instances (REDIS_URL): rate-limit counters in Redis and live events fanned out through it.
  const redis = config.redisUrl ? connectRedis(config.redisUrl, log) : null;
  const rateLimits = options.rateLimits ?? (redis ? new RateLimits(sharedLimiters(redis.commands)) : undefined);
  const { runtime, database } = createRuntime(config, log, { ...options, rateLimits });
  const bridge = redis ? new RedisEventBridge(runtime.events, redis, log) : null;
  const workers = config.jobWorkers > 0 ? new JobWorkerPool(config, runtime, log) : null;

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
    // Redis down is a degradation (local pubsub, per-instance limits), not a reason to take the instance out.
    const redisState = redis ? redis.status() : "disabled";
    try {
      await Promise.race([
        runtime.db.$queryRawUnsafe("SELECT 1"),
        new Promise((_, reject) => setTimeout(() => reject(new Error("database check timed out")), 2000).unref()),
      ]);
      return { status: "ready", database: "ok", redis: redisState };
    } catch (err) {
      log.warn({ err }, "readiness check failed");
      return reply.status(503).send({ status: "unavailable", database: "unreachable", redis: redisState });
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
  const streams = new OpenStreams();
  http.route({
    url: yoga.graphqlEndpoint,
    method: ["GET", "POST", "OPTIONS"],
    handler: async (req, reply) => {
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
      response.headers.forEach((value, key) => reply.header(key, value));
      reply.status(response.status);
      if (response.headers.get("content-type")?.startsWith("text/event-stream")) streams.track(reply.raw);
      reply.send(response.body);
      return reply;
    },
  });

  let ws: ReturnType<typeof attachGraphQLWebSocket> | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  return {
    config,
    runtime,
    database,
    jobWorkers: workers,
    redis,
    http,
    log,
    routes,
    async start() {
      const result = await migrate(database.provider, database.location);
      if (result.applied.length) log.info({ applied: result.applied }, "applied database migrations");
      await tuneDatabase(database);
      bridge?.start();
      if (workers) await workers.start();
      else runtime.jobs.start();
      ws = attachGraphQLWebSocket(http.server, yoga, runtime, config);
      await http.listen({ port: config.port, host: config.host });
      started = true;
      const address = http.server.address();
      const port = typeof address === "object" && address ? address.port : config.port;
      const host = config.host.includes(":") ? `[${config.host}]` : config.host;
      return { url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`, port };
    },
    stop() {
      return (stopping ??= shutdown());
    },
  };

  /**
   * Graceful: no new connections, requests in flight finish (up to shutdownTimeoutMs), live
   * subscribers are told to reconnect (elsewhere), running jobs finish or go back to the queue.
   * stop() called again (a second SIGTERM) waits for the same shutdown.
   */
  async function shutdown() {
    const graceMs = config.shutdownTimeoutMs;
    const drained = started ? drainHttp(http, graceMs, log) : Promise.resolve();
    streams.cutAll();
    const wsClosed = ws?.close(graceMs) ?? Promise.resolve();
    // Meanwhile the jobs: no more claims; running ones get stopTimeoutMs, then their claims are
    // released (queued again, unlocked) so another instance takes them at once, not after the lease.
    const jobsStopped = workers ? workers.stop() : runtime.jobs.stop();
    await Promise.all([drained, wsClosed]);
    await jobsStopped;
    // After the jobs: what they published while finishing still reached the other instances.
    bridge?.close();
    await redis?.close();
    await runtime.outbound.close();
    await database.close();
  }
}
