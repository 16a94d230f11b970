import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Responder, ResponderInput } from "../src/ai/responder.ts";
import { SYSTEM } from "../src/auth/scopes.ts";
import { createServiceContext } from "../src/services/context.ts";
import { revokeCredential } from "../src/services/credentials.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError } from "./helpers/http.ts";

// POST /chat: Quickchat's legacy chat endpoint (api_key + scenario_id in the body, reply inline).

let server: TestServer;
let a: Tenant;
let b: Tenant;
/** The happy paths use this key; rejected requests use others (writes: 60/min per key). */
let aKey: string;
let aReject: string;
let bKey: string;

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  await a.knowledgeBase([{ title: "Opening hours", content: "Our shop is open from 9 am to 5 pm, Monday to Friday." }]);
  aKey = (await a.legacyKey()).secret;
  aReject = (await a.legacyKey()).secret;
  bKey = (await b.legacyKey()).secret;
});
afterAll(() => server?.stop());

const { call, callJson } = http(() => server);
const chat = (body: Record<string, unknown>) => callJson("/chat", { method: "POST", body });
const db = () => server.app.runtime.db;
const events = (conversationId: string) =>
  db().conversationEvent.findMany({ where: { conversationId }, orderBy: { ord: "asc" } });

/** Swaps the server's responder for one that records what it was given (restored by the caller). */
function recordResponder(): { inputs: ResponderInput[]; restore(): void } {
  const runtime = server.app.runtime;
  const original = runtime.responder;
  const inputs: ResponderInput[] = [];
  const spy: Responder = {
    name: original.name,
    reply: (input) => {
      inputs.push(input);
      return original.reply(input);
    },
  };
  runtime.responder = spy;
  return { inputs, restore: () => void (runtime.responder = original) };
}

describe("POST /chat", () => {
  it("the documented curl example runs as written (host, key, scenario and conversation swapped)", async () => {
    const started = await chat({ api_key: aKey, scenario_id: a.scenarioId, text: "Hi" });
    expect(started.status).toBe(200);
    // curl -X POST https://chat.quickchat.ai/chat -H 'Content-Type: application/json'
    //   -d '{ "api_key": "<API_KEY>", "scenario_id": "<SCENARIO_ID>", "text": "Hello!", "conv_id": "abcd1234"}'
    const res = await call("/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      raw: `{ "api_key": "${aKey}", "scenario_id": "${a.scenarioId}", "text": "Hello!", "conv_id": "${started.body.conv_id}"}`,
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ ord_number: 4, conv_id: started.body.conv_id, reply: expect.any(String) });
    expect(body.reply.length).toBeGreaterThan(0);
  });

  it("starts a conversation without conv_id (source api, no greeting), then continues it: ords 1–4", async () => {
    const first = await chat({ api_key: aKey, scenario_id: a.scenarioId, text: "When are you open?" });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ord_number: 2, conv_id: expect.any(String), reply: expect.stringContaining("9 am to 5 pm") });

    const second = await chat({ api_key: aKey, scenario_id: a.scenarioId, text: "And on Saturday?", conv_id: first.body.conv_id });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ ord_number: 4, conv_id: first.body.conv_id });

    const conversation = await db().conversation.findUniqueOrThrow({ where: { id: first.body.conv_id } });
    expect(conversation).toMatchObject({ scenarioId: a.scenarioId, source: "api", eventCount: 4 });
    const stored = await events(first.body.conv_id);
    expect(stored.map((e) => [e.ord, e.author, e.isWelcome])).toEqual([
      [1, "visitor", false],
      [2, "ai_assistant", false],
      [3, "visitor", false],
      [4, "ai_assistant", false],
    ]);
    expect(stored[0]!.content).toBe("When are you open?");
    expect(stored[1]!.content).toBe(first.body.reply);
    expect(stored[3]!.content).toBe(second.body.reply);
  });

  it("passes message_context to the responder and stores it with the message", async () => {
    const spy = recordResponder();
    try {
      const res = await chat({ api_key: aKey, scenario_id: a.scenarioId, text: "When are you open?", message_context: "The customer is a premium member." });
      expect(res.status).toBe(200);
      expect(spy.inputs).toHaveLength(1);
      expect(spy.inputs[0]).toMatchObject({ question: "When are you open?", messageContext: "The customer is a premium member." });
      const [visitor] = await events(res.body.conv_id);
      expect(visitor).toMatchObject({ author: "visitor", messageContext: "The customer is a premium member." });
    } finally {
      spy.restore();
    }
  });

  it("attaches client_metadata (up to 5 keys) to the message only: the conversation's metadata (schema-checked) stays its own", async () => {
    const metadata = { plan: "pro", seats: 12, trial: false, region: null, ref: "newsletter" };
    const res = await chat({ api_key: aKey, scenario_id: a.scenarioId, text: "Hello", client_metadata: metadata });
    expect(res.status).toBe(200);
    const [visitor] = await events(res.body.conv_id);
    expect(visitor!.clientMetadata).toEqual(metadata);
    const conversation = await db().conversation.findUniqueOrThrow({ where: { id: res.body.conv_id } });
    expect(conversation.clientMetadata).toBeNull();

    const next = await chat({ api_key: aKey, scenario_id: a.scenarioId, text: "Again", conv_id: res.body.conv_id, client_metadata: { page: "/pricing" } });
    expect(next.status).toBe(200);
    expect((await events(res.body.conv_id))[2]!.clientMetadata).toEqual({ page: "/pricing" });
  });
});

describe("POST /chat: bad input changes nothing", () => {
  async function counts() {
    return { conversations: await db().conversation.count(), events: await db().conversationEvent.count() };
  }
  async function rejected(body: unknown, status: number, code: string, message?: string | RegExp) {
    const before = await counts();
    const res = await callJson("/chat", { method: "POST", body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body).toEqual(quickchatError(code, message));
    expect(await counts()).toEqual(before);
  }

  it("client_metadata with 6 keys → 422", async () => {
    await rejected(
      { api_key: aReject, scenario_id: a.scenarioId, text: "Hi", client_metadata: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 } },
      422,
      "VALIDATION_ERROR",
      "client_metadata: must have at most 5 keys",
    );
  });

  it("client_metadata that is not an object of scalars → 422", async () => {
    for (const client_metadata of [["x"], "plan=pro", { nested: { deep: true } }, { long: "x".repeat(501) }]) {
      await rejected({ api_key: aReject, scenario_id: a.scenarioId, text: "Hi", client_metadata }, 422, "VALIDATION_ERROR", /^client_metadata/);
    }
  });

  it("missing, empty or too long text → 422 (like every Quickchat body that fails its schema)", async () => {
    await rejected({ api_key: aReject, scenario_id: a.scenarioId }, 422, "VALIDATION_ERROR", /^text: /);
    await rejected({ api_key: aReject, scenario_id: a.scenarioId, text: "   " }, 422, "VALIDATION_ERROR", "text: is required and must not be empty");
    await rejected({ api_key: aReject, scenario_id: a.scenarioId, text: 42 }, 422, "VALIDATION_ERROR", /^text: /);
    await rejected({ api_key: aReject, scenario_id: a.scenarioId, text: "x".repeat(10_001) }, 422, "VALIDATION_ERROR", "text: must be at most 10000 characters");
  });

  it("a message_context over 2,000 characters → 422", async () => {
    await rejected(
      { api_key: aReject, scenario_id: a.scenarioId, text: "Hi", message_context: "x".repeat(2_001) },
      422,
      "VALIDATION_ERROR",
      "message_context: must be at most 2000 characters",
    );
  });

  it("missing scenario_id → 422", async () => {
    await rejected({ api_key: aReject, text: "Hi" }, 422, "VALIDATION_ERROR", /^scenario_id: /);
  });

  it("a wrong, missing or revoked api_key → 401", async () => {
    await rejected({ api_key: "0".repeat(40), scenario_id: a.scenarioId, text: "Hi" }, 401, "PERMISSION_DENIED", "Invalid credential");
    await rejected({ scenario_id: a.scenarioId, text: "Hi" }, 401, "PERMISSION_DENIED", "Missing credential");
    const revoked = await a.legacyKey();
    await revokeCredential(createServiceContext(server.app.runtime, SYSTEM), revoked.id);
    await rejected({ api_key: revoked.secret, scenario_id: a.scenarioId, text: "Hi" }, 401, "PERMISSION_DENIED");
  });

  it("scenario A's api_key with scenario B's id, or with an unknown id → the same 401", async () => {
    const other = await chat({ api_key: aReject, scenario_id: b.scenarioId, text: "Hi" });
    const unknown = await chat({ api_key: aReject, scenario_id: "00000000-0000-4000-8000-000000000000", text: "Hi" });
    expect(other.status).toBe(401);
    expect(other.body).toEqual(quickchatError("PERMISSION_DENIED", "Invalid credential"));
    expect(unknown).toMatchObject({ status: other.status, body: other.body });
    // Another scenario of the same workspace is no different.
    const sibling = await a.scenario("Sibling");
    await rejected({ api_key: aReject, scenario_id: sibling.scenarioId, text: "Hi" }, 401, "PERMISSION_DENIED", "Invalid credential");
  });

  it("a widget key, a scenario token or a developer key as api_key → 401", async () => {
    const widget = (await a.widgetKey()).secret;
    const token = (await a.token("write_all")).secret;
    const developer = (await a.developerKey()).secret;
    for (const api_key of [widget, token, developer]) {
      await rejected({ api_key, scenario_id: a.scenarioId, text: "Hi" }, 401, "PERMISSION_DENIED", "Invalid credential");
    }
  });

  it("a Bearer header is not the credential: the body's api_key is", async () => {
    const token = (await a.token("write_all")).secret;
    const res = await callJson("/chat", { method: "POST", token, body: { scenario_id: a.scenarioId, text: "Hi" } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(quickchatError("PERMISSION_DENIED", "Missing credential"));
  });

  it("conv_id of another scenario, an unknown one or a malformed one → 404", async () => {
    const theirs = await chat({ api_key: bKey, scenario_id: b.scenarioId, text: "Hi" });
    expect(theirs.status).toBe(200);
    const theirEvents = await db().conversationEvent.count({ where: { conversationId: theirs.body.conv_id } });
    for (const conv_id of [theirs.body.conv_id, "00000000-0000-4000-8000-000000000000", "abcd1234"]) {
      await rejected({ api_key: aReject, scenario_id: a.scenarioId, text: "Hi", conv_id }, 404, "NOT_FOUND", "Conversation not found");
    }
    expect(await db().conversationEvent.count({ where: { conversationId: theirs.body.conv_id } })).toBe(theirEvents);
  });

  it("a malformed JSON body → 400", async () => {
    const res = await callJson("/chat", { method: "POST", raw: '{"api_key": ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST", "Malformed JSON body"));
  });

  it("each key has the WRITE budget (60/min): the 61st request → 429 in the Quickchat dialect", async () => {
    const key = (await a.legacyKey()).secret;
    // Rejected bodies spend the budget too, and store nothing, so the test stays fast.
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) {
      statuses.push((await call("/chat", { method: "POST", body: { api_key: key, scenario_id: a.scenarioId } })).status);
    }
    expect(statuses.slice(0, 60).every((s) => s === 422)).toBe(true);
    const res = await chat({ api_key: key, scenario_id: a.scenarioId, text: "Hi" });
    expect(res.status).toBe(429);
    expect(res.body).toEqual(quickchatError("TOO_MANY_REQUESTS"));
  });
});

describe("POST /chat in the OpenAPI document", () => {
  it("documents the body (with api_key) and no Bearer security", async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    const op = doc.paths["/chat"].post;
    expect(op.security).toEqual([]);
    expect(op.requestBody.content["application/json"].schema.required).toEqual(expect.arrayContaining(["api_key", "scenario_id", "text"]));
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "401", "404", "422", "429"]));
  });
});
