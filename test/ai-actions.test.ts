import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { createServiceContext } from "../src/services/context.ts";
import { createAiAction } from "../src/services/ai-actions.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let a2: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
/** Re-reads after rejected requests (reads: 120/min per token per endpoint). */
let aCheck: string;
/** Rejected REST writes (writes: 60/min per token per endpoint). */
let aReject: string;
/** GraphQL mutations expected to fail validation. */
let aGqlReject: string;
let aGql: string;
let bWrite: string;
let devAll: string;
let devRead: string;
let devNone: string;

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  a2 = await a.scenario("Alpha second");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  aCheck = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
  aGqlReject = (await a.token("write_all")).secret;
  aGql = (await a.token("write_all")).secret;
  bWrite = (await b.token("write_all")).secret;
  devAll = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
  devRead = (await a.developerKey(["assistant:read"])).secret;
  devNone = (await a.developerKey(["conversations:read"])).secret;
});
afterAll(() => server?.stop());

const ACTIONS = "/v1/api/ai_actions";

const { call, gql } = http(() => server);

async function list(token = aCheck) {
  const res = await call(ACTIONS, { token });
  expect(res.status).toBe(200);
  return (await res.json()) as any[];
}

const FIELDS = "id name description type isActive icon iconColor isValid config { method url headers { name valueSet } body serverUrl authHeaderName tools storeDomain }";
const CREATE = `mutation ($scenarioId: ID!, $input: CreateAiActionInput!) { createAiAction(scenarioId: $scenarioId, input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation ($id: ID!, $input: UpdateAiActionInput!) { updateAiAction(id: $id, input: $input) { ${FIELDS} } }`;
const DELETE = `mutation ($id: ID!) { deleteAiAction(id: $id) }`;
const GET = `query ($id: ID!) { aiAction(id: $id) { ${FIELDS} scenario { id } } }`;
const SCENARIO = `query ($id: ID!) { scenario(id: $id) { aiActions { id name isValid } } }`;

/** Fixtures straight through the service (the CLI's principal), sparing the GraphQL budgets. */
function fixture(t: Tenant, input: Record<string, unknown>) {
  return createAiAction(createServiceContext(server.app.runtime, SYSTEM), { type: "http_request", name: "Fixture", ...input }, t.scenarioId);
}

async function snapshot() {
  const db = server.app.runtime.db;
  return {
    actions: await db.aiAction.findMany({ orderBy: { id: "asc" } }),
    events: await db.domainEvent.count(),
  };
}

const ORDER_STATUS = {
  type: "http_request",
  name: "Check Order Status",
  description: "Look up order status when customer asks about their order.",
  config: { method: "GET", url: "https://shop.example.com/api/orders?email={{conversation.visitor_email}}" },
};

describe("documented curl examples", () => {
  // These run first: the action created here is the database's first, id 1, as in the examples.
  it("GET /v1/api/ai_actions lists actions in the documented shape", async () => {
    const created = await gql(aGql, CREATE, { scenarioId: a.scenarioId, input: ORDER_STATUS });
    expect(created.errors).toBeUndefined();
    expect(created.data.createAiAction.id).toBe("1");

    const res = await call("/v1/api/ai_actions", { token: aRead });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      {
        id: 1,
        name: "Check Order Status",
        description: "Look up order status when customer asks about their order.",
        is_active: true,
        type: "http_request",
        icon: null,
        icon_color: null,
        is_valid: true,
      },
    ]);
  });

  it("PATCH /v1/api/ai_actions/1 with {\"is_active\": false} returns the updated snapshot", async () => {
    const res = await call("/v1/api/ai_actions/1", { method: "PATCH", token: aWrite, body: { is_active: false } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: 1,
      name: "Check Order Status",
      description: "Look up order status when customer asks about their order.",
      is_active: false,
      type: "http_request",
      icon: null,
      icon_color: null,
      is_valid: true,
    });
    expect((await list()).find((x) => x.id === 1).is_active).toBe(false);
  });

  it("DELETE /v1/api/ai_actions/1 answers 204 with no body, and the list no longer has it", async () => {
    const res = await call("/v1/api/ai_actions/1", { method: "DELETE", token: aWrite });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await list()).map((x) => x.id)).not.toContain(1);
    const again = await call("/v1/api/ai_actions/1", { method: "DELETE", token: aWrite });
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ errors: { root: [{ message: "AI action not found", code: "NOT_FOUND" }] } });
  });

  it("answers with a trailing slash too", async () => {
    const res = await call(`${ACTIONS}/`, { token: aRead });
    expect(res.status).toBe(200);
    expect(Array.isArray(await res.json())).toBe(true);
  });
});

describe("PATCH /v1/api/ai_actions/{id}", () => {
  let id: number;
  beforeAll(async () => {
    id = (await fixture(a, { name: "Patch target", config: { method: "GET", url: "https://example.com/x" } })).id;
  });
  const current = async () => (await list()).find((x) => x.id === id);

  it("accepts the limits exactly (icon 200, icon_color 50) and null clears", async () => {
    const body = { icon: "i".repeat(200), icon_color: "c".repeat(50), is_active: true };
    const res = await call(`${ACTIONS}/${id}`, { method: "PATCH", token: aWrite, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject(body);
    const cleared = await call(`${ACTIONS}/${id}/`, { method: "PATCH", token: aWrite, body: { icon: null } });
    expect(cleared.status).toBe(200);
    expect(await cleared.json()).toMatchObject({ icon: null, icon_color: "c".repeat(50) });
  });

  const invalid: [string, unknown, string][] = [
    ["icon of 201 characters", { icon: "x".repeat(201) }, "icon"],
    ["icon_color of 51 characters", { icon_color: "x".repeat(51) }, "icon_color"],
    ["is_active a string", { is_active: "yes" }, "is_active"],
    ["is_active null", { is_active: null }, "is_active"],
    ["icon a number", { icon: 5 }, "icon"],
    ["icon_color an object", { icon_color: { r: 1 } }, "icon_color"],
    ["an undocumented field (name)", { name: "Renamed" }, ""],
    ["an unknown field", { colour: "blue" }, ""],
    ["a valid field plus an unknown field", { is_active: false, nope: 1 }, ""],
    ["a JSON array body", [1], ""],
  ];
  it.each(invalid)("rejects %s with 422 VALIDATION_ERROR naming the field, changing nothing", async (_n, body, field) => {
    const before = await snapshot();
    const res = await call(`${ACTIONS}/${id}`, { method: "PATCH", token: aReject, body });
    expect(res.status).toBe(422);
    const json = await res.json();
    expect(json).toEqual({ errors: { root: [{ message: expect.any(String), code: "VALIDATION_ERROR" }] } });
    if (field) expect(json.errors.root[0].message.startsWith(`${field}:`)).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it("a read_all token cannot PATCH or DELETE: 403, nothing changed", async () => {
    const before = await snapshot();
    for (const method of ["PATCH", "DELETE"]) {
      const res = await call(`${ACTIONS}/${id}`, { method, token: aRead, body: method === "PATCH" ? { is_active: false } : undefined });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({
        errors: { root: [{ message: "Insufficient token scope. Required: write_all", code: "PERMISSION_DENIED" }] },
      });
    }
    expect(await snapshot()).toEqual(before);
    expect(await current()).toBeDefined();
  });

  it("another scenario's action id is 404 on PATCH and DELETE, and nothing changes", async () => {
    const other = await fixture(b, { name: "Beta action" });
    const sibling = await fixture(a2, { name: "Sibling action" });
    const before = await snapshot();
    for (const victim of [other.id, sibling.id]) {
      const patch = await call(`${ACTIONS}/${victim}`, { method: "PATCH", token: aReject, body: { is_active: false } });
      expect(patch.status).toBe(404);
      expect(await patch.json()).toEqual({ errors: { root: [{ message: "AI action not found", code: "NOT_FOUND" }] } });
      const del = await call(`${ACTIONS}/${victim}`, { method: "DELETE", token: aReject });
      expect(del.status).toBe(404);
    }
    expect(await snapshot()).toEqual(before);
    const ids = (await list()).map((x) => x.id);
    expect(ids).not.toContain(other.id);
    expect(ids).not.toContain(sibling.id);
    expect((await list(bWrite)).map((x) => x.id)).toEqual([other.id]);
  });

  it("a path id that is not an integer names no action: 404 NOT_FOUND", async () => {
    const before = await snapshot();
    for (const bad of ["abc", "1.5", "-1", "99999999999", "0x1"]) {
      const res = await call(`${ACTIONS}/${bad}`, { method: "PATCH", token: aReject, body: { is_active: false } });
      expect(res.status, bad).toBe(404);
      expect((await res.json()).errors.root[0].code).toBe("NOT_FOUND");
    }
    expect(await snapshot()).toEqual(before);
  });

  it("DELETE answers 204 and the list no longer has it; a domain event records it", async () => {
    const doomed = await fixture(a, { name: "Doomed" });
    expect((await list()).map((x) => x.id)).toContain(doomed.id);
    const res = await call(`${ACTIONS}/${doomed.id}/`, { method: "DELETE", token: aWrite });
    expect(res.status).toBe(204);
    expect((await list()).map((x) => x.id)).not.toContain(doomed.id);
    const events = await server.app.runtime.db.domainEvent.findMany({ where: { type: "ai_action.deleted" } });
    expect(events.map((e) => (e.payload as any).aiActionId)).toContain(doomed.id);
  });
});

describe("is_valid is computed from the configuration", () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    ["http_request with no configuration (a draft)", { type: "http_request" }, false],
    ["http_request with a URL but no method", { type: "http_request", config: { url: "https://example.com/a" } }, false],
    ["http_request with a method but no URL", { type: "http_request", config: { method: "GET" } }, false],
    ["http_request GET with a URL", { type: "http_request", config: { method: "GET", url: "https://example.com/a" } }, true],
    ["http_request DELETE with a URL using a variable", { type: "http_request", config: { method: "DELETE", url: "http://example.com/t/{{conversation.id}}" } }, true],
    ["http_request POST without a body template", { type: "http_request", config: { method: "POST", url: "https://example.com/a" } }, false],
    ["http_request POST with a blank body template", { type: "http_request", config: { method: "POST", url: "https://example.com/a", body: "  " } }, false],
    [
      "http_request POST with a body template",
      { type: "http_request", config: { method: "POST", url: "https://example.com/a", body: '{"email":"{{ conversation.visitor_email }}","plan":"{{metadata.plan-tier}}"}' } },
      true,
    ],
    ["remote_mcp without a server URL", { type: "remote_mcp", config: { tools: ["search"] } }, false],
    ["remote_mcp with a server URL (no tools = all)", { type: "remote_mcp", config: { server_url: "https://mcp.example.com/sse" } }, true],
    ["remote_mcp on localhost over http", { type: "remote_mcp", config: { server_url: "http://localhost:8080/mcp", tools: [] } }, true],
    ["shopify_remote_mcp without a store", { type: "shopify_remote_mcp" }, false],
    ["shopify_remote_mcp with a store", { type: "shopify_remote_mcp", config: { store_domain: "acme.myshopify.com" } }, true],
  ];
  it.each(cases)("%s → is_valid %s", async (_n, input, valid) => {
    const row = await fixture(a, { name: "Validity", ...input });
    expect((await list()).find((x) => x.id === row.id).is_valid).toBe(valid);
  });

  it("completing a draft over GraphQL makes it valid; clearing the URL makes it invalid again", async () => {
    const draft = await gql(aGql, CREATE, { scenarioId: a.scenarioId, input: { type: "http_request", name: "Draft" } });
    expect(draft.data.createAiAction).toMatchObject({ isValid: false, isActive: true, config: { method: null, url: null, headers: [] } });
    const id = draft.data.createAiAction.id;
    const done = await gql(aGql, UPDATE, {
      id,
      input: { config: { method: "POST", url: "https://crm.example.com/tickets", body: '{"c":"{{conversation.id}}"}', headers: [{ name: "X-Api-Key", value: "k" }] } },
    });
    expect(done.errors).toBeUndefined();
    expect(done.data.updateAiAction).toMatchObject({ isValid: true, config: { method: "POST", headers: [{ name: "X-Api-Key", valueSet: true }] } });
    expect((await list()).find((x) => x.id === Number(id)).is_valid).toBe(true);
    // Keys not sent stay; null clears.
    const cleared = await gql(aGql, UPDATE, { id, input: { description: "When a ticket is needed", config: { url: null } } });
    expect(cleared.data.updateAiAction).toMatchObject({ isValid: false, description: "When a ticket is needed", config: { method: "POST", url: null, body: '{"c":"{{conversation.id}}"}' } });
    expect((await list()).find((x) => x.id === Number(id)).is_valid).toBe(false);
  });
});

describe("GraphQL configuration", () => {
  it("creates each type, keeps the MCP auth header value write-only, and records events", async () => {
    const before = await server.app.runtime.db.domainEvent.count({ where: { type: "ai_action.created" } });
    const mcp = await gql(aGql, CREATE, {
      scenarioId: a.scenarioId,
      input: {
        type: "remote_mcp",
        name: "Inventory",
        description: "When the visitor asks about stock",
        icon: "box",
        iconColor: "rgb(1, 2, 3)",
        isActive: false,
        config: { serverUrl: "https://mcp.example.com/mcp", authHeader: { name: "Authorization", value: "Bearer s3cret" }, tools: ["lookup", "reserve"] },
      },
    });
    expect(mcp.errors).toBeUndefined();
    expect(mcp.data.createAiAction).toMatchObject({
      type: "remote_mcp",
      isActive: false,
      icon: "box",
      iconColor: "rgb(1, 2, 3)",
      isValid: true,
      config: { serverUrl: "https://mcp.example.com/mcp", authHeaderName: "Authorization", tools: ["lookup", "reserve"], url: null },
    });
    expect(JSON.stringify(mcp)).not.toContain("s3cret");
    const shop = await gql(aGql, CREATE, {
      scenarioId: a.scenarioId,
      input: { type: "shopify_remote_mcp", name: "Shop", config: { storeDomain: "Acme-Store.myshopify.com" } },
    });
    expect(shop.data.createAiAction).toMatchObject({ isValid: true, config: { storeDomain: "acme-store.myshopify.com", tools: [] } });
    expect(await server.app.runtime.db.domainEvent.count({ where: { type: "ai_action.created" } })).toBe(before + 2);

    const read = await gql(devRead, GET, { id: mcp.data.createAiAction.id });
    expect(read.data.aiAction).toMatchObject({ name: "Inventory", scenario: { id: a.scenarioId } });
    const rest = (await list()).find((x) => x.id === Number(mcp.data.createAiAction.id));
    expect(rest).toEqual({
      id: Number(mcp.data.createAiAction.id),
      name: "Inventory",
      description: "When the visitor asks about stock",
      is_active: false,
      type: "remote_mcp",
      icon: "box",
      icon_color: "rgb(1, 2, 3)",
      is_valid: true,
    });
  });

  it("http_request header values are write-only: names and valueSet only, for readers and writers alike", async () => {
    const created = await gql(aGql, CREATE, {
      scenarioId: a.scenarioId,
      input: {
        type: "http_request",
        name: "CRM",
        config: {
          method: "GET",
          url: "https://crm.example.com/contacts",
          headers: [
            { name: "Authorization", value: "Bearer hdr-s3cret" },
            { name: "X-Conversation", value: "{{conversation.id}}" },
            { name: "X-Empty", value: "" },
          ],
        },
      },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data.createAiAction.config.headers).toEqual([
      { name: "Authorization", valueSet: true },
      { name: "X-Conversation", valueSet: true },
      { name: "X-Empty", valueSet: false },
    ]);
    expect(JSON.stringify(created)).not.toContain("hdr-s3cret");
    const read = await gql(devRead, GET, { id: created.data.createAiAction.id });
    expect(read.errors).toBeUndefined();
    expect(read.data.aiAction.config.headers.map((h: { name: string }) => h.name)).toEqual(["Authorization", "X-Conversation", "X-Empty"]);
    expect(JSON.stringify(read)).not.toContain("hdr-s3cret");
    // The schema has no field that answers a value.
    const value = await gql(devRead, `query ($id: ID!) { aiAction(id: $id) { config { headers { name value } } } }`, { id: created.data.createAiAction.id });
    expect(value.errors?.[0]?.message).toMatch(/Cannot query field "value" on type "HttpHeader"/);
    expect(JSON.stringify(value)).not.toContain("hdr-s3cret");
    // The stored value is kept and used, only never shown.
    const row = await server.app.runtime.db.aiAction.findUniqueOrThrow({ where: { id: Number(created.data.createAiAction.id) } });
    expect((row.config as { headers: { value: string }[] }).headers[0]!.value).toBe("Bearer hdr-s3cret");
  });

  const http = (config: Record<string, unknown>) => ({ type: "http_request", name: "Bad", config });
  const bad: [string, Record<string, unknown>, string][] = [
    ["an unknown method", http({ method: "FETCH" }), "config.method"],
    ["a lower-case method", http({ method: "get" }), "config.method"],
    ["a URL that does not parse", http({ url: "not a url" }), "config.url"],
    ["a relative URL", http({ url: "/orders" }), "config.url"],
    ["an ftp URL", http({ url: "ftp://example.com/x" }), "config.url"],
    ["a variable in the URL's host", http({ url: "https://{{metadata.host}}/x" }), "config.url"],
    ["an unknown variable in the URL", http({ url: "https://example.com/{{conversation.password}}" }), "config.url"],
    ["an unknown variable in the body", http({ method: "POST", body: '{"x":"{{user.email}}"}' }), "config.body"],
    ["an unknown conversation field in the body", http({ method: "POST", body: "{{conversation.secret}}" }), "config.body"],
    ["an empty metadata key", http({ method: "POST", body: "{{metadata.}}" }), "config.body"],
    ["an unclosed variable", http({ method: "POST", body: '{"id":"{{conversation.id"}' }), "config.body"],
    ["a body of 10,001 characters", http({ method: "POST", body: "x".repeat(10_001) }), "config.body"],
    ["a body on a GET", http({ method: "GET", url: "https://example.com/", body: "{}" }), "config.body"],
    ["a header name with a space", http({ headers: [{ name: "Bad Header", value: "v" }] }), "config.headers.0.name"],
    ["a header value with a line break", http({ headers: [{ name: "X-A", value: "a\r\nX-B: b" }] }), "config.headers.0.value"],
    ["an unknown variable in a header", http({ headers: [{ name: "X-A", value: "{{nope}}" }] }), "config.headers.0.value"],
    ["51 headers", http({ headers: Array.from({ length: 51 }, (_, i) => ({ name: `X-${i}`, value: "v" })) }), "config.headers"],
    ["a remote_mcp field on an http_request", http({ serverUrl: "https://mcp.example.com" }), "config"],
    ["an http server URL that is not localhost", { type: "remote_mcp", name: "M", config: { serverUrl: "http://mcp.example.com/mcp" } }, "config.server_url"],
    ["a server URL that does not parse", { type: "remote_mcp", name: "M", config: { serverUrl: "mcp.example.com" } }, "config.server_url"],
    ["duplicate tool names", { type: "remote_mcp", name: "M", config: { tools: ["a", "a"] } }, "config.tools"],
    ["an empty tool name", { type: "remote_mcp", name: "M", config: { tools: ["a", " "] } }, "config.tools.1"],
    ["a bad auth header name", { type: "remote_mcp", name: "M", config: { authHeader: { name: "Auth:", value: "x" } } }, "config.auth_header.name"],
    ["a store that is not on myshopify.com", { type: "shopify_remote_mcp", name: "S", config: { storeDomain: "acme.com" } }, "config.store_domain"],
    ["an empty name", { type: "http_request", name: " " }, "name"],
    ["a name of 201 characters", { type: "http_request", name: "n".repeat(201) }, "name"],
    ["a description of 2001 characters", { type: "http_request", name: "N", description: "d".repeat(2001) }, "description"],
    ["an icon of 201 characters", { type: "http_request", name: "N", icon: "i".repeat(201) }, "icon"],
    ["an icon_color of 51 characters", { type: "http_request", name: "N", iconColor: "c".repeat(51) }, "icon_color"],
  ];
  it.each(bad)("createAiAction rejects %s: VALIDATION_ERROR naming the field, nothing created", async (_n, input, field) => {
    const before = await snapshot();
    const r = await gql(aGqlReject, CREATE, { scenarioId: a.scenarioId, input });
    expect(errorCodes(r)).toEqual(["VALIDATION_ERROR"]);
    expect(r.errors![0]!.message.startsWith(`${field}`)).toBe(true);
    expect(r.data ?? null).toBeNull();
    expect(await snapshot()).toEqual(before);
  });

  it("updateAiAction with a bad configuration is VALIDATION_ERROR and leaves the action unchanged", async () => {
    const row = await fixture(a, { name: "Stable", config: { method: "POST", url: "https://example.com/a", body: "{}" } });
    const before = await snapshot();
    for (const input of [
      { config: { method: "GET" } }, // the stored body makes a GET malformed
      { config: { url: "nope" } },
      { config: { serverUrl: "https://mcp.example.com" } }, // the type is fixed
      { name: null },
      { isActive: null },
    ]) {
      const r = await gql(aGqlReject, UPDATE, { id: String(row.id), input });
      expect(errorCodes(r), JSON.stringify(input)).toEqual(["VALIDATION_ERROR"]);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("GraphQL access", () => {
  it("a developer key with assistant:read reads Scenario.aiActions and aiAction; with assistant:write it creates, updates and deletes", async () => {
    const listed = await gql(devRead, SCENARIO, { id: a.scenarioId });
    expect(listed.errors).toBeUndefined();
    const rest = await list();
    expect(listed.data.scenario.aiActions.map((x: any) => Number(x.id))).toEqual(rest.map((x) => x.id));

    const created = await gql(devAll, CREATE, { scenarioId: a2.scenarioId, input: ORDER_STATUS });
    expect(created.errors).toBeUndefined();
    const id = created.data.createAiAction.id;
    const updated = await gql(devAll, UPDATE, { id, input: { isActive: false, icon: "cart" } });
    expect(updated.data.updateAiAction).toMatchObject({ isActive: false, icon: "cart", isValid: true });
    const deleted = await gql(devAll, DELETE, { id });
    expect(deleted).toEqual({ data: { deleteAiAction: id } });
    expect(errorCodes(await gql(devAll, GET, { id }))).toEqual(["NOT_FOUND"]);
  });

  it("a developer key without assistant:write is PERMISSION_DENIED, without assistant:read too; nothing changes", async () => {
    const row = await fixture(a, { name: "Guarded" });
    const before = await snapshot();
    for (const key of [devRead, devNone]) {
      expect(errorCodes(await gql(key, CREATE, { scenarioId: a.scenarioId, input: ORDER_STATUS }))).toEqual(["PERMISSION_DENIED"]);
      expect(errorCodes(await gql(key, UPDATE, { id: String(row.id), input: { isActive: false } }))).toEqual(["PERMISSION_DENIED"]);
      expect(errorCodes(await gql(key, DELETE, { id: String(row.id) }))).toEqual(["PERMISSION_DENIED"]);
    }
    expect(errorCodes(await gql(devNone, GET, { id: String(row.id) }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(devNone, SCENARIO, { id: a.scenarioId }))).toEqual(["PERMISSION_DENIED"]);
    // A read_all token cannot write either.
    expect(errorCodes(await gql(aRead, UPDATE, { id: String(row.id), input: { isActive: false } }))).toEqual(["PERMISSION_DENIED"]);
    expect(await snapshot()).toEqual(before);
  });

  it("another workspace's scenario or action is NOT_FOUND; a token's sibling scenario too; nothing changes", async () => {
    const foreign = await fixture(b, { name: "Foreign" });
    const sibling = await fixture(a2, { name: "Sibling" });
    const before = await snapshot();
    expect(errorCodes(await gql(devAll, CREATE, { scenarioId: b.scenarioId, input: ORDER_STATUS }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(devAll, GET, { id: String(foreign.id) }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(devAll, UPDATE, { id: String(foreign.id), input: { isActive: false } }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(devAll, DELETE, { id: String(foreign.id) }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(devAll, GET, { id: "not-a-number" }))).toEqual(["NOT_FOUND"]);
    // A scenario token sees only its own scenario's actions.
    expect(errorCodes(await gql(aGql, GET, { id: String(sibling.id) }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(aGql, UPDATE, { id: String(sibling.id), input: { isActive: false } }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(aGql, DELETE, { id: String(sibling.id) }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(aGql, CREATE, { scenarioId: a2.scenarioId, input: ORDER_STATUS }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(bWrite, GET, { id: String(sibling.id) }))).toEqual(["NOT_FOUND"]);
    expect(await snapshot()).toEqual(before);
  });
});
