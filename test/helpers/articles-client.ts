import { expect } from "vitest";
import { http } from "./http.ts";
import type { TestServer } from "./server.ts";

/** Requests against a test server, JSON in and out (the articles test files share it). */
export function client(server: () => TestServer) {
  const api = http(server, { accept: "application/json" });
  /** REST, with the body parsed: { status, body, headers }. */
  const call = api.callJson;
  async function create(token: string, body: Record<string, unknown>) {
    const res = await call("/v1/api/knowledge_base/articles/", { method: "POST", token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: number; [k: string]: unknown };
  }
  /** GraphQL with a bearer key (Accept: application/json); variables default to {}. */
  const gql = (key: string, query: string, variables: Record<string, unknown> = {}) => api.gql(key, query, variables);
  return { call, create, gql };
}
