import { expect } from "vitest";
import type { TestServer } from "./server.ts";

/** Requests against a test server, JSON in and out (the articles test files share it). */
export function client(server: () => TestServer) {
  async function call(path: string, init: { method?: string; token?: string | null; body?: unknown; raw?: string } = {}) {
    const headers: Record<string, string> = {};
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    let body: string | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${server().url}${path}`, { method: init.method ?? "GET", headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }
  async function create(token: string, body: Record<string, unknown>) {
    const res = await call("/v1/api/knowledge_base/articles/", { method: "POST", token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: number; [k: string]: unknown };
  }
  async function gql(key: string, query: string, variables: Record<string, unknown> = {}) {
    const res = await fetch(`${server().url}/graphql`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  }
  return { call, create, gql };
}

export function quickchatError(code: string, message?: string | RegExp) {
  return { errors: { root: [{ message: message === undefined ? expect.any(String) : typeof message === "string" ? message : expect.stringMatching(message), code }] } };
}

export const WRITE_SCOPE_MESSAGE = "Insufficient token scope. Required: write_all";
