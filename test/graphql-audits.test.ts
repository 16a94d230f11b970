import { serverAudits } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.stop());

// The audit list is static; the URL is read when each audit runs, after the server started.
const audits = serverAudits({ url: () => `${server.url}/graphql`, fetchFn: fetch });

describe("GraphQL over HTTP audits (graphql-http)", () => {
  it("has audits to run", () => {
    expect(audits.length).toBeGreaterThan(30);
  });

  for (const audit of audits) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status !== "ok") {
        const response = "response" in result ? result.response : undefined;
        const body = response ? await response.clone().text().catch(() => "") : "";
        expect.fail(`${result.status}: ${result.reason} — HTTP ${response?.status} ${response?.headers.get("content-type")} ${body.slice(0, 300)}`);
      }
    });
  }
});
