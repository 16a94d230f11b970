import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { hashVisitorToken } from "../src/services/conversation-access.ts";
import { TAKEOVER_SCOPES } from "../src/services/external-agents.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { startLlmStub, type LlmStub } from "./helpers/llm-stub.ts";
import { graphqlWsClients } from "./helpers/ws.ts";
import { wsSubscription } from "./helpers/live.ts";

// Replies by operators and agents reach the visitor in the conversation's language when a
// translator (an OpenAI-compatible endpoint, here a local stub) is configured; when it fails, the
// reply goes out as written, marked untranslated.

let server: TestServer;
let stub: LlmStub;
let t: Tenant;
let agent: { id: string; name: string };

beforeAll(async () => {
  stub = await startLlmStub();
  server = await startServer(
    {},
    { TRANSLATOR_BASE_URL: `${stub.url}/`, TRANSLATOR_MODEL: "translate-model", TRANSLATOR_API_KEY: "tr-secret", TRANSLATOR_TIMEOUT_MS: "1000" },
  );
  t = await seed(server.app).workspace("Translations");
  agent = await t.member("Agent Ada", "external_agent");
});
afterAll(async () => {
  await server?.stop();
  await stub?.stop();
});
beforeEach(() => {
  stub.requests.length = 0;
});

const wsClient = graphqlWsClients(() => server.wsUrl);
const { callJson, gql } = http(() => server);
const db = () => server.app.runtime.db;
const ENGLISH = "Your parcel left our warehouse this morning and should arrive tomorrow.";
const GERMAN = "Ihr Paket hat heute Morgen unser Lager verlassen und sollte morgen ankommen.";

/** A conversation the visitor holds (visitor token), in `language`, taken over by a fresh key of the agent. */
async function takenOver(language: string | null) {
  const visitorToken = `vt-${randomUUID()}`;
  const c = await t.conversation([{ author: "visitor", content: "Wo ist mein Paket? Es sollte schon da sein." }], { visitorTokenHash: hashVisitorToken(visitorToken) });
  await db().conversation.update({ where: { id: c.id }, data: { mostFrequentLanguage: language } });
  const key = (await t.developerKey(TAKEOVER_SCOPES as unknown as Parameters<Tenant["developerKey"]>[0], agent.id)).secret;
  const res = await callJson(`/api/v1/conversations/${c.id}/takeover`, { method: "POST", token: key });
  expect(res.status).toBe(200);
  return { id: c.id, key, visitorToken };
}

const reply = (key: string, id: string, message: string) => callJson(`/api/v1/conversations/${id}/reply`, { method: "POST", token: key, body: { message } });

describe("with a translator", () => {
  it("translates into the conversation's language: the visitor sees the translation, the original is kept", async () => {
    stub.respond(() => ({ content: GERMAN }));
    const c = await takenOver("de");
    const site = (await t.widgetKey()).secret;
    const visitor = wsSubscription(wsClient(site), `subscription ($id: ID!, $token: String) { messageAdded(conversationId: $id, afterOrd: 1, visitorToken: $token) { ord author content authorName language } }`, {
      id: c.id,
      token: c.visitorToken,
    });

    const res = await reply(c.key, c.id, ENGLISH);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ author: "human_operator", content: GERMAN, translation: { translated: true, original: ENGLISH, targetLanguage: "de" } });

    // The request: the configured model and key, the text, the target language by name.
    expect(stub.requests).toHaveLength(1);
    const [req] = stub.requests;
    expect(req!.path).toBe("/v1/chat/completions");
    expect(req!.headers.authorization).toBe("Bearer tr-secret");
    expect(req!.body.model).toBe("translate-model");
    expect(req!.body.messages.at(-1)).toEqual({ role: "user", content: ENGLISH });
    expect(req!.body.messages[0]!.content).toContain("German");

    // Stored: the translation as content, the original in message_insights.
    const event = await db().conversationEvent.findUniqueOrThrow({ where: { id: res.body.id } });
    expect(event).toMatchObject({ content: GERMAN, language: "de", memberId: agent.id });
    expect(event.messageInsights).toEqual({ translated: true, original_content: ENGLISH, target_language: "de", translator_model: "translate-model" });

    // The visitor: live and on the site-key messages route.
    expect(await visitor.next((e) => e.ord === 3)).toEqual({ ord: 3, author: "human_operator", content: GERMAN, authorName: "Agent Ada", language: "de" });
    const messages = await callJson(`/api/v1/chat/conversations/${c.visitorToken}/messages`, { token: site });
    expect(messages.body.at(-1)).toMatchObject({ direction: "outbound", body: GERMAN, author: "Agent Ada" });

    // The agent's transcript shows both.
    const transcript = await callJson(`/api/v1/conversations/${c.id}`, { token: c.key });
    expect(transcript.body.messages.at(-1)).toMatchObject({ content: GERMAN, translation: { translated: true, original: ENGLISH, targetLanguage: "de" } });
  });

  it("strips a code fence a model wraps its answer in", async () => {
    stub.respond(() => ({ content: "```text\nBonjour, je regarde votre commande.\n```" }));
    const c = await takenOver("fr");
    const res = await reply(c.key, c.id, "Hello, I am looking at your order.");
    expect(res.body.content).toBe("Bonjour, je regarde votre commande.");
    expect(stub.requests[0]!.body.messages[0]!.content).toContain("French");
  });

  it("a failing translator (error status, bad JSON, no content, timeout): stored untranslated and marked so", async () => {
    const failures = [
      () => ({ status: 500, body: '{"error":{"message":"model overloaded"}}' }),
      () => ({ raw: "not json" }),
      () => ({ content: "   " }),
      () => ({ hang: true as const }),
    ];
    for (const failure of failures) {
      stub.respond(failure);
      const c = await takenOver("de");
      const res = await reply(c.key, c.id, ENGLISH);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ content: ENGLISH, translation: { translated: false, targetLanguage: "de", reason: "translator_failed" } });
      const event = await db().conversationEvent.findUniqueOrThrow({ where: { id: res.body.id } });
      expect(event.messageInsights).toEqual({ translated: false, reason: "translator_failed", target_language: "de" });
      expect(event.language).toBeNull();
    }
  });

  it("no translation when the conversation's language is unknown, or the reply is already in it", async () => {
    stub.respond(() => ({ content: "SHOULD NOT BE USED" }));
    const unknown = await takenOver(null);
    const a = await reply(unknown.key, unknown.id, ENGLISH);
    expect(a.body).toMatchObject({ content: ENGLISH, translation: { translated: false, targetLanguage: null, reason: "conversation_language_unknown" } });
    const german = await takenOver("de");
    const b = await reply(german.key, german.id, GERMAN);
    expect(b.body).toMatchObject({ content: GERMAN, translation: { translated: false, targetLanguage: "de", reason: "already_in_conversation_language" } });
    expect(stub.requests).toHaveLength(0);
  });

  it("GraphQL replies are translated the same way", async () => {
    stub.respond(() => ({ content: GERMAN }));
    const c = await takenOver("de");
    const res = await gql(c.key, `mutation ($id: ID!, $m: String!) { replyToConversation(conversationId: $id, message: $m) { content language messageInsights } }`, {
      id: c.id,
      m: ENGLISH,
    });
    expect(res.data.replyToConversation).toEqual({
      content: GERMAN,
      language: "de",
      messageInsights: { translated: true, original_content: ENGLISH, target_language: "de", translator_model: "translate-model" },
    });
  });
});

describe("configuration", () => {
  it("TRANSLATOR_* are read like LLM_*: a base URL needs a model, and must be http(s)", () => {
    expect(loadConfig({}).translator).toBeNull();
    expect(loadConfig({ TRANSLATOR_BASE_URL: "http://127.0.0.1:9/v1//", TRANSLATOR_MODEL: "m" }).translator).toEqual({
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: undefined,
      model: "m",
      timeoutMs: 15_000,
    });
    expect(() => loadConfig({ TRANSLATOR_BASE_URL: "http://127.0.0.1:9/v1" })).toThrow("TRANSLATOR_MODEL: required when TRANSLATOR_BASE_URL is set");
    expect(() => loadConfig({ TRANSLATOR_BASE_URL: "ftp://x", TRANSLATOR_MODEL: "m" })).toThrow(/TRANSLATOR_BASE_URL must be an http\(s\):\/\/ URL/);
    expect(() => loadConfig({ TRANSLATOR_BASE_URL: "http://x/v1", TRANSLATOR_MODEL: "m", TRANSLATOR_TIMEOUT_MS: "5" })).toThrow(/TRANSLATOR_TIMEOUT_MS/);
  });
});
