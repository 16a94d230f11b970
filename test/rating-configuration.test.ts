import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
let aReject: string;
let aCheck: string;
let bWrite: string;
let bRead: string;

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
  aCheck = (await a.token("read_all")).secret;
  bWrite = (await b.token("write_all")).secret;
  bRead = (await b.token("read_all")).secret;
});
afterAll(() => server?.stop());

const RATING = "/v1/api/conversation_ratings/configuration";
const CODES = ["HELPFUL_THUMBS", "EXPERIENCE_THUMBS", "SATISFACTION_STARS", "RESOLVED_YES_NO", "EFFORT_SCALE", "NPS_0_10", "FREE_TEXT_COMMENT"];

const { call, gql } = http(() => server);

async function getRating(token = aCheck) {
  const res = await call(RATING, { token });
  expect(res.status).toBe(200);
  return res.json();
}

describe("GET /v1/api/conversation_ratings/configuration", () => {
  it("answers the documented shape as written (curl … -H 'Authorization: Bearer <API_TOKEN>'), with the documented default codes", async () => {
    const res = await call(RATING, { token: aRead });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await res.json();
    expect(body).toEqual({ conv_rating_active: false, conv_rating_popup_active: false, conv_rating_question_codes: ["HELPFUL_THUMBS", "EXPERIENCE_THUMBS"] });
    expect(Object.keys(body)).toEqual(["conv_rating_active", "conv_rating_popup_active", "conv_rating_question_codes"]);
    expect((await call(`${RATING}/`, { token: aRead })).status).toBe(200);
    expect((await call(RATING)).status).toBe(401);
  });
});

describe("PATCH /v1/api/conversation_ratings/configuration", () => {
  it("runs the documented example as written and answers the whole object", async () => {
    const res = await call(RATING, {
      method: "PATCH",
      token: aWrite,
      raw: '{ "conv_rating_active": true, "conv_rating_popup_active": true}',
    });
    expect(res.status).toBe(200);
    const expected = { conv_rating_active: true, conv_rating_popup_active: true, conv_rating_question_codes: ["HELPFUL_THUMBS", "EXPERIENCE_THUMBS"] };
    expect(await res.json()).toEqual(expected);
    expect(await getRating()).toEqual(expected);
  });

  it("changes only the fields sent: question codes from the known list, in the order given", async () => {
    for (const codes of [CODES, ["NPS_0_10"], ["FREE_TEXT_COMMENT", "SATISFACTION_STARS"]]) {
      const res = await call(RATING, { method: "PATCH", token: aWrite, body: { conv_rating_question_codes: codes } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ conv_rating_active: true, conv_rating_popup_active: true, conv_rating_question_codes: codes });
    }
  });

  it("turns the feature off with both flags together", async () => {
    const res = await call(RATING, { method: "PATCH", token: aWrite, body: { conv_rating_active: false, conv_rating_popup_active: false } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ conv_rating_active: false, conv_rating_popup_active: false });
    await call(RATING, { method: "PATCH", token: aWrite, body: { conv_rating_active: true, conv_rating_popup_active: true } });
  });

  const invalid: [string, unknown][] = [
    // The popup must match the feature after the update, whichever of the two is sent.
    ["conv_rating_popup_active", { conv_rating_active: true, conv_rating_popup_active: false }],
    ["conv_rating_popup_active", { conv_rating_popup_active: false }],
    ["conv_rating_active", { conv_rating_active: false }],
    ["conv_rating_popup_active", { conv_rating_active: false, conv_rating_popup_active: true, conv_rating_question_codes: ["NPS_0_10"] }],
    ["conv_rating_question_codes", { conv_rating_question_codes: [] }],
    ["conv_rating_question_codes.1", { conv_rating_question_codes: ["HELPFUL_THUMBS", "HELPFUL_THUMBS"] }],
    ["conv_rating_question_codes.0", { conv_rating_question_codes: ["STARS_1_10"] }],
    ["conv_rating_question_codes.1", { conv_rating_question_codes: ["HELPFUL_THUMBS", "helpful_thumbs"] }],
    ["conv_rating_question_codes", { conv_rating_question_codes: "HELPFUL_THUMBS" }],
    ["conv_rating_question_codes", { conv_rating_question_codes: null }],
    ["conv_rating_question_codes.0", { conv_rating_question_codes: [1] }],
    ["conv_rating_active", { conv_rating_active: "true", conv_rating_popup_active: true }],
    ["conv_rating_popup_active", { conv_rating_active: true, conv_rating_popup_active: 1 }],
    ["conv_rating_active", { conv_rating_active: null }],
  ];

  it.each(invalid)("rejects %s with 422 naming the field and saves nothing (%j)", async (field, body) => {
    const before = await getRating();
    const res = await call(RATING, { method: "PATCH", token: aReject, body });
    expect(res.status).toBe(422);
    const json = await res.json();
    expect(json).toEqual(quickchatError("VALIDATION_ERROR"));
    expect(json.errors.root[0].message.startsWith(`${field}:`)).toBe(true);
    expect(await getRating()).toEqual(before);
  });

  it("rejects an unknown field with 422 and saves nothing", async () => {
    const before = await getRating();
    const res = await call(RATING, { method: "PATCH", token: aReject, body: { conv_rating_active: true, conv_rating_popup_active: true, stars: 5 } });
    expect(res.status).toBe(422);
    const json = await res.json();
    expect(json).toEqual(quickchatError("VALIDATION_ERROR"));
    expect(json.errors.root[0].message).toContain("stars");
    expect(await getRating()).toEqual(before);
  });

  it("refuses a read_all token with 403 and the documented message", async () => {
    const before = await getRating();
    const res = await call(RATING, { method: "PATCH", token: aRead, body: { conv_rating_active: false, conv_rating_popup_active: false } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(quickchatError("PERMISSION_DENIED", "Insufficient token scope. Required: write_all"));
    expect(await getRating()).toEqual(before);
  });

  it("keeps tenants apart", async () => {
    const aBefore = await getRating();
    expect(await getRating(bRead)).toEqual({ conv_rating_active: false, conv_rating_popup_active: false, conv_rating_question_codes: ["HELPFUL_THUMBS", "EXPERIENCE_THUMBS"] });
    const res = await call(RATING, { method: "PATCH", token: bWrite, body: { conv_rating_question_codes: ["RESOLVED_YES_NO"] } });
    expect(res.status).toBe(200);
    expect(await getRating()).toEqual(aBefore);
    expect((await getRating(bRead)).conv_rating_question_codes).toEqual(["RESOLVED_YES_NO"]);
  });
});

describe("GraphQL: Scenario.ratingConfiguration and updateRatingConfiguration", () => {
  const READ = `query($id: ID!) { scenario(id: $id) { ratingConfiguration { convRatingActive convRatingPopupActive convRatingQuestionCodes } } }`;
  const UPDATE = `mutation($id: ID!, $input: UpdateRatingConfigurationInput!) {
    updateRatingConfiguration(scenarioId: $id, input: $input) { convRatingActive convRatingPopupActive convRatingQuestionCodes } }`;

  it("lists the question codes as a GraphQL enum", async () => {
    const key = (await a.developerKey(["assistant:read"])).secret;
    const res = await gql(key, `{ __type(name: "RatingQuestionCode") { enumValues { name description } } }`);
    expect(res.data.__type.enumValues.map((v: { name: string }) => v.name).sort()).toEqual([...CODES].sort());
    expect(res.data.__type.enumValues.every((v: { description: string }) => v.description.length > 0)).toBe(true);
  });

  it("reads and updates with a developer key (assistant:read / assistant:write)", async () => {
    const key = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const up = await gql(key, UPDATE, {
      id: a.scenarioId,
      input: { convRatingActive: false, convRatingPopupActive: false, convRatingQuestionCodes: ["SATISFACTION_STARS", "EFFORT_SCALE"] },
    });
    expect(up.errors).toBeUndefined();
    const expected = { convRatingActive: false, convRatingPopupActive: false, convRatingQuestionCodes: ["SATISFACTION_STARS", "EFFORT_SCALE"] };
    expect(up.data.updateRatingConfiguration).toEqual(expected);
    const read = await gql(key, READ, { id: a.scenarioId });
    expect(read.data.scenario.ratingConfiguration).toEqual(expected);
    expect(await getRating()).toEqual({
      conv_rating_active: false,
      conv_rating_popup_active: false,
      conv_rating_question_codes: ["SATISFACTION_STARS", "EFFORT_SCALE"],
    });
  });

  it("validates like REST: a popup that does not match is VALIDATION_ERROR, nothing saved", async () => {
    const key = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const before = await getRating();
    const res = await gql(key, UPDATE, { id: a.scenarioId, input: { convRatingActive: true, convRatingQuestionCodes: ["NPS_0_10"] } });
    expect(res.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    expect(res.errors?.[0]?.message).toMatch(/^conv_rating_active:/);
    const empty = await gql(key, UPDATE, { id: a.scenarioId, input: { convRatingQuestionCodes: [] } });
    expect(empty.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    expect(await getRating()).toEqual(before);
  });

  it("refuses keys without the scope (PERMISSION_DENIED) and another workspace's scenario (NOT_FOUND)", async () => {
    const before = await getRating();
    const readOnly = (await a.developerKey(["assistant:read"])).secret;
    const noAssistant = (await a.developerKey(["leads:read"])).secret;
    const up = await gql(readOnly, UPDATE, { id: a.scenarioId, input: { convRatingQuestionCodes: ["NPS_0_10"] } });
    expect(up.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    expect(up.errors?.[0]?.message).toBe("Insufficient scope. Required: assistant:write");
    const read = await gql(noAssistant, READ, { id: a.scenarioId });
    expect(read.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    expect(read.errors?.[0]?.message).toBe("Insufficient scope. Required: assistant:read");

    const bKey = (await b.developerKey(["assistant:read", "assistant:write"])).secret;
    const foreign = await gql(bKey, UPDATE, { id: a.scenarioId, input: { convRatingQuestionCodes: ["NPS_0_10"] } });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await gql(bKey, READ, { id: a.scenarioId })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(await getRating()).toEqual(before);
  });
});
