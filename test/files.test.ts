import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { dataUrl, gif, jpeg, pdf, png, webp } from "./helpers/images.ts";
import { http } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aWrite: string;
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
  aReject = (await a.token("write_all")).secret;
  aCheck = (await a.token("read_all")).secret;
  bWrite = (await b.token("write_all")).secret;
  bRead = (await b.token("read_all")).secret;
});
afterAll(() => server?.stop());

const WIDGET = "/v1/api/widget/configuration";
const MiB = 1024 * 1024;

const { call, gql } = http(() => server);

function patch(token: string, body: unknown, base = server.url, headers: Record<string, string> = {}) {
  return call(WIDGET, { method: "PATCH", token, headers, url: base, ...(typeof body === "string" ? { raw: body } : { body }) });
}
async function getWidget(token = aCheck) {
  const res = await call(WIDGET, { token });
  expect(res.status).toBe(200);
  return res.json();
}
const fileCount = () => server.app.runtime.db.storedFile.count({ where: { scenarioId: a.scenarioId } });

async function expectServed(url: string, bytes: Buffer, contentType: string) {
  expect(url).toMatch(new RegExp(`^${server.url}/files/[0-9a-f-]{36}$`));
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe(contentType);
  expect(res.headers.get("content-length")).toBe(String(bytes.length));
  expect(res.headers.get("etag")).toBe(`"${createHash("sha256").update(bytes).digest("hex")}"`);
  expect(res.headers.get("cache-control")).toMatch(/immutable/);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
}

describe("widget images: upload as base64 data URLs, served by Parley", () => {
  const images: [string, () => Buffer, string][] = [
    ["PNG", png, "image/png"],
    ["JPEG", jpeg, "image/jpeg"],
    ["GIF", gif, "image/gif"],
    ["WebP", webp, "image/webp"],
  ];

  it.each(images)("stores a real %s and serves the identical bytes with its content type", async (_name, make, type) => {
    const bytes = make();
    const res = await patch(aWrite, { avatar_image: dataUrl(bytes, type), bubble_icon_image: dataUrl(bytes, type) });
    expect(res.status).toBe(200);
    const body = await res.json();
    await expectServed(body.avatar_image, bytes, type);
    await expectServed(body.bubble_icon_image, bytes, type);
    expect(body.avatar_image).not.toBe(body.bubble_icon_image);
    const again = await getWidget();
    expect(again.avatar_image).toBe(body.avatar_image);
    expect(again.bubble_icon_image).toBe(body.bubble_icon_image);
  });

  it("keeps only the current images: a replaced image's URL is gone, the other field is untouched", async () => {
    const first = await (await patch(aWrite, { avatar_image: dataUrl(png(1, 2, 3)) })).json();
    const count = await fileCount();
    const second = await (await patch(aWrite, { avatar_image: dataUrl(png(4, 5, 6)) })).json();
    expect(second.avatar_image).not.toBe(first.avatar_image);
    expect(second.bubble_icon_image).toBe(first.bubble_icon_image);
    expect((await fetch(first.avatar_image)).status).toBe(404);
    await expectServed(second.avatar_image, png(4, 5, 6), "image/png");
    expect(await fileCount()).toBe(count);
  });

  it("stores what the bytes are, not what the data URL claims (image/png holding a GIF is a GIF)", async () => {
    const res = await patch(aWrite, { avatar_image: dataUrl(gif(), "image/png") });
    expect(res.status).toBe(200);
    await expectServed((await res.json()).avatar_image, gif(), "image/gif");
  });

  it("accepts the URL GET answered (a read-modify-write round trip keeps the images)", async () => {
    const before = await getWidget();
    const count = await fileCount();
    const res = await patch(aWrite, { ...before, header: "Round trip" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...before, header: "Round trip" });
    expect(await fileCount()).toBe(count);
  });

  it("accepts exactly 1 MiB decoded", async () => {
    const big = Buffer.alloc(MiB);
    png().copy(big);
    const res = await patch(aWrite, { bubble_icon_image: dataUrl(big) });
    expect(res.status).toBe(200);
    await expectServed((await res.json()).bubble_icon_image, big, "image/png");
  });

  const rejected: [string, () => unknown][] = [
    ["a PDF disguised as image/png", () => dataUrl(pdf(), "image/png")],
    ["text disguised as image/png", () => dataUrl(Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"), "image/png")],
    ["an SVG", () => dataUrl(Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"), "image/svg+xml")],
    ["a data URL of another type", () => dataUrl(png(), "application/octet-stream")],
    ["more than 1 MiB decoded", () => {
      const big = Buffer.alloc(MiB + 1);
      png().copy(big);
      return dataUrl(big);
    }],
    ["malformed base64", () => "data:image/png;base64,iVBORw0KGgo@@@=AAAA"],
    ["base64 of the wrong length", () => "data:image/png;base64,iVBORw0KGgoAA"],
    ["an empty payload", () => "data:image/png;base64,"],
    ["a data URL without ;base64", () => "data:image/png,%89PNG"],
    ["a URL somewhere else", () => "https://cdn.example.com/avatar.png"],
    ["a URL of another scenario's file", () => "http://127.0.0.1/files/00000000-0000-4000-8000-000000000000"],
    ["a number", () => 12],
  ];

  it.each(rejected)("rejects %s with 422 naming the field, storing nothing", async (_name, value) => {
    const before = await getWidget();
    const count = await fileCount();
    const res = await patch(aReject, { header: "Not saved", avatar_image: value() });
    expect(res.status).toBe(422);
    const json = await res.json();
    expect(json.errors.root[0].code).toBe("VALIDATION_ERROR");
    expect(json.errors.root[0].message).toMatch(/^avatar_image:/);
    expect(await getWidget()).toEqual(before);
    expect(await fileCount()).toBe(count);
  });

  it("a body over the upload route's 4 MiB limit is a 400", async () => {
    const res = await patch(aReject, { avatar_image: "data:image/png;base64," + "A".repeat(4 * MiB) });
    expect(res.status).toBe(400);
    expect((await res.json()).errors.root[0].code).toBe("BAD_REQUEST");
  });

  it('removes images with "" or null: GET answers "" and the old URLs are gone', async () => {
    const set = await (await patch(aWrite, { avatar_image: dataUrl(png()), bubble_icon_image: dataUrl(webp(), "image/webp") })).json();
    const res = await patch(aWrite, { avatar_image: "", bubble_icon_image: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ avatar_image: "", bubble_icon_image: "" });
    expect(await getWidget()).toMatchObject({ avatar_image: "", bubble_icon_image: "" });
    expect((await fetch(set.avatar_image)).status).toBe(404);
    expect((await fetch(set.bubble_icon_image)).status).toBe(404);
    expect(await fileCount()).toBe(0);
    // Removing what is not there is fine.
    expect((await patch(aWrite, { avatar_image: "" })).status).toBe(200);
  });

  it("keeps tenants apart: another scenario's images are not its own", async () => {
    const mine = await (await patch(aWrite, { avatar_image: dataUrl(png()) })).json();
    expect((await getWidget(bRead)).avatar_image).toBe("");
    // B cannot adopt A's file by sending its URL.
    const res = await patch(bWrite, { avatar_image: mine.avatar_image });
    expect(res.status).toBe(422);
    expect((await getWidget(bRead)).avatar_image).toBe("");
  });
});

describe("GET /files/:id", () => {
  it("answers 304 to a matching If-None-Match", async () => {
    const { avatar_image } = await (await patch(aWrite, { avatar_image: dataUrl(gif(), "image/gif") })).json();
    const first = await fetch(avatar_image);
    const etag = first.headers.get("etag")!;
    await first.arrayBuffer();
    const again = await fetch(avatar_image, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
  });

  it("answers 404 in the {error} form for unknown ids", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "..%2F..%2Fetc%2Fpasswd"]) {
      const res = await fetch(`${server.url}/files/${id}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: expect.any(String) });
    }
  });

  it("builds image URLs from the Host the caller used", async () => {
    const port = new URL(server.url).port;
    const res = await patch(aWrite, { avatar_image: dataUrl(png()) }, `http://localhost:${port}`);
    expect((await res.json()).avatar_image).toMatch(new RegExp(`^http://localhost:${port}/files/`));
  });
});

describe("behind a proxy (TRUST_PROXY)", () => {
  it("uses X-Forwarded-Proto and X-Forwarded-Host only when the proxy is trusted", async () => {
    const forwarded = { "x-forwarded-proto": "https", "x-forwarded-host": "chat.example.com" };
    const untrusted = await patch(aWrite, { avatar_image: dataUrl(png()) }, server.url, forwarded);
    expect((await untrusted.json()).avatar_image).toMatch(new RegExp(`^${server.url}/files/`));

    const proxied = await startServer({ trustProxy: true });
    try {
      const t = await seed(proxied.app).workspace();
      const token = (await t.token("write_all")).secret;
      const res = await patch(token, { avatar_image: dataUrl(png()) }, proxied.url, forwarded);
      const url = (await res.json()).avatar_image as string;
      expect(url).toMatch(/^https:\/\/chat\.example\.com\/files\/[0-9a-f-]{36}$/);
      const local = await fetch(`${proxied.url}${new URL(url).pathname}`);
      expect(local.status).toBe(200);
      expect(Buffer.from(await local.arrayBuffer()).equals(png())).toBe(true);
    } finally {
      await proxied.stop();
    }
  });
});

describe("GraphQL: images through updateWidgetConfiguration", () => {
  const UPDATE = `mutation($id: ID!, $input: UpdateWidgetConfigurationInput!) {
    updateWidgetConfiguration(scenarioId: $id, input: $input) { avatarImage bubbleIconImage } }`;

  it("accepts the same data URLs, answers served URLs, and removes with null", async () => {
    const key = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const up = await gql(key, UPDATE, { id: a.scenarioId, input: { avatarImage: dataUrl(jpeg(), "image/jpeg"), bubbleIconImage: null } });
    expect(up.errors).toBeUndefined();
    await expectServed(up.data.updateWidgetConfiguration.avatarImage, jpeg(), "image/jpeg");
    expect(up.data.updateWidgetConfiguration.bubbleIconImage).toBeNull();
    const read = await gql(key, `query($id: ID!) { scenario(id: $id) { widgetConfiguration { avatarImage } } }`, { id: a.scenarioId });
    expect(read.data.scenario.widgetConfiguration.avatarImage).toBe(up.data.updateWidgetConfiguration.avatarImage);

    const bad = await gql(key, UPDATE, { id: a.scenarioId, input: { avatarImage: dataUrl(pdf(), "image/png") } });
    expect(bad.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    expect(bad.errors?.[0]?.message).toMatch(/^avatar_image:/);
    expect((await getWidget()).avatar_image).toBe(up.data.updateWidgetConfiguration.avatarImage);

    const removed = await gql(key, UPDATE, { id: a.scenarioId, input: { avatarImage: null } });
    expect(removed.data.updateWidgetConfiguration.avatarImage).toBeNull();
    expect((await fetch(up.data.updateWidgetConfiguration.avatarImage)).status).toBe(404);
  });
});
