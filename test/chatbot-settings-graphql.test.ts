import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let a2: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
let aReject: string;
let devAll: string;
let devRead: string;
let devNone: string;
let bDev: string;

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  a2 = await a.scenario("Alpha second");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
  devAll = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
  devRead = (await a.developerKey(["assistant:read"])).secret;
  devNone = (await a.developerKey(["conversations:read", "workspace:admin"])).secret;
  bDev = (await b.developerKey(["assistant:read", "assistant:write"])).secret;
});
afterAll(() => server?.stop());

const { call, gql } = http(() => server);

const FIELDS =
  "personality profession creativityLevel replyLength greeting greeting2 header header2 languageChosen oneWordDescription shortDescription aiCommands";
const READ = `query ($id: ID!) { scenario(id: $id) { id chatbotSettings { ${FIELDS} } } }`;
const UPDATE = `mutation ($scenarioId: ID!, $input: UpdateChatbotSettingsInput!) { updateChatbotSettings(scenarioId: $scenarioId, input: $input) { ${FIELDS} } }`;

/** The REST view of a scenario's settings: GraphQL and REST must show the same data. */
async function restSettings(token: string) {
  const res = await call("/v1/api/chatbot_settings", { token });
  expect(res.status).toBe(200);
  return res.json();
}
async function stored(t: Tenant) {
  return server.app.runtime.db.chatbotSettings.findUnique({ where: { scenarioId: t.scenarioId } });
}

describe("Scenario.chatbotSettings", () => {
  it("a developer key with assistant:read reads the defaults, same as REST", async () => {
    const r = await gql(devRead, READ, { id: a.scenarioId });
    expect(r.errors).toBeUndefined();
    expect(r.data.scenario.chatbotSettings).toEqual({
      personality: 0,
      profession: "helpful_assistant",
      creativityLevel: 1,
      replyLength: 1,
      greeting: "<p>Hello! How can I help you today?</p>",
      greeting2: "",
      header: "",
      header2: "",
      languageChosen: "en",
      oneWordDescription: "",
      shortDescription: "",
      aiCommands: [],
    });
  });

  it("a scenario token reads its own scenario's settings", async () => {
    const r = await gql(aRead, READ, { id: a.scenarioId });
    expect(r.data.scenario.chatbotSettings.profession).toBe("helpful_assistant");
  });

  it("a developer key without assistant:read is PERMISSION_DENIED", async () => {
    const r = await gql(devNone, READ, { id: a.scenarioId });
    expect(errorCodes(r)).toEqual(["PERMISSION_DENIED"]);
  });

  it("another workspace's scenario, or a token's sibling scenario, is NOT_FOUND", async () => {
    expect(errorCodes(await gql(bDev, READ, { id: a.scenarioId }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(aRead, READ, { id: a2.scenarioId }))).toEqual(["NOT_FOUND"]);
  });
});

describe("updateChatbotSettings", () => {
  it("a developer key with assistant:write changes only the fields given; REST sees the change", async () => {
    const before = await restSettings(aRead);
    const r = await gql(devAll, UPDATE, {
      scenarioId: a.scenarioId,
      input: { personality: 13, profession: "field_expert", creativityLevel: 0, aiCommands: ["Be brief"], languageChosen: "en, de" },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data.updateChatbotSettings).toMatchObject({
      personality: 13,
      profession: "field_expert",
      creativityLevel: 0,
      replyLength: before.reply_length,
      greeting: before.greeting,
      aiCommands: ["Be brief"],
      languageChosen: "en,de",
    });
    expect(await restSettings(aRead)).toEqual({
      ...before,
      personality: 13,
      profession: "field_expert",
      creativity_level: 0,
      ai_commands: ["Be brief"],
      language_chosen: "en,de",
    });
  });

  it("a write_all scenario token updates its own scenario, at the documented limits", async () => {
    const input = {
      replyLength: 2,
      greeting: "g".repeat(1000),
      greeting2: "h".repeat(1000),
      header: "x".repeat(200),
      header2: "y".repeat(200),
      oneWordDescription: "o".repeat(200),
      shortDescription: "s".repeat(2000),
      aiCommands: ["c".repeat(500)],
    };
    const r = await gql(aWrite, UPDATE, { scenarioId: a.scenarioId, input });
    expect(r.errors).toBeUndefined();
    expect(r.data.updateChatbotSettings).toMatchObject(input);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["personality 8", { personality: 8 }, "personality"],
    ["personality 14", { personality: 14 }, "personality"],
    ["an unknown profession", { profession: "astronaut" }, "profession"],
    ["creativityLevel 3", { creativityLevel: 3 }, "creativity_level"],
    ["replyLength -1", { replyLength: -1 }, "reply_length"],
    ["a greeting of 1001 characters", { greeting: "x".repeat(1001) }, "greeting"],
    ["a header of 201 characters", { header: "x".repeat(201) }, "header"],
    ["a oneWordDescription of 201 characters", { oneWordDescription: "x".repeat(201) }, "one_word_description"],
    ["a shortDescription of 2001 characters", { shortDescription: "x".repeat(2001) }, "short_description"],
    ["an aiCommands item of 501 characters", { aiCommands: ["ok", "x".repeat(501)] }, "ai_commands.1"],
    ["an invalid language code", { languageChosen: "en,xx1" }, "language_chosen"],
    ["a null greeting", { greeting: null }, "greeting"],
  ];
  it.each(invalid)("rejects %s: VALIDATION_ERROR naming the field, nothing changed", async (_n, input, field) => {
    const before = await stored(a);
    const r = await gql(aReject, UPDATE, { scenarioId: a.scenarioId, input });
    expect(errorCodes(r)).toEqual(["VALIDATION_ERROR"]);
    expect(r.errors![0]!.message.startsWith(`${field}:`)).toBe(true);
    expect(r.data ?? null).toBeNull();
    expect(await stored(a)).toEqual(before);
  });

  it("a wrong GraphQL type is rejected before the service and changes nothing", async () => {
    const before = await stored(a);
    const r = await gql(aReject, UPDATE, { scenarioId: a.scenarioId, input: { personality: "three" } });
    expect(r.errors?.length).toBe(1);
    expect(r.data ?? null).toBeNull();
    expect(await stored(a)).toEqual(before);
  });

  it("without assistant:write (or with a read_all token) is PERMISSION_DENIED; nothing changes", async () => {
    const before = await stored(a);
    for (const key of [devRead, devNone, aRead]) {
      const r = await gql(key, UPDATE, { scenarioId: a.scenarioId, input: { personality: 5 } });
      expect(errorCodes(r)).toEqual(["PERMISSION_DENIED"]);
    }
    expect(await stored(a)).toEqual(before);
  });

  it("tenant isolation: another workspace's scenario and a token's sibling scenario are NOT_FOUND; nothing changes", async () => {
    const beforeA = await stored(a);
    const beforeA2 = await stored(a2);
    const beforeB = await stored(b);
    expect(errorCodes(await gql(bDev, UPDATE, { scenarioId: a.scenarioId, input: { personality: 5 } }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(devAll, UPDATE, { scenarioId: b.scenarioId, input: { personality: 5 } }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(aWrite, UPDATE, { scenarioId: a2.scenarioId, input: { personality: 5 } }))).toEqual(["NOT_FOUND"]);
    expect(await stored(a)).toEqual(beforeA);
    expect(await stored(a2)).toEqual(beforeA2);
    expect(await stored(b)).toEqual(beforeB);
    // The sibling scenario keeps its own settings: a developer key of the workspace may change it.
    const r = await gql(devAll, UPDATE, { scenarioId: a2.scenarioId, input: { header: "Second" } });
    expect(r.data.updateChatbotSettings.header).toBe("Second");
    expect((await stored(a))!.header).toBe(beforeA!.header);
  });
});
