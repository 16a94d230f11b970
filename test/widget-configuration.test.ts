import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError } from "./helpers/http.ts";
import { dataUrl, png } from "./helpers/images.ts";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
let bWrite: string;
let bRead: string;
/** Rejected writes and the re-reads after them rotate through several tokens (60 writes / 120 reads a minute each). */
const rejectTokens: string[] = [];
const checkTokens: string[] = [];
let turn = 0;

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  bWrite = (await b.token("write_all")).secret;
  bRead = (await b.token("read_all")).secret;
  for (let i = 0; i < 3; i++) {
    rejectTokens.push((await a.token("write_all")).secret);
    checkTokens.push((await a.token("read_all")).secret);
  }
});
afterAll(() => server?.stop());

const WIDGET = "/v1/api/widget/configuration";

const { call, gql } = http(() => server);

async function getWidget(token = checkTokens[turn++ % checkTokens.length]!) {
  const res = await call(WIDGET, { token });
  expect(res.status).toBe(200);
  return res.json();
}

/** The documented response, field for field and in the documented order, with Parley's defaults. */
const DEFAULTS = {
  welcome_message: "<p>Hello! How can I help?</p>",
  welcome_message2: "",
  header: "Support",
  subtitle: "",
  popup_active: true,
  input_placeholder: "Type your message...",
  primary_color: "rgb(0, 122, 255)",
  voice_active: false,
  header_color: "rgb(0, 122, 255)",
  header_collapse: false,
  header_text_color: true,
  typing: true,
  window_auto_open: false,
  white_label: false,
  prechat_active: false,
  prechat_header_text: null,
  prechat_button_text: null,
  prechat_message_text: null,
  background_disclaimer_text: null,
  streaming_active: true,
  link_tracking_active: false,
  window_height: 600,
  window_width: 400,
  size: "medium",
  location: "bottom-right",
  avatar_image: "",
  bubble_icon_image: "",
};

describe("GET /v1/api/widget/configuration", () => {
  it("answers the documented example as written (curl … -H 'Authorization: Bearer <API_TOKEN>') with every field", async () => {
    const res = await call(WIDGET, { token: bRead });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await res.json();
    expect(body).toEqual(DEFAULTS);
    expect(Object.keys(body)).toEqual(Object.keys(DEFAULTS));
  });

  it("answers with a trailing slash too, and needs a token", async () => {
    expect((await call(`${WIDGET}/`, { token: bRead })).status).toBe(200);
    const res = await call(WIDGET);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(quickchatError("PERMISSION_DENIED"));
  });
});

describe("PATCH /v1/api/widget/configuration", () => {
  it("runs the documented example as written: changes only the fields sent and answers the whole object", async () => {
    const res = await call(WIDGET, {
      method: "PATCH",
      token: aWrite,
      raw: '{ "primary_color": "rgb(255, 87, 34)", "header": "Sales Assistant", "window_auto_open": true}',
    });
    expect(res.status).toBe(200);
    const expected = { ...DEFAULTS, primary_color: "rgb(255, 87, 34)", header: "Sales Assistant", window_auto_open: true };
    expect(await res.json()).toEqual(expected);
    expect(await getWidget()).toEqual(expected);
  });

  it("accepts every documented field at its limits, and null for the nullable texts", async () => {
    const all = {
      welcome_message: "<p>" + "w".repeat(993) + "</p>",
      welcome_message2: "Second",
      header: "h".repeat(200),
      subtitle: "s".repeat(200),
      popup_active: false,
      input_placeholder: "p".repeat(200),
      primary_color: "rgb(0, 0, 0)",
      voice_active: true,
      header_color: "rgb(255, 255, 255)",
      header_collapse: true,
      header_text_color: false,
      typing: false,
      window_auto_open: false,
      white_label: true,
      prechat_active: true,
      prechat_header_text: "x".repeat(200),
      prechat_button_text: "b".repeat(100),
      prechat_message_text: "<p>" + "m".repeat(1993) + "</p>",
      background_disclaimer_text: "d".repeat(1000),
      streaming_active: false,
      link_tracking_active: true,
      window_height: 1000,
      window_width: 1920,
      size: "large",
      location: "top-left",
      avatar_image: "",
      bubble_icon_image: "",
    };
    const res = await call(WIDGET, { method: "PATCH", token: aWrite, body: all });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(all);

    const low = { window_height: 400, window_width: 250, size: "small", location: "bottom-left", prechat_header_text: null, background_disclaimer_text: null };
    const res2 = await call(WIDGET, { method: "PATCH", token: aWrite, body: low });
    expect(res2.status).toBe(200);
    expect(await res2.json()).toEqual({ ...all, ...low });

    for (const location of ["top-right", "bottom-right"]) {
      const r = await call(WIDGET, { method: "PATCH", token: aWrite, body: { location, size: "medium" } });
      expect((await r.json()).location).toBe(location);
    }
  });

  it("normalises colours written with CSS's optional spaces to rgb(r, g, b)", async () => {
    const res = await call(WIDGET, {
      method: "PATCH",
      token: aWrite,
      body: { primary_color: "RGB( 12 ,0,255 )", header_color: "  rgb(007,8,9)" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ primary_color: "rgb(12, 0, 255)", header_color: "rgb(7, 8, 9)" });
  });

  it("an empty PATCH changes nothing and answers the whole object", async () => {
    const before = await getWidget();
    const res = await call(WIDGET, { method: "PATCH", token: aWrite, body: {} });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(before);
  });

  const invalid: [string, Record<string, unknown>][] = [
    ["window_height", { window_height: 399 }],
    ["window_height", { window_height: 1001 }],
    ["window_height", { window_height: 600.5 }],
    ["window_height", { window_height: "600" }],
    ["window_height", { window_height: null }],
    ["window_width", { window_width: 249 }],
    ["window_width", { window_width: 1921 }],
    ["window_width", { window_width: 300.25 }],
    ["size", { size: "huge" }],
    ["size", { size: "Medium" }],
    ["location", { location: "center" }],
    ["location", { location: "bottom_right" }],
    ["primary_color", { primary_color: "#ff5722" }],
    ["primary_color", { primary_color: "rgb(256, 0, 0)" }],
    ["primary_color", { primary_color: "rgb(-1, 0, 0)" }],
    ["primary_color", { primary_color: "rgb(1.5, 2, 3)" }],
    ["primary_color", { primary_color: "rgba(1, 2, 3, 0.5)" }],
    ["primary_color", { primary_color: "rgb(1, 2)" }],
    ["primary_color", { primary_color: 255 }],
    ["header_color", { header_color: "red" }],
    ["header_text_color", { header_text_color: "true" }],
    ["header_text_color", { header_text_color: "rgb(255, 255, 255)" }],
    ["header_text_color", { header_text_color: 1 }],
    ["popup_active", { popup_active: "yes" }],
    ["typing", { typing: null }],
    ["white_label", { white_label: 0 }],
    ["welcome_message", { welcome_message: "w".repeat(1001) }],
    ["welcome_message", { welcome_message: null }],
    ["welcome_message2", { welcome_message2: "w".repeat(1001) }],
    ["header", { header: "h".repeat(201) }],
    ["header", { header: 5 }],
    ["subtitle", { subtitle: "s".repeat(201) }],
    ["input_placeholder", { input_placeholder: "p".repeat(201) }],
    ["prechat_header_text", { prechat_header_text: "x".repeat(201) }],
    ["prechat_button_text", { prechat_button_text: "b".repeat(101) }],
    ["prechat_message_text", { prechat_message_text: "m".repeat(2001) }],
    ["prechat_message_text", { prechat_message_text: false }],
    ["background_disclaimer_text", { background_disclaimer_text: "d".repeat(1001) }],
    ["avatar_image", { avatar_image: 42 }],
    // One bad field spoils the whole request: the good one is not saved either.
    ["window_width", { header: "Changed by a rejected request", window_width: 100 }],
  ];

  it.each(invalid)("rejects a bad %s with 422 naming the field and changes nothing (%j)", async (field, body) => {
    const before = await getWidget();
    const res = await call(WIDGET, { method: "PATCH", token: rejectTokens[turn++ % rejectTokens.length], body });
    expect(res.status).toBe(422);
    const json = await res.json();
    expect(json).toEqual(quickchatError("VALIDATION_ERROR"));
    expect(json.errors.root[0].message.startsWith(`${field}:`)).toBe(true);
    expect(await getWidget()).toEqual(before);
  });

  it("rejects a field that does not exist with 422 and changes nothing", async () => {
    const before = await getWidget();
    for (const body of [{ header: "New", colour: "rgb(1, 2, 3)" }, { headerColor: "rgb(1, 2, 3)" }]) {
      const res = await call(WIDGET, { method: "PATCH", token: rejectTokens[0], body });
      expect(res.status).toBe(422);
      const json = await res.json();
      expect(json).toEqual(quickchatError("VALIDATION_ERROR"));
      expect(json.errors.root[0].message).toMatch(/colour|headerColor/);
    }
    expect(await getWidget()).toEqual(before);
  });

  it("rejects a body that is not an object (422) or not JSON (400)", async () => {
    const before = await getWidget();
    const arr = await call(WIDGET, { method: "PATCH", token: rejectTokens[1], body: [{ header: "x" }] });
    expect(arr.status).toBe(422);
    const bad = await call(WIDGET, { method: "PATCH", token: rejectTokens[1], raw: "{not json" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual(quickchatError("BAD_REQUEST"));
    expect(await getWidget()).toEqual(before);
  });

  it("refuses a read_all token with 403 and the documented message", async () => {
    const before = await getWidget();
    const res = await call(WIDGET, { method: "PATCH", token: aRead, body: { header: "Nope" } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(quickchatError("PERMISSION_DENIED", "Insufficient token scope. Required: write_all"));
    expect(await getWidget()).toEqual(before);
  });

  it("keeps tenants apart: one scenario's changes are neither seen nor made in another", async () => {
    const aBefore = await getWidget();
    expect((await call(WIDGET, { token: bRead }).then((r) => r.json())).header).toBe("Support");
    const res = await call(WIDGET, { method: "PATCH", token: bWrite, body: { header: "Beta only", size: "small" } });
    expect(res.status).toBe(200);
    expect(await getWidget()).toEqual(aBefore);
    expect(await call(WIDGET, { token: bRead }).then((r) => r.json())).toMatchObject({ header: "Beta only", size: "small" });
  });

  it("records a domain event for a change", async () => {
    await call(WIDGET, { method: "PATCH", token: aWrite, body: { subtitle: "Event test" } });
    const events = await server.app.runtime.db.domainEvent.findMany({
      where: { scenarioId: a.scenarioId, type: "widget_configuration.updated" },
      orderBy: { createdAt: "desc" },
    });
    expect(events[0]?.payload).toEqual({ scenarioId: a.scenarioId, fields: ["subtitle"] });
  });
});

describe("GraphQL: Scenario.widgetConfiguration and updateWidgetConfiguration", () => {
  const READ = `query($id: ID!) { scenario(id: $id) { widgetConfiguration {
    header subtitle windowHeight windowWidth size location primaryColor headerTextColor prechatHeaderText avatarImage bubbleIconImage } } }`;
  const UPDATE = `mutation($id: ID!, $input: UpdateWidgetConfigurationInput!) {
    updateWidgetConfiguration(scenarioId: $id, input: $input) { header windowHeight size location primaryColor prechatHeaderText } }`;

  it("reads and updates with a developer key (assistant:read / assistant:write), through the same service as REST", async () => {
    const key = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const up = await gql(key, UPDATE, {
      id: a.scenarioId,
      input: { header: "From GraphQL", windowHeight: 720, size: "LARGE", location: "TOP_RIGHT", primaryColor: "rgb(1,2,3)", prechatHeaderText: "Hi" },
    });
    expect(up.errors).toBeUndefined();
    expect(up.data.updateWidgetConfiguration).toEqual({
      header: "From GraphQL",
      windowHeight: 720,
      size: "LARGE",
      location: "TOP_RIGHT",
      primaryColor: "rgb(1, 2, 3)",
      prechatHeaderText: "Hi",
    });
    const read = await gql(key, READ, { id: a.scenarioId });
    expect(read.errors).toBeUndefined();
    expect(read.data.scenario.widgetConfiguration).toMatchObject({ header: "From GraphQL", avatarImage: null, bubbleIconImage: null });
    expect(await getWidget()).toMatchObject({ header: "From GraphQL", window_height: 720, size: "large", location: "top-right" });

    // null clears a nullable text
    const cleared = await gql(key, UPDATE, { id: a.scenarioId, input: { prechatHeaderText: null } });
    expect(cleared.data.updateWidgetConfiguration.prechatHeaderText).toBeNull();
  });

  it("validates like REST: an out-of-range value is VALIDATION_ERROR naming the field, nothing changed", async () => {
    const key = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const before = await getWidget();
    const res = await gql(key, UPDATE, { id: a.scenarioId, input: { header: "Not saved", windowWidth: 5000 } });
    expect(res.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    expect(res.errors?.[0]?.message).toMatch(/^window_width:/);
    const nul = await gql(key, UPDATE, { id: a.scenarioId, input: { typing: null } });
    expect(nul.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    expect(await getWidget()).toEqual(before);
  });

  it("refuses keys without the scope (PERMISSION_DENIED) and another workspace's scenario (NOT_FOUND)", async () => {
    const before = await getWidget();
    const readOnly = (await a.developerKey(["assistant:read"])).secret;
    const noAssistant = (await a.developerKey(["conversations:read"])).secret;
    const up = await gql(readOnly, UPDATE, { id: a.scenarioId, input: { header: "Nope" } });
    expect(up.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    expect(up.errors?.[0]?.message).toBe("Insufficient scope. Required: assistant:write");
    const read = await gql(noAssistant, READ, { id: a.scenarioId });
    expect(read.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    const tokenUp = await gql(aRead, UPDATE, { id: a.scenarioId, input: { header: "Nope" } });
    expect(tokenUp.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");

    const bKey = (await b.developerKey(["assistant:read", "assistant:write"])).secret;
    const foreignUp = await gql(bKey, UPDATE, { id: a.scenarioId, input: { header: "Nope" } });
    expect(foreignUp.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const foreignRead = await gql(bKey, READ, { id: a.scenarioId });
    expect(foreignRead.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(await getWidget()).toEqual(before);
  });
});

describe("concurrent image changes", () => {
  it("leave exactly the stored files the configuration points at (none orphaned)", async () => {
    const c = await seed(server.app).workspace("Concurrent images");
    const write = (await c.token("write_all")).secret;
    const read = (await c.token("read_all")).secret;
    const db = server.app.runtime.db;
    // Set once, so every concurrent PATCH below replaces an existing file.
    expect((await call(WIDGET, { method: "PATCH", token: write, body: { avatar_image: dataUrl(png(0, 0, 0)) } })).status).toBe(200);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          call(WIDGET, { method: "PATCH", token: write, body: { avatar_image: dataUrl(png(round, i, 1)), bubble_icon_image: dataUrl(png(round, i, 2)) } }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
      const now = await (await call(WIDGET, { token: read })).json();
      const ids = [now.avatar_image, now.bubble_icon_image].map((u: string) => u.split("/").pop());
      const files = await db.storedFile.findMany({ where: { scenarioId: c.scenarioId }, select: { id: true } });
      expect(files.map((f) => f.id).sort()).toEqual(ids.sort());
    }
  });
});
