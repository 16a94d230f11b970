import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { parsePagination } from "../src/services/pagination.ts";
import { isLanguageCode } from "../src/services/chatbot-settings.ts";
import { kindOfPresented, signScenarioToken, verifyScenarioToken } from "../src/auth/credentials.ts";
import { AppError } from "../src/errors.ts";

describe("pagination", () => {
  it("defaults and parses", () => {
    expect(parsePagination({})).toEqual({ limit: 10, offset: 0 });
    expect(parsePagination({ limit: "100", offset: "5" })).toEqual({ limit: 100, offset: 5 });
  });
  it.each([["-1"], ["abc"], ["101"], ["0"], ["1.5"], [""]])("rejects limit=%s with BAD_REQUEST", (limit) => {
    expect(() => parsePagination({ limit })).toThrowError(AppError);
    try {
      parsePagination({ limit });
    } catch (e) {
      expect((e as AppError).code).toBe("BAD_REQUEST");
      expect((e as AppError).status).toBe(400);
    }
  });
  it("rejects negative offsets", () => {
    expect(() => parsePagination({ offset: "-5" })).toThrowError(/offset/);
  });
});

describe("config", () => {
  it("defaults to SQLite in ./data with dev tooling on", () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir.endsWith("/data")).toBe(true);
    expect(c.port).toBe(3000);
    expect(c.graphiql && c.introspection).toBe(true);
  });
  it("turns introspection and GraphiQL off in production unless overridden", () => {
    expect(loadConfig({ NODE_ENV: "production" })).toMatchObject({ graphiql: false, introspection: false });
    expect(loadConfig({ NODE_ENV: "production", INTROSPECTION: "true" }).introspection).toBe(true);
  });
  it("rejects bad values with one readable message", () => {
    expect(() => loadConfig({ PORT: "http" })).toThrowError(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrowError(/DATABASE_URL/);
    expect(() => loadConfig({ PARLEY_SECRET: "short" })).toThrowError(/PARLEY_SECRET/);
  });
});

describe("credentials", () => {
  it("tells kinds apart by shape", () => {
    expect(kindOfPresented("cw_dev_abc")).toBe("developer");
    expect(kindOfPresented("cw_live_abc")).toBe("widget");
    expect(kindOfPresented("a.b.c")).toBe("scenario_token");
    expect(kindOfPresented("0123abcd")).toBe("legacy");
  });
  it("verifies tokens, and reports expiry and foreign signatures", async () => {
    const secret = "s".repeat(40);
    const issuedAt = new Date("2026-01-01T00:00:00Z");
    const expiresAt = new Date("2026-01-02T00:00:00Z");
    const token = await signScenarioToken(secret, { id: "t1", scenarioId: "sc1", scope: "read_all", issuedAt, expiresAt });
    expect(await verifyScenarioToken(secret, token, issuedAt)).toEqual({ ok: true, jti: "t1", scenarioId: "sc1" });
    expect(await verifyScenarioToken(secret, token, new Date("2026-01-03T00:00:00Z"))).toEqual({ ok: false, reason: "expired" });
    expect(await verifyScenarioToken("x".repeat(40), token, issuedAt)).toEqual({ ok: false, reason: "invalid" });
  });
});

describe("language codes", () => {
  it("accepts ICU-known codes and rejects others", () => {
    for (const c of ["en", "de", "pt-BR", "es"]) expect(isLanguageCode(c)).toBe(true);
    for (const c of ["xx1", "zz", "english", "", "EN"]) expect(isLanguageCode(c)).toBe(false);
  });
});
