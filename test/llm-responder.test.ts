import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { DONT_KNOW } from "../src/ai/kb-responder.ts";
import { NO_ANSWER, samplingFor } from "../src/ai/llm-prompt.ts";
import { dontKnow, MarkerFilter } from "../src/ai/llm-responder.ts";
import type { LiveConversationMessage } from "../src/events/live.ts";
import { postVisitorMessage, RESPONDER_FAILED, startConversation } from "../src/services/chat.ts";
import { createServiceContext } from "../src/services/context.ts";
import { loadConfig } from "../src/config.ts";
import { http } from "./helpers/http.ts";
import { startLlmStub, type LlmStub, type StubReply, type StubRequest } from "./helpers/llm-stub.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";

// The optional LLM responder against a local chat-completions stub, driven through the chat flow.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const ANALYSIS = { title: "Returns", topic: "Return policy", sentiment: "neutral", resolution_status: "open", is_flagged: false, flag_reason: null };
const KB = [
  { title: "Return policy", content: "You can return any item within 30 days of delivery.\n\nRefunds reach your card within 5 business days." },
  { title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." },
];

let llm: LlmStub;
let server: TestServer;
/** Settings changed, streaming off. */
let formal: Tenant;
/** Default settings, streaming on (the widget default). */
let streaming: Tenant;
let formalArticles: number[];
let streamingArticles: number[];
const { callJson } = http(() => server);

/** Replies as `reply` says; analysis requests (JSON mode) get a valid analysis. */
function replies(reply: (req: StubRequest) => StubReply) {
  llm.respond((req) => (req.body.response_format ? { content: JSON.stringify(ANALYSIS) } : reply(req)));
}
const lastReplyRequest = () => llm.replyRequests().at(-1)!;
const ctx = () => createServiceContext(server.app.runtime, SYSTEM);
const start = (tenant: Tenant, content: string | null, extra: { clientMetadata?: Record<string, unknown> } = {}) =>
  startConversation(
    ctx(),
    { workspaceId: tenant.workspaceId, scenarioId: tenant.scenarioId, source: "api", welcome: true, clientMetadata: extra.clientMetadata },
    content === null ? null : { content },
    content === null ? "none" : "inline",
  );

beforeAll(async () => {
  llm = await startLlmStub();
  server = await startServer({ jobs: JOBS }, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model", LLM_API_KEY: "sk-test-key" });
  formal = await seed(server.app).workspace("Formal");
  streaming = await seed(server.app).workspace("Streaming");
  formalArticles = await formal.knowledgeBase(KB);
  streamingArticles = await streaming.knowledgeBase(KB);
  const token = (await formal.token("write_all")).secret;
  const settings = await callJson("/v1/api/chatbot_settings", {
    method: "PATCH",
    token,
    body: {
      personality: 2,
      profession: "customer_support_representative",
      creativity_level: 0,
      reply_length: 0,
      short_description: "Acme Kitchenware support",
      ai_commands: ["Never promise discounts", "Sign off as Ada"],
    },
  });
  expect(settings.status).toBe(200);
  const widget = await callJson("/v1/api/widget/configuration", { method: "PATCH", token, body: { streaming_active: false } });
  expect(widget.status).toBe(200);
});
afterAll(async () => {
  await server?.stop();
  await llm?.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Everything published on a conversation's topic until the assistant's reply event. */
async function collectUntilReply(conversationId: string, act: () => Promise<unknown>): Promise<LiveConversationMessage[]> {
  const iterator = server.app.runtime.events.subscribeConversation(conversationId)[Symbol.asyncIterator]();
  const seen: LiveConversationMessage[] = [];
  let next = iterator.next(); // subscribes now, before anything is published
  const done = act();
  for (;;) {
    const { value, done: ended } = await next;
    if (ended) break;
    seen.push(value);
    if (value.kind === "event" && value.event.author === "ai_assistant") break;
    next = iterator.next();
  }
  await iterator.return?.();
  await done;
  return seen;
}

describe("LLM responder: the request", () => {
  it("maps creativity to temperature and reply length to a token budget", () => {
    expect([0, 1, 2].map((c) => samplingFor({ creativityLevel: c, replyLength: 1 }).temperature)).toEqual([0, 0.5, 0.9]);
    expect([0, 1, 2].map((r) => samplingFor({ creativityLevel: 1, replyLength: r }).max_tokens)).toEqual([150, 400, 800]);
  });

  it("carries the settings, the retrieved passages, the history, metadata and message_context", async () => {
    replies((req) => ({ content: req.body.messages.at(-1)!.content.startsWith("Hi") ? "Good day. How may I help?" : "Items may be returned within 30 days. Ada" }));
    const r = await start(formal, "Hi there", { clientMetadata: { plan: "gold" } });
    expect(r.reply).toMatchObject({ content: "Good day. How may I help?" });
    expect(r.reply!.message_insights).toMatchObject({ responder: "llm", answered: true });

    const { reply } = await postVisitorMessage(
      ctx(),
      formal.workspaceId,
      r.conversation.id,
      { content: "What is your return policy?", messageContext: "The visitor is on the /orders page" },
      { mode: "inline", reopen: false },
    );
    const req = lastReplyRequest();
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBe("Bearer sk-test-key");
    expect(req.body).toMatchObject({ model: "test-model", stream: false, temperature: 0, max_tokens: 150 });
    const [system, ...rest] = req.body.messages;
    expect(system!.role).toBe("system");
    for (const part of [
      "Support Agent",
      "Personality: Formal",
      "Acme Kitchenware support",
      "one or two sentences",
      "- Never promise discounts",
      "- Sign off as Ada",
      "[1] Return policy",
      "You can return any item within 30 days of delivery.",
      `reply with exactly ${NO_ANSWER}`,
      '{"plan":"gold"}',
    ]) {
      expect(system!.content).toContain(part);
    }
    expect(rest).toEqual([
      { role: "assistant", content: "Hello! How can I help you today?" },
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Good day. How may I help?" },
      { role: "user", content: "What is your return policy?\n\nContext for this message: The visitor is on the /orders page" },
    ]);
    expect(reply).toMatchObject({ content: "Items may be returned within 30 days. Ada", author: "ai_assistant" });
    expect(reply!.sources_generated).toEqual([{ article_id: formalArticles[0], title: "Return policy", url: null }]);
    expect(reply!.message_insights).toMatchObject({ responder: "llm", answered: true, in_reply_to: [4] });
    expect(reply!.message_insights).not.toHaveProperty("stream_id");
  });

  it("follows changed settings: creativity 2 and long replies", async () => {
    const token = (await formal.token("write_all")).secret;
    await callJson("/v1/api/chatbot_settings", { method: "PATCH", token, body: { creativity_level: 2, reply_length: 2, personality: 6 } });
    replies(() => ({ content: "Shipping takes 3 to 5 days." }));
    await start(formal, "How long does shipping take?");
    const req = lastReplyRequest();
    expect(req.body).toMatchObject({ temperature: 0.9, max_tokens: 800 });
    expect(req.body.messages[0]!.content).toContain("Personality: Empathetic");
    expect(req.body.messages[0]!.content).toContain("about 250 words");
    await callJson("/v1/api/chatbot_settings", { method: "PATCH", token, body: { creativity_level: 0, reply_length: 0, personality: 2 } });
  });
});

describe("LLM responder: streaming", () => {
  it("publishes the chunks in order, then the final message with the full text, sources and the stream id", async () => {
    const { conversation } = await start(streaming, null);
    replies(() => ({ content: "unused", chunks: ["You can ", "return items ", "within 30 days."] }));
    const seen = await collectUntilReply(conversation.id, () =>
      postVisitorMessage(ctx(), streaming.workspaceId, conversation.id, { content: "Can I return an item?" }, { mode: "inline", reopen: false }),
    );
    expect(lastReplyRequest().body.stream).toBe(true);
    expect(lastReplyRequest().headers.accept).toBe("text/event-stream");
    const chunks = seen.filter((m) => m.kind === "chunk");
    expect(chunks.map((c) => c.delta)).toEqual(["You can ", "return items ", "within 30 days."]);
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2]);
    const streamId = chunks[0]!.stream_id;
    expect(new Set(chunks.map((c) => c.stream_id))).toEqual(new Set([streamId]));
    const final = seen.at(-1)!;
    expect(final.kind).toBe("event");
    if (final.kind !== "event") return;
    expect(final.event.content).toBe("You can return items within 30 days.");
    expect(final.event.message_insights).toMatchObject({ stream_id: streamId, answered: true, responder: "llm" });
    expect(final.event.sources_generated).toEqual([{ article_id: streamingArticles[0], title: "Return policy", url: null }]);
    // The visitor's own message came first, before any chunk.
    expect(seen[0]).toMatchObject({ kind: "event", event: { author: "visitor", content: "Can I return an item?" } });
  });

  it("never shows the no-answer marker: no chunks, the don't-know reply, answered false", async () => {
    const { conversation } = await start(streaming, null);
    replies(() => ({ content: "unused", chunks: ["[NO_", "ANS", "WER]"] }));
    const seen = await collectUntilReply(conversation.id, () =>
      postVisitorMessage(ctx(), streaming.workspaceId, conversation.id, { content: "Do you sell quantum bicycles?" }, { mode: "inline", reopen: false }),
    );
    expect(seen.filter((m) => m.kind === "chunk")).toEqual([]);
    const final = seen.at(-1)!;
    if (final.kind !== "event") throw new Error("expected the reply event");
    expect(final.event).toMatchObject({ content: DONT_KNOW, sources_generated: [] });
    expect(final.event.message_insights).toMatchObject({ answered: false });
    expect(final.event.message_insights).not.toHaveProperty("stream_id");
  });
});

describe("LLM responder: no answer", () => {
  it("answers the don't-know in the conversation's language once it is known", async () => {
    replies(() => ({ content: NO_ANSWER }));
    const r = await start(formal, "Bonjour, je voudrais savoir si vous vendez des vélos électriques");
    // The language is detected after the first reply.
    expect(r.reply).toMatchObject({ content: DONT_KNOW, sources_generated: [] });
    expect(r.reply!.message_insights).toMatchObject({ answered: false });
    const { reply } = await postVisitorMessage(
      ctx(),
      formal.workspaceId,
      r.conversation.id,
      { content: "Et est-ce que vous livrez en Belgique aussi ?" },
      { mode: "inline", reopen: false },
    );
    expect(reply).toMatchObject({ content: dontKnow("fr"), sources_generated: [] });
    expect(reply!.message_insights).toMatchObject({ answered: false });
    expect(lastReplyRequest().body.messages[0]!.content).toContain("The visitor's language is French");
  });

  it("keeps the model's own words written beside the marker, still answered false", async () => {
    replies(() => ({ content: `${NO_ANSWER} I'm afraid I can't help with that.` }));
    const r = await start(formal, "Can you fix my car?");
    expect(r.reply).toMatchObject({ content: "I'm afraid I can't help with that.", sources_generated: [] });
    expect(r.reply!.message_insights).toMatchObject({ answered: false });
  });

  it("with no passage at all, tells the model to answer small talk only", async () => {
    replies(() => ({ content: "Hello!" }));
    await start(formal, "zzz qqq");
    const system = lastReplyRequest().body.messages[0]!.content;
    expect(system).toContain("No knowledge base passage matches");
    expect(system).not.toContain("[1]");
  });
});

describe("LLM responder: failures", () => {
  const cases: { name: string; tenant: () => Tenant; reply: StubReply; error: RegExp }[] = [
    { name: "a 500", tenant: () => formal, reply: { status: 500, body: '{"error":{"message":"model overloaded"}}' }, error: /answered 500: model overloaded/ },
    { name: "malformed JSON", tenant: () => formal, reply: { raw: "{not json" }, error: /not valid JSON/ },
    { name: "a completion without content", tenant: () => formal, reply: { raw: '{"choices":[]}' }, error: /no choices\[0\]\.message\.content/ },
    { name: "empty content", tenant: () => formal, reply: { content: "  " }, error: /no content/ },
    { name: "malformed JSON in a stream", tenant: () => streaming, reply: { raw: 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {oops\n\n' }, error: /stream sent malformed JSON/ },
    { name: "an error event in a stream", tenant: () => streaming, reply: { raw: 'data: {"error":{"message":"context too long"}}\n\n' }, error: /context too long/ },
  ];
  it.each(cases)("$name: the visitor gets the graceful message, the error is logged, the message is kept", async ({ tenant, reply, error }) => {
    replies(() => reply);
    const logged = vi.spyOn(server.app.runtime.log, "error");
    const r = await start(tenant(), "What is your return policy?");
    expect(r.reply).toMatchObject({ content: RESPONDER_FAILED, sources_generated: [] });
    expect(r.reply!.message_insights).toMatchObject({ answered: false, error: "responder_failed" });
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.objectContaining({ message: expect.stringMatching(error) }), responder: "llm" }),
      "responder failed",
    );
    const stored = await server.app.runtime.db.conversationEvent.findMany({ where: { conversationId: r.conversation.id }, orderBy: { ord: "asc" } });
    expect(stored.map((e) => [e.author, e.content])).toEqual([
      ["ai_assistant", "Hello! How can I help you today?"],
      ["visitor", "What is your return policy?"],
      ["ai_assistant", RESPONDER_FAILED],
    ]);
  });

  it("an endpoint that hangs past LLM_TIMEOUT_MS: the graceful message and a logged timeout", async () => {
    const quick = await startServer({ jobs: JOBS }, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model", LLM_TIMEOUT_MS: "300" });
    try {
      const t = await seed(quick.app).workspace("Hanging");
      llm.respond(() => ({ hang: true }));
      const logged = vi.spyOn(quick.app.runtime.log, "error");
      const r = await startConversation(
        createServiceContext(quick.app.runtime, SYSTEM),
        { workspaceId: t.workspaceId, scenarioId: t.scenarioId, source: "api", welcome: false },
        { content: "Is anybody there?" },
        "inline",
      );
      expect(r.reply).toMatchObject({ content: RESPONDER_FAILED });
      expect(r.message).toMatchObject({ author: "visitor", content: "Is anybody there?" });
      expect(logged).toHaveBeenCalledWith(
        expect.objectContaining({ err: expect.objectContaining({ message: "LLM request timed out after 300 ms" }) }),
        "responder failed",
      );
    } finally {
      await quick.stop();
    }
  });
});

describe("LLM responder: the site-key widget API", () => {
  it("a visitor's first message gets the model's reply as auto_reply", async () => {
    const key = (await formal.widgetKey()).secret;
    replies(() => ({ content: "Returns are accepted within 30 days." }));
    const res = await callJson("/api/v1/chat/conversations", {
      method: "POST",
      token: key,
      body: { name: "Jo", email: "jo@example.com", message: "What is your return policy?", visitor_token: "visitor-llm-0001" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ auto_reply: "Returns are accepted within 30 days." });
    expect(lastReplyRequest().body.messages.at(-1)).toEqual({ role: "user", content: "What is your return policy?" });
  });
});

describe("LLM configuration", () => {
  it("reads LLM_* variables; the model is required with a base URL; no base URL, no LLM", () => {
    expect(loadConfig({ LLM_BASE_URL: "http://127.0.0.1:8080/v1/", LLM_MODEL: "m", LLM_API_KEY: "k" }).llm).toEqual({
      baseUrl: "http://127.0.0.1:8080/v1",
      model: "m",
      apiKey: "k",
      timeoutMs: 30_000,
    });
    expect(loadConfig({ LLM_MODEL: "m" }).llm).toBeNull();
    expect(() => loadConfig({ LLM_BASE_URL: "http://127.0.0.1:8080/v1" })).toThrow(
      "invalid configuration: LLM_MODEL: required when LLM_BASE_URL is set",
    );
    expect(() => loadConfig({ LLM_BASE_URL: "127.0.0.1:8080", LLM_MODEL: "m" })).toThrow(/LLM_BASE_URL must be an http\(s\):\/\/ URL/);
    expect(() => loadConfig({ LLM_BASE_URL: "http://x/v1", LLM_MODEL: "m", LLM_TIMEOUT_MS: "fast" })).toThrow(/LLM_TIMEOUT_MS/);
  });

  it("the responder and the analyzer follow the configuration", async () => {
    expect(server.app.runtime.responder.name).toBe("llm");
    expect(server.app.runtime.analyzer.name).toBe("llm");
    const { createAnalyzer, createResponder } = await import("../src/ai/index.ts");
    expect(createResponder(loadConfig({})).name).toBe("knowledge_base");
    expect(createAnalyzer(loadConfig({})).name).toBe("rules");
  });
});

describe("MarkerFilter", () => {
  const run = (pieces: string[]) => {
    const f = new MarkerFilter();
    const shown = pieces.map((p) => f.push(p));
    shown.push(f.end());
    return { shown: shown.join(""), found: f.found };
  };
  it("passes ordinary text through, holding back only what could start the marker", () => {
    expect(run(["Hello ", "[world]", " and [N", "ot this]"])).toEqual({ shown: "Hello [world] and [Not this]", found: false });
  });
  it("removes the marker split across deltas, and leading whitespace after it", () => {
    expect(run(["[NO", "_ANSWER", "] Sorry."])).toEqual({ shown: "Sorry.", found: true });
    expect(run(["Sorry. [NO_ANSWER]"])).toEqual({ shown: "Sorry. ", found: true });
    expect(run(["[NO_ANSWER]"])).toEqual({ shown: "", found: true });
  });
});
