import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { buildApp } from "../src/app.ts";
import { startServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.stop());

describe("health", () => {
  it("GET /healthz answers while the process is alive", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("GET /readyz is 200 while the database answers", async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", database: "ok", redis: "disabled" });
  });

  it("echoes a caller's x-request-id", async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
  });
});

describe("readiness without a database", () => {
  it("GET /readyz is 503 when the database is unreachable, while /healthz stays 200", async () => {
    // A PostgreSQL URL where nothing listens: the app is built but never migrated or started.
    const config = { ...server.config, databaseUrl: "postgresql://parley@127.0.0.1:1/parley" };
    const app = await buildApp(config, { logger: pino({ level: "silent" }) });
    try {
      const ready = await app.http.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: "unavailable", database: "unreachable", redis: "disabled" });
      expect((await app.http.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await app.stop();
    }
  });
});

describe("errors before a handler runs, in the path's dialect", () => {
  it("GraphQL: malformed JSON and bodies over 1 MiB are 400 GraphQL errors", async () => {
    const bad = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors[0].extensions.code).toBe("BAD_REQUEST");
    const big = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(1024 * 1024) } }),
    });
    expect(big.status).toBe(400);
    expect(await big.json()).toEqual({ errors: [{ message: "Request body is larger than 1 MiB", extensions: { code: "BAD_REQUEST" } }] });
  });

  it("unknown paths answer 404 in each dialect", async () => {
    const get = async (path: string) => {
      const res = await fetch(server.url + path);
      return { status: res.status, body: await res.json() };
    };
    expect(await get("/v1/api/nope")).toEqual({
      status: 404,
      body: { errors: { root: [{ message: "No route GET /v1/api/nope", code: "NOT_FOUND" }] } },
    });
    expect(await get("/api/v1/nope")).toEqual({ status: 404, body: { error: "No route GET /api/v1/nope" } });
    expect(await get("/nope")).toEqual({ status: 404, body: { error: "No route GET /nope", code: "NOT_FOUND" } });
  });
});
