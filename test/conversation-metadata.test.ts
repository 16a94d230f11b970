import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveInboxUpdate } from "../src/events/live.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http, quickchatError, WRITE_SCOPE_MESSAGE } from "./helpers/http.ts";

// Conversation metadata: GET/POST /v1/api_core/conversations/{conv_id}/metadata, and the scenario's
// JSON schema set over GraphQL. A POST merges: keys sent replace stored keys of the same name, other
// keys stay, a key sent as null is removed.

let server: TestServer;
let a: Tenant;
let write: string;
let read: string;
/** Rejected writes and the reads that check nothing changed use their own tokens (rate limits). */
let reject: string;
let check: string;
let devWrite: string;

const { callJson, gql } = http(() => server);
const path = (id: string) => `/v1/api_core/conversations/${id}/metadata`;
const db = () => server.app.runtime.db;

beforeAll(async () => {
  server = await startServer();
  a = await seed(server.app).workspace("Alpha");
  [write, read, reject, check] = await Promise.all([a.token("write_all"), a.token("read_all"), a.token("write_all"), a.token("read_all")]).then((t) =>
    t.map((x) => x.secret),
  );
  devWrite = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
});
afterAll(() => server?.stop());

/** The body validates against the response schema the route publishes in /openapi.json. */
let openapi: { paths: Record<string, Record<string, { responses: Record<string, { content: { "application/json": { schema: object } } }> }>> };
async function expectDocumented(method: "get" | "post", status: number, body: unknown) {
  openapi ??= await (await fetch(`${server.url}/openapi.json`)).json();
  const schema = openapi.paths["/v1/api_core/conversations/{conv_id}/metadata"]![method]!.responses[String(status)]!.content["application/json"].schema;
  const validate = new Ajv2020({ strict: false }).compile(schema);
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
}

async function metadataOf(id: string) {
  const res = await callJson(path(id), { token: check });
  expect(res.status).toBe(200);
  return res.body;
}

async function expectUnchanged(id: string, before: unknown, run: () => Promise<void>) {
  const events = await db().domainEvent.count({ where: { type: "conversation.metadata_updated" } });
  await run();
  expect(await metadataOf(id)).toEqual(before);
  expect(await db().domainEvent.count({ where: { type: "conversation.metadata_updated" } })).toBe(events);
}

describe("GET/POST /v1/api_core/conversations/{conv_id}/metadata", () => {
  let conv: string;
  beforeAll(async () => {
    conv = (await a.conversation([{ author: "visitor", content: "Hi" }])).id;
  });

  it("GET answers {metadata: {}} before anything is set", async () => {
    const res = await callJson(path(conv), { token: read });
    expect(res.status).toBe(200);
    await expectDocumented("get", 200, res.body);
    expect(res.body).toEqual({ metadata: {} });
  });

  it("the documented POST example runs as written and GET then answers the documented shape", async () => {
    const res = await callJson(path(conv), {
      method: "POST",
      token: write,
      raw: '{ "metadata": { "ticket_id": "T-1234", "priority": "high" }}',
    });
    expect(res.status).toBe(200);
    await expectDocumented("post", 200, res.body);
    expect(res.body).toEqual({ metadata: { ticket_id: "T-1234", priority: "high" } });
    const got = await callJson(path(conv), { token: read });
    expect(got.body).toEqual({ metadata: { ticket_id: "T-1234", priority: "high" } });
    // The details route shows the same object as client_metadata.
    const details = await callJson(`/v1/api_core/conversations/${conv}/`, { token: read });
    expect(details.body.client_metadata).toEqual({ ticket_id: "T-1234", priority: "high" });
  });

  it("POST merges: sent keys replace, other keys stay, null removes a key, nested objects are replaced whole", async () => {
    const c = (await a.conversation()).id;
    await callJson(path(c), { method: "POST", token: write, body: { metadata: { a: 1, b: { x: 1, y: 2 }, c: "keep" } } });
    const res = await callJson(path(c), { method: "POST", token: write, body: { metadata: { a: 2, b: { x: 9 }, c: null, d: [1, "two"] } } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ metadata: { a: 2, b: { x: 9 }, d: [1, "two"] } });
    expect(await metadataOf(c)).toEqual(res.body);
    const empty = await callJson(path(c), { method: "POST", token: write, body: { metadata: {} } });
    expect(empty.body).toEqual(res.body);
  });

  it("records conversation.metadata_updated and tells the scenario's inbox", async () => {
    const c = (await a.conversation()).id;
    const inbox = server.app.runtime.events.subscribeInbox(a.scenarioId)[Symbol.asyncIterator]();
    const next = inbox.next();
    const res = await callJson(path(c), { method: "POST", token: write, body: { metadata: { plan: "pro" } } });
    expect(res.status).toBe(200);
    const update = (await next).value as LiveInboxUpdate;
    await inbox.return?.();
    expect(update.reason).toBe("metadata");
    expect(update.conversation).toMatchObject({ id: c, client_metadata: { plan: "pro" } });
    const events = await db().domainEvent.findMany({ where: { type: "conversation.metadata_updated" } });
    const mine = events.filter((e) => (e.payload as { conversationId: string }).conversationId === c);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ workspaceId: a.workspaceId, scenarioId: a.scenarioId, payload: { conversationId: c, keys: ["plan"] } });
  });

  it("concurrent POSTs with different keys all land (no lost update)", async () => {
    const c = (await a.conversation()).id;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => callJson(path(c), { method: "POST", token: write, body: { metadata: { [`k${i}`]: i } } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(Object.keys((await metadataOf(c)).metadata).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `k${i}`).sort());
  });

  it.each([
    ["no metadata", {}, "metadata: is required"],
    ["metadata null", { metadata: null }, "metadata: must be an object"],
    ["metadata an array", { metadata: [1, 2] }, "metadata: must be an object"],
    ["metadata a string", { metadata: "T-1234" }, "metadata: must be an object"],
    ["a body that is an array", [{ metadata: {} }], 'the body must be a JSON object: {"metadata": {…}}'],
  ])("%s → 422 VALIDATION_ERROR; nothing changes", async (_what, body, message) => {
    const before = await metadataOf(conv);
    await expectUnchanged(conv, before, async () => {
      const res = await callJson(path(conv), { method: "POST", token: reject, body });
      expect(res.status).toBe(422);
      await expectDocumented("post", 422, res.body);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", message));
    });
  });

  it("a body that is not JSON → 400", async () => {
    const res = await callJson(path(conv), { method: "POST", token: reject, raw: "{ metadata: " });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST"));
  });

  it("metadata over 16 KiB as JSON → 422; nothing changes", async () => {
    const before = await metadataOf(conv);
    await expectUnchanged(conv, before, async () => {
      const res = await callJson(path(conv), { method: "POST", token: reject, body: { metadata: { notes: "x".repeat(16 * 1024) } } });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", /^metadata: must be at most 16384 bytes as JSON/));
    });
  });

  it("a read_all token on POST → 403 'Insufficient token scope. Required: write_all' (before the body is looked at)", async () => {
    const before = await metadataOf(conv);
    await expectUnchanged(conv, before, async () => {
      for (const body of [{ metadata: { priority: "low" } }, { metadata: "bad" }]) {
        const res = await callJson(path(conv), { method: "POST", token: read, body });
        expect(res.status).toBe(403);
        await expectDocumented("post", 403, res.body);
        expect(res.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
      }
    });
  });

  it("missing, wrong, widget, developer and legacy credentials → 401 on GET and POST", async () => {
    const before = await metadataOf(conv);
    const keys = [undefined, "garbage", (await a.widgetKey()).secret, (await a.developerKey()).secret, (await a.legacyKey()).secret];
    await expectUnchanged(conv, before, async () => {
      for (const token of keys) {
        const get = await callJson(path(conv), { token });
        const post = await callJson(path(conv), { method: "POST", token, body: { metadata: { priority: "low" } } });
        for (const res of [get, post]) {
          expect(res.status).toBe(401);
          expect(res.body).toEqual(quickchatError("PERMISSION_DENIED"));
        }
      }
    });
  });

  it("unknown, malformed, another scenario's and another workspace's conversations → 404; theirs stay untouched", async () => {
    const sibling = await a.scenario("Alpha second");
    const siblingConv = (await sibling.conversation()).id;
    const b = await seed(server.app).workspace("Beta");
    const foreignConv = (await b.conversation()).id;
    const bToken = (await b.token("read_all")).secret;
    await callJson(path(foreignConv), { method: "POST", token: (await b.token("write_all")).secret, body: { metadata: { owner: "beta" } } });
    for (const id of ["00000000-0000-4000-8000-000000000000", "conv-uuid-1234", siblingConv, foreignConv]) {
      for (const res of [
        await callJson(path(id), { token: read }),
        await callJson(path(id), { method: "POST", token: reject, body: { metadata: { owner: "alpha" } } }),
      ]) {
        expect(res.status, id).toBe(404);
        await expectDocumented("get", 404, res.body);
        expect(res.body).toEqual(quickchatError("NOT_FOUND", "Conversation not found"));
      }
    }
    expect((await callJson(path(foreignConv), { token: bToken })).body).toEqual({ metadata: { owner: "beta" } });
    expect((await callJson(path(siblingConv), { token: (await sibling.token("read_all")).secret })).body).toEqual({ metadata: {} });
  });
});

const SET_SCHEMA = /* GraphQL */ `
  mutation ($scenarioId: ID!, $schema: JSON) {
    setConversationMetadataSchema(scenarioId: $scenarioId, schema: $schema) { id conversationMetadataSchema }
  }
`;
const GET_SCHEMA = /* GraphQL */ `
  query ($id: ID!) { scenario(id: $id) { id conversationMetadataSchema } }
`;
const TICKET_SCHEMA = {
  type: "object",
  properties: {
    ticket_id: { type: "string", pattern: "^T-\\d+$" },
    priority: { enum: ["low", "normal", "high"] },
    contact: { type: "string", format: "email" },
    customer: { type: "object", properties: { tier: { type: "integer", minimum: 1 } } },
  },
  required: ["ticket_id"],
  additionalProperties: false,
};

describe("the scenario's metadata JSON schema", () => {
  let t: Tenant;
  let tWrite: string;
  let tDev: string;
  let conv: string;
  beforeAll(async () => {
    t = await seed(server.app).workspace("Schema");
    tWrite = (await t.token("write_all")).secret;
    tDev = (await t.developerKey(["assistant:read", "assistant:write"])).secret;
    conv = (await t.conversation()).id;
  });
  const post = (metadata: unknown, token = tWrite) => callJson(path(conv), { method: "POST", token, body: { metadata } });

  it("set over GraphQL (developer key with assistant:write), read back, then enforced by the REST route", async () => {
    const set = await gql(tDev, SET_SCHEMA, { scenarioId: t.scenarioId, schema: TICKET_SCHEMA });
    expect(set.errors).toBeUndefined();
    expect(set.data.setConversationMetadataSchema).toEqual({ id: t.scenarioId, conversationMetadataSchema: TICKET_SCHEMA });
    const got = await gql(tDev, GET_SCHEMA, { id: t.scenarioId });
    expect(got.data.scenario.conversationMetadataSchema).toEqual(TICKET_SCHEMA);

    const ok = await post({ ticket_id: "T-1234", priority: "high" });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ metadata: { ticket_id: "T-1234", priority: "high" } });
  });

  it.each([
    [{ priority: "urgent" }, "metadata/priority", 'metadata/priority must be equal to one of the allowed values: "low", "normal", "high"'],
    [{ ticket_id: 1234 }, "metadata/ticket_id", "metadata/ticket_id must be string"],
    [{ ticket_id: "1234" }, "metadata/ticket_id", 'metadata/ticket_id must match pattern "^T-\\d+$"'],
    [{ contact: "not-an-email" }, "metadata/contact", 'metadata/contact must match format "email"'],
    [{ customer: { tier: 0 } }, "metadata/customer/tier", "metadata/customer/tier must be >= 1"],
    [{ extra: true }, "metadata", "metadata must NOT have additional properties: extra"],
    [{ ticket_id: null }, "metadata", "metadata must have required property 'ticket_id'"],
  ])("%j → 422 naming %s; nothing changes", async (metadata, _path, message) => {
    const before = await metadataOf(conv).catch(() => null);
    const res = await post(metadata, tWrite);
    expect(res.status).toBe(422);
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", message));
    if (before) expect(await callJson(path(conv), { token: tWrite }).then((r) => r.body)).toEqual(before);
  });

  it("a write_all token of the scenario may set it; a JSON Schema 2020-12 document works too", async () => {
    const schema = { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", properties: { ticket_id: { type: "string" } }, prefixItems: [{ type: "string" }] };
    const set = await gql(tWrite, SET_SCHEMA, { scenarioId: t.scenarioId, schema });
    expect(set.errors).toBeUndefined();
    expect((await post({ ticket_id: 5 })).body).toEqual(quickchatError("VALIDATION_ERROR", "metadata/ticket_id must be string"));
    expect((await post({ priority: "anything" })).status).toBe(200);
  });

  it.each([
    ["a string", "not a schema", /^schema: must be a JSON object/],
    ["an array", [{ type: "object" }], /^schema: must be a JSON object/],
    ["an unknown type", { type: "objekt" }, /^schema: not a usable JSON schema: .*type/],
    ["a misspelled keyword", { type: "object", requird: ["a"] }, /^schema: not a usable JSON schema: .*unknown keyword: "requird"/],
    ["an unknown format", { properties: { a: { type: "string", format: "postcode" } } }, /^schema: not a usable JSON schema: .*unknown format "postcode"/],
    ["an unresolvable $ref", { properties: { a: { $ref: "https://example.com/a.json" } } }, /^schema: not a usable JSON schema: .*resolve reference/],
    ["an over-large schema", { description: "x".repeat(70_000) }, /^schema: must be at most 65536 bytes/],
  ])("an invalid schema (%s) → VALIDATION_ERROR; the stored one stays", async (_what, schema, message) => {
    const before = (await gql(tDev, GET_SCHEMA, { id: t.scenarioId })).data.scenario.conversationMetadataSchema;
    const res = await gql(tDev, SET_SCHEMA, { scenarioId: t.scenarioId, schema });
    expect(errorCodes(res)).toEqual(["VALIDATION_ERROR"]);
    expect(res.errors![0]!.message).toMatch(message);
    expect((await gql(tDev, GET_SCHEMA, { id: t.scenarioId })).data.scenario.conversationMetadataSchema).toEqual(before);
  });

  it("who may set it: not read_all, not assistant:read only, not another scenario or workspace", async () => {
    const other = await t.scenario("Schema second");
    const b = await seed(server.app).workspace("Schema beta");
    const cases: [string, string][] = [
      [(await t.token("read_all")).secret, "PERMISSION_DENIED"],
      [(await t.developerKey(["assistant:read", "conversations:write"])).secret, "PERMISSION_DENIED"],
      [(await other.token("write_all")).secret, "NOT_FOUND"],
      [(await b.developerKey()).secret, "NOT_FOUND"],
      [(await b.token("write_all")).secret, "NOT_FOUND"],
    ];
    const before = (await gql(tDev, GET_SCHEMA, { id: t.scenarioId })).data.scenario.conversationMetadataSchema;
    for (const [key, code] of cases) {
      const res = await gql(key, SET_SCHEMA, { scenarioId: t.scenarioId, schema: { type: "object" } });
      expect(errorCodes(res), key).toEqual([code]);
    }
    expect((await gql(tDev, GET_SCHEMA, { id: t.scenarioId })).data.scenario.conversationMetadataSchema).toEqual(before);
    // Reading it needs read access to the scenario too.
    const noRead = await gql((await t.developerKey(["conversations:read"])).secret, GET_SCHEMA, { id: t.scenarioId });
    expect(errorCodes(noRead)).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(tDev, SET_SCHEMA, { scenarioId: "00000000-0000-4000-8000-000000000000", schema: null }))).toEqual(["NOT_FOUND"]);
  });

  it("patterns run on RE2: a catastrophic-backtracking pattern answers at once; backreferences make the schema invalid", async () => {
    const evil = { type: "object", properties: { code: { type: "string", pattern: "^(a+)+$" } } };
    expect((await gql(tDev, SET_SCHEMA, { scenarioId: t.scenarioId, schema: evil })).errors).toBeUndefined();
    // A backtracking engine needs ~2^40 steps for this value; RE2 is linear in its length.
    const res = await post({ code: "a".repeat(40) + "!" });
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", 'metadata/code must match pattern "^(a+)+$"'));
    expect((await post({ code: "aaaa" })).status).toBe(200);

    const backref = { type: "object", properties: { code: { type: "string", pattern: "^(a)\\1$" } } };
    const bad = await gql(tDev, SET_SCHEMA, { scenarioId: t.scenarioId, schema: backref });
    expect(errorCodes(bad)).toEqual(["VALIDATION_ERROR"]);
    expect(bad.errors![0]!.message).toMatch(/^schema: not a usable JSON schema: .*invalid escape/);
  });

  it("null removes the schema: anything goes again", async () => {
    const res = await gql(tDev, SET_SCHEMA, { scenarioId: t.scenarioId, schema: null });
    expect(res.data.setConversationMetadataSchema).toEqual({ id: t.scenarioId, conversationMetadataSchema: null });
    expect((await post({ ticket_id: 5, whatever: [1] })).status).toBe(200);
  });

  it("schemas of other scenarios do not apply", async () => {
    await gql(devWrite, SET_SCHEMA, { scenarioId: a.scenarioId, schema: { type: "object", maxProperties: 0 } });
    const res = await post({ free: "form" });
    expect(res.status).toBe(200);
    await gql(devWrite, SET_SCHEMA, { scenarioId: a.scenarioId, schema: null });
  });
});
