import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.stop());

describe("OpenAPI document", () => {
  it("GET /openapi.json is OpenAPI 3.1.0 and documents every compatibility route", async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });

    const compat = server.app.routes.filter((r) => /^\/(v1\/|api\/|chat)/.test(r.url));
    // The three dialects are all registered.
    expect(compat.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        "GET /v1/api/chatbot_settings",
        "PATCH /v1/api/chatbot_settings",
        "GET /v1/api_core/conversations",
        "GET /api/v1/conversations/:id",
        "GET /api/v1/chat/config",
      ]),
    );
    const missing: string[] = [];
    for (const r of compat) {
      const path = r.url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
      const op = doc.paths?.[path]?.[r.method.toLowerCase()];
      if (!op) missing.push(`${r.method} ${r.url}`);
      else {
        expect(op.responses, `${r.method} ${r.url}`).toBeTypeOf("object");
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      }
    }
    expect(missing).toEqual([]);

    // Path parameters are declared.
    const transcript = doc.paths["/api/v1/conversations/{id}"].get;
    expect(transcript.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "id", in: "path", required: true })]));
    // The PATCH documents its body.
    expect(doc.paths["/v1/api/chatbot_settings"].patch.requestBody.content["application/json"].schema).toBeTypeOf("object");
  });

  it("GET /docs serves an HTML page", async () => {
    const res = await fetch(`${server.url}/docs`, { redirect: "follow" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain("/openapi.json");
  });
});
