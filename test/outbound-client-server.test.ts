import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_USER_AGENT, OutboundRefusedError } from "../src/services/outbound-guard.ts";
import { http } from "./helpers/http.ts";
import { startLlmStub, type LlmStub } from "./helpers/llm-stub.ts";
import { seed } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startSite, type TestSite } from "./helpers/test-site.ts";

// The runtime's one outbound guard: the configured base URLs (LLM_BASE_URL, YOUTUBE_BASE_URL…)
// are trusted origins, so a local LLM works without OUTBOUND_ALLOWLIST, while any other local
// address stays refused.

let llm: LlmStub;
let youtube: TestSite;
let target: TestSite;
let server: TestServer;
const { callJson } = http(() => server);

beforeAll(async () => {
  [llm, youtube, target] = await Promise.all([startLlmStub(), startSite(), startSite()]);
  llm.respond((req) =>
    req.body.response_format
      ? { content: JSON.stringify({ title: "Hi", topic: "Greeting", sentiment: "neutral", resolution_status: "open", is_flagged: false, flag_reason: null }) }
      : { content: "Hello from the local model." },
  );
  server = await startServer({}, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model", LLM_API_KEY: "sk-local", YOUTUBE_BASE_URL: youtube.origin });
});
afterAll(async () => {
  await server?.stop();
  await Promise.all([llm?.stop(), youtube?.close(), target?.close()]);
});

describe("the runtime's outbound guard", () => {
  it("reaches the LLM at LLM_BASE_URL on 127.0.0.1 without an allowlist, identifying itself", async () => {
    const t = await seed(server.app).workspace();
    const key = (await t.legacyKey()).secret;
    const res = await callJson("/chat", { method: "POST", body: { api_key: key, scenario_id: t.scenarioId, text: "Hi there" } });
    expect(res.status).toBe(200);
    expect(res.body.reply).toBe("Hello from the local model.");
    const sent = llm.replyRequests().at(-1)!;
    expect(sent.headers["user-agent"]).toBe(DEFAULT_USER_AGENT);
    expect(sent.headers.authorization).toBe("Bearer sk-local");
  });

  it("trusts the configured base URLs and refuses other local addresses", async () => {
    const guard = server.app.runtime.outbound;
    expect(guard.isTrusted(`${llm.url}/chat/completions`)).toBe(true);
    youtube.on("/watch", (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>video</html>"));
    const opts = { timeoutMs: 5000, maxResponseBytes: 10_000, maxRedirects: 2, trusted: true };
    const page = await guard.fetch(`${youtube.origin}/watch?v=abc`, opts);
    expect(page.body.toString()).toBe("<html>video</html>");
    // The same URL as a user's (a page to import): no exception.
    await expect(guard.fetch(`${youtube.origin}/watch?v=abc`, { ...opts, trusted: false })).rejects.toBeInstanceOf(OutboundRefusedError);
    expect(youtube.seen("/watch?v=abc")).toHaveLength(1);
    await expect(guard.fetch(target.url("/private"), opts)).rejects.toBeInstanceOf(OutboundRefusedError);
    youtube.on("/away", (_req, res) => res.writeHead(302, { location: target.url("/private") }).end());
    await expect(guard.fetch(`${youtube.origin}/away`, opts)).rejects.toBeInstanceOf(OutboundRefusedError);
    expect(target.seen()).toHaveLength(0);
  });
});
