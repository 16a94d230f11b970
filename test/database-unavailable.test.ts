import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { buildApp, type App } from "../src/app.ts";
import { signScenarioToken } from "../src/auth/credentials.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { isDatabaseUnavailable } from "../src/db/faults.ts";
import { sql } from "../src/db/sql.ts";
import { toAppError } from "../src/errors.ts";

// A database that is down answers 503 SERVICE_UNAVAILABLE, not 500 (the whole restart under load
// is test/cluster/db-faults.test.ts). Here: which failures count as "down", with the real driver
// against addresses where no PostgreSQL answers, and what each dialect then renders.

const DOWN = "postgresql://parley@127.0.0.1:1/parley";

describe("isDatabaseUnavailable", () => {
  it("recognises the shapes an outage takes (as seen with PostgreSQL stopped, restarted and killed)", () => {
    const unavailable = [
      { name: "PrismaClientKnownRequestError", code: "P1001", meta: { driverAdapterError: { name: "DriverAdapterError", cause: { kind: "DatabaseNotReachable" } } } },
      { name: "PrismaClientKnownRequestError", code: "P1017", meta: { driverAdapterError: { cause: { kind: "ConnectionClosed" } } } },
      { name: "PrismaClientKnownRequestError", code: "P2010", meta: { driverAdapterError: { cause: { kind: "DatabaseNotReachable" } } } },
      { name: "PrismaClientKnownRequestError", code: "P2010", meta: { driverAdapterError: { cause: { kind: "postgres", code: "57P01" } } } },
      { name: "DriverAdapterError", message: "the database system is starting up", cause: { kind: "postgres", code: "57P03" } },
      { name: "DriverAdapterError", cause: { kind: "postgres", code: "08006" } },
      { name: "DriverAdapterError", cause: { kind: "TooManyConnections" } },
      new Error("Connection terminated unexpectedly"),
      new Error("timeout exceeded when trying to connect"),
      new Error("wrapped", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }) }),
      Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }),
    ];
    for (const err of unavailable) {
      expect(isDatabaseUnavailable(err), JSON.stringify(err)).toBe(true);
      expect(toAppError(err)).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503, message: "Service temporarily unavailable" });
    }
  });

  it("leaves request faults and bugs alone", () => {
    const other = [
      { name: "PrismaClientKnownRequestError", code: "P2002", meta: { driverAdapterError: { cause: { kind: "UniqueConstraintViolation" } } } },
      { name: "PrismaClientKnownRequestError", code: "P2025" },
      { name: "PrismaClientKnownRequestError", code: "P2010", meta: { driverAdapterError: { cause: { kind: "postgres", code: "42P01" } } } },
      { name: "DriverAdapterError", cause: { kind: "postgres", code: "23505" } },
      new Error("Connection terminated by a bug in a message"),
      new TypeError("Cannot read properties of undefined"),
      null,
      "a string",
    ];
    for (const err of other) {
      expect(isDatabaseUnavailable(err), JSON.stringify(err)).toBe(false);
      if (err) expect(toAppError(err).code).toBe("UNKNOWN");
    }
  });
});

describe("through the real PostgreSQL driver", () => {
  /** A port that accepts connections and never says a word (a server hung, a packet-eating firewall). */
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  const operations = (db: ReturnType<typeof openDatabase>) => ({
    orm: () => db.prisma.workspace.findFirst(),
    raw: () => db.prisma.$queryRawUnsafe("SELECT 1"),
    lane: () => db.sql.all(sql`SELECT 1 AS "x"`),
    laneTransaction: () => db.sql.transaction((q) => q.all(sql`SELECT 1 AS "x"`)),
    interactiveTransaction: () => db.prisma.$transaction((tx) => tx.workspace.findFirst()),
  });

  async function failures(url: string): Promise<Record<string, unknown>> {
    const db = openDatabase({ databaseUrl: url, dataDir: "/nonexistent" });
    try {
      const out: Record<string, unknown> = {};
      await Promise.all(
        Object.entries(operations(db)).map(async ([name, run]) => {
          out[name] = await run().then(
            () => "succeeded",
            (err: unknown) => err,
          );
        }),
      );
      return out;
    } finally {
      await db.close();
    }
  }

  it("connection refused: every kind of statement fails as unavailable", async () => {
    for (const [name, err] of Object.entries(await failures(DOWN))) {
      expect(isDatabaseUnavailable(err), `${name}: ${String(err)}`).toBe(true);
    }
  });

  it("a server that never answers: the pool gives up after its connection timeout, as unavailable", async () => {
    const { port } = silent.address() as AddressInfo;
    for (const [name, err] of Object.entries(await failures(`postgresql://parley@127.0.0.1:${port}/parley`))) {
      expect(isDatabaseUnavailable(err), `${name}: ${String(err)}`).toBe(true);
    }
  });
});

describe("each dialect renders 503 SERVICE_UNAVAILABLE while the database is down", () => {
  let app: App;
  beforeAll(async () => {
    // Built, never started: no migration, nothing listening; the routes answer through inject.
    app = await buildApp({ ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" }), databaseUrl: DOWN }, { logger: pino({ level: "silent" }) });
  });
  afterAll(() => app?.stop());

  const bearer = { authorization: "Bearer cw_dev_0123456789abcdef0123456789abcdef" };

  it("Quickchat REST", async () => {
    // A well-signed scenario token: its signature checks out offline, its revocation needs the database.
    const now = new Date();
    const token = await signScenarioToken(app.runtime.signingSecret, {
      id: "00000000-0000-4000-8000-000000000000",
      scenarioId: "00000000-0000-4000-8000-000000000001",
      scope: "read_all",
      issuedAt: now,
      expiresAt: new Date(now.getTime() + 60_000),
    });
    const res = await app.http.inject({ method: "GET", url: "/v1/api_core/conversations", headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ errors: { root: [{ message: "Service temporarily unavailable", code: "SERVICE_UNAVAILABLE" }] } });
  });

  it("Quincer REST and the site-key chat API", async () => {
    for (const url of ["/api/v1/leads", "/api/v1/chat/config"]) {
      const res = await app.http.inject({ method: "GET", url, headers: url.includes("/chat/") ? { "x-site-key": "cw_live_0123456789abcdef" } : bearer });
      expect(res.statusCode, url).toBe(503);
      expect(res.json(), url).toEqual({ error: "Service temporarily unavailable" });
    }
  });

  it("GraphQL: a 503 with the code in extensions", async () => {
    const res = await app.http.inject({
      method: "POST",
      url: "/graphql",
      headers: { ...bearer, "content-type": "application/json" },
      payload: JSON.stringify({ query: "{ conversations(first: 1) { totalCount } }" }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().errors).toMatchObject([{ message: "Service temporarily unavailable", extensions: { code: "SERVICE_UNAVAILABLE" } }]);
    // The status travels in the response, not in the body.
    expect(res.json().errors[0].extensions.http).toBeUndefined();
  });
});
