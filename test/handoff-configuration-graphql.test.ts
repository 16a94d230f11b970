import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

// The handoff configuration across tenants and through GraphQL (REST details and every bad input:
// handoff-configuration.test.ts).

const PATH = "/v1/api/human_handoff/configuration";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let bWrite: string;
let alice: { id: string; userId: number | null; name: string };
let bob: { id: string; userId: number | null; name: string };

const { call, gql } = http(() => server);

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  alice = await a.member("Alice");
  bob = await a.member("Bob");
  // B has three members, so user id 3 exists only in B.
  for (const name of ["X", "Y", "Z"]) await b.member(name);
  bWrite = (await b.token("write_all")).secret;
  const res = await put({
    custom_guidelines: [{ name: "Refunds", description: "Refunds over 100 EUR" }],
    routing_profiles: [{ name: "Billing", description: "Invoices", user_ids: [alice.userId, bob.userId] }],
  });
  expect(res.status).toBe(200);
});
afterAll(() => server?.stop());

async function getConfig(tenant: Tenant = a) {
  const res = await call(PATH, { token: (await tenant.token("read_all")).secret });
  expect(res.status).toBe(200);
  return res.json();
}

async function put(body: unknown, token?: string) {
  const res = await call(PATH, { method: "PUT", token: token ?? (await a.token("write_all")).secret, body });
  return { status: res.status, body: await res.json() };
}

describe("tenancy", () => {
  it("another scenario's configuration is never visible, and its ids cannot be touched", async () => {
    const aConfig = await getConfig(a);
    expect(aConfig.custom_guidelines.length + aConfig.routing_profiles.length).toBeGreaterThan(0);
    // B sees its own defaults, not A's configuration.
    const bConfig = await getConfig(b);
    expect(bConfig.availability).toEqual([]);
    expect(bConfig.custom_guidelines).toEqual([]);
    expect(bConfig.routing_profiles).toEqual([]);
    // B naming A's items gets a 422 (they are not its items), and A's stay as they were.
    const guidelineId = aConfig.custom_guidelines[0].id;
    const profileId = aConfig.routing_profiles[0].id;
    const res1 = await put({ routing_profiles: [{ id: profileId, name: "Mine", description: "d", user_ids: [] }] }, bWrite);
    expect(res1.status).toBe(422);
    expect(res1.body.errors.root[0].message).toMatch(/^routing_profiles\.0\.id: /);
    expect((await put({ custom_guidelines: [{ id: guidelineId, name: "x", description: "d" }] }, bWrite)).status).toBe(422);
    expect(await getConfig(a)).toEqual(aConfig);
    // A second scenario of the same workspace has its own configuration too.
    const second = await a.scenario("Second");
    expect((await getConfig(second)).routing_profiles).toEqual([]);
  });
});

describe("GraphQL", () => {
  const QUERY = `query ($id: ID!) { scenario(id: $id) { handoffConfiguration {
    settings { isActive timezone topicBasedRoutingActive emails }
    availability { id daySpan startTime endTime }
    genericGuidelines { name isActive }
    customGuidelines { id name }
    routingProfiles { id name userIds members { id name userId } }
    withinWorkingHours } } }`;
  const MUTATION = `mutation ($id: ID!, $input: HandoffConfigurationInput!) { updateHandoffConfiguration(scenarioId: $id, input: $input) {
    settings { isActive timezone workingHoursActive } availability { id daySpan } routingProfiles { id userIds members { name } } } }`;

  it("reads and writes the same configuration through the same validation", async () => {
    const key = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const read = await gql(key, QUERY, { id: a.scenarioId });
    expect(read.errors).toBeUndefined();
    const rest = await getConfig();
    expect(read.data.scenario.handoffConfiguration.routingProfiles).toEqual(
      rest.routing_profiles.map((p: { id: number; name: string; user_ids: number[] }) => ({
        id: p.id,
        name: p.name,
        userIds: p.user_ids,
        members: [alice, bob].filter((m) => p.user_ids.includes(m.userId!)).map((m) => ({ id: m.id, name: m.name, userId: m.userId })),
      })),
    );

    const written = await gql(key, MUTATION, {
      id: a.scenarioId,
      input: {
        settings: { workingHoursActive: true, timezone: "Asia/Tokyo" },
        availability: [{ daySpan: "Monday-Sunday", startTime: "00:00", endTime: "24:00" }],
        routingProfiles: [{ name: "Sales", description: "Pricing questions", userIds: [bob.userId] }],
      },
    });
    expect(written.errors).toBeUndefined();
    expect(written.data.updateHandoffConfiguration).toMatchObject({
      settings: { timezone: "Asia/Tokyo", workingHoursActive: true },
      availability: [{ id: expect.any(Number), daySpan: "monday-sunday" }],
      routingProfiles: [{ id: expect.any(Number), userIds: [bob.userId], members: [{ name: "Bob" }] }],
    });
    expect((await gql(key, QUERY, { id: a.scenarioId })).data.scenario.handoffConfiguration.withinWorkingHours).toBe(true);
    expect((await getConfig()).settings.timezone).toBe("Asia/Tokyo");

    const before = await getConfig();
    const bad = await gql(key, MUTATION, { id: a.scenarioId, input: { routingProfiles: [{ name: "X", description: "d", userIds: [3] }] } });
    expect(errorCodes(bad)).toEqual(["VALIDATION_ERROR"]);
    expect(bad.errors![0]!.message).toMatch(/^routing_profiles\.0\.user_ids: /);
    expect(await getConfig()).toEqual(before);
  });

  it("needs assistant scopes, and another workspace's scenario is NOT_FOUND", async () => {
    const readOnly = (await a.developerKey(["assistant:read"])).secret;
    expect(errorCodes(await gql(readOnly, MUTATION, { id: a.scenarioId, input: { settings: { isActive: false } } }))).toEqual(["PERMISSION_DENIED"]);
    const none = (await a.developerKey(["conversations:read"])).secret;
    expect(errorCodes(await gql(none, QUERY, { id: a.scenarioId }))).toEqual(["PERMISSION_DENIED"]);
    const bKey = (await b.developerKey()).secret;
    expect(errorCodes(await gql(bKey, QUERY, { id: a.scenarioId }))).toEqual(["NOT_FOUND"]);
    const res = await gql(bKey, MUTATION, { id: a.scenarioId, input: { settings: { isActive: true } } });
    expect(errorCodes(res)).toEqual(["NOT_FOUND"]);
  });
});
