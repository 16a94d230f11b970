import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { dataUrl, gif, jpeg, pdf, png, webp } from "./helpers/images.ts";
import { http } from "./helpers/http.ts";

// Visitors' file attachments on the site-key API: multipart upload with the reply, listing in
// the messages, download with disposition; limits, types and privacy.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const CONVERSATIONS = "/api/v1/chat/conversations";
const MiB = 1024 * 1024;

let server: TestServer;
let a: Tenant;
let a2: Tenant;
let b: Tenant;
const { call, callJson } = http(() => server);

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  a2 = await a.scenario("Alpha second");
  b = await s.workspace("Beta");
});
afterAll(() => server?.stop());

let seq = 0;
const site = (k: string) => ({ authorization: `Bearer ${k}` });
const key = async (t: Tenant = a) => (await t.widgetKey()).secret;

/** A conversation started through the API, with its own key (replies are limited to 20/min per key). */
async function started(t: Tenant = a) {
  const k = await key(t);
  const token = `files-${Date.now().toString(36)}-${seq++}-visitor`;
  const res = await callJson(CONVERSATIONS, {
    method: "POST",
    headers: site(k),
    body: { name: "Jane Doe", email: "jane@example.com", message: "Hello", visitor_token: token },
  });
  expect(res.status).toBe(201);
  return { key: k, token, id: res.body.conversation_token as string };
}

type Upload = { name: string; bytes: Buffer | Uint8Array; type?: string; field?: string };

/** POSTs a multipart reply built with FormData, as a browser would. */
async function upload(k: string, token: string, files: Upload[], message?: string, extra: Record<string, string> = {}) {
  const form = new FormData();
  if (message !== undefined) form.append("message", message);
  for (const [name, value] of Object.entries(extra)) form.append(name, value);
  for (const f of files) form.append(f.field ?? "files[]", new Blob([new Uint8Array(f.bytes)], { type: f.type ?? "application/octet-stream" }), f.name);
  const res = await fetch(`${server.url}${CONVERSATIONS}/${encodeURIComponent(token)}/messages`, { method: "POST", headers: site(k), body: form });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function lastMessageWithFiles(k: string, token: string) {
  const res = await callJson(`${CONVERSATIONS}/${encodeURIComponent(token)}/messages`, { headers: site(k) });
  expect(res.status).toBe(200);
  return [...res.body].reverse().find((m: { attachments?: unknown[] }) => m.attachments);
}

const db = () => server.app.runtime.db;
const counts = async () => ({
  files: await db().storedFile.count({ where: { purpose: "attachment" } }),
  attachments: await db().messageAttachment.count(),
  events: await db().conversationEvent.count(),
});

describe("upload and download", () => {
  const text = Buffer.from("Order #1234\nThe parcel arrived damaged.\n", "utf8");

  it("stores the files with the message; the messages list them; downloads give the exact bytes", async () => {
    const c = await started();
    const files: Upload[] = [
      { name: "photo.png", bytes: png(), type: "image/png" },
      { name: "invoice.pdf", bytes: pdf(), type: "application/pdf" },
      { name: "notes.txt", bytes: text, type: "text/plain" },
      { name: "pic.jpg", bytes: jpeg(), field: "files" },
      { name: "anim.gif", bytes: gif(), field: "file" },
    ];
    expect(await upload(c.key, c.token, files, "Here are my files")).toEqual({ status: 201, body: { status: "ok" } });

    const message = await lastMessageWithFiles(c.key, c.token);
    expect(message).toMatchObject({ direction: "inbound", body: "Here are my files", author: "Jane Doe" });
    const ord = (await db().conversationEvent.findFirstOrThrow({ where: { conversationId: c.id, content: "Here are my files" } })).ord;
    expect(message.attachments).toEqual([
      { id: expect.any(Number), filename: "photo.png", content_type: "image/png", size: png().length, url: expect.any(String) },
      { id: expect.any(Number), filename: "invoice.pdf", content_type: "application/pdf", size: pdf().length, url: expect.any(String) },
      { id: expect.any(Number), filename: "notes.txt", content_type: "text/plain", size: text.length, url: expect.any(String) },
      { id: expect.any(Number), filename: "pic.jpg", content_type: "image/jpeg", size: jpeg().length, url: expect.any(String) },
      { id: expect.any(Number), filename: "anim.gif", content_type: "image/gif", size: gif().length, url: expect.any(String) },
    ]);
    for (const [i, att] of message.attachments.entries()) {
      expect(att.url).toBe(`${CONVERSATIONS}/${c.token}/files/${ord}/${att.id}`);
      const res = await call(att.url, { headers: site(c.key) });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(att.content_type === "text/plain" ? "text/plain; charset=utf-8" : att.content_type);
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${att.filename}"`);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("content-length")).toBe(String(att.size));
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(files[i]!.bytes))).toBe(true);
    }
  });

  it("disposition=inline for images, PDF and text; attachment explicitly; anything else → 400", async () => {
    const c = await started();
    await upload(c.key, c.token, [{ name: "p.webp", bytes: webp() }, { name: "doc.pdf", bytes: pdf() }, { name: "a.txt", bytes: text }], "x");
    const m = await lastMessageWithFiles(c.key, c.token);
    for (const att of m.attachments) {
      const inline = await call(`${att.url}?disposition=inline`, { headers: site(c.key) });
      expect(inline.headers.get("content-disposition")).toBe(`inline; filename="${att.filename}"`);
      const attachment = await call(`${att.url}?disposition=attachment`, { headers: site(c.key) });
      expect(attachment.headers.get("content-disposition")).toBe(`attachment; filename="${att.filename}"`);
    }
    for (const q of ["?disposition=download", "?disposition=", "?disposition=inline&disposition=inline"]) {
      const res = await callJson(`${m.attachments[0].url}${q}`, { headers: site(c.key) });
      expect([res.status, res.body], q).toEqual([400, { error: 'disposition must be "inline" or "attachment"' }]);
    }
  });

  it("keeps non-ASCII filenames exactly (RFC 5987 filename*) and strips paths", async () => {
    const c = await started();
    // FormData escapes quotes in names (%22); a hand-written body sends them as they are.
    const boundary = "----parley-test-boundary";
    const part = (name: string, bytes: Buffer) =>
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files[]"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        bytes,
        Buffer.from("\r\n"),
      ]);
    const body = Buffer.concat([part("Résumé «2025».pdf", pdf()), part("..\\..\\etc\\quote\\\".txt", text), Buffer.from(`--${boundary}--\r\n`)]);
    const sent = await fetch(`${server.url}${CONVERSATIONS}/${c.token}/messages`, {
      method: "POST",
      headers: { ...site(c.key), "content-type": `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(sent.status).toBe(201);
    const m = await lastMessageWithFiles(c.key, c.token);
    expect(m.attachments.map((f: { filename: string }) => f.filename)).toEqual(["Résumé «2025».pdf", 'quote".txt']);
    const res = await call(m.attachments[0].url, { headers: site(c.key) });
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="R_sum_ _2025_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%C2%AB2025%C2%BB.pdf`,
    );
    const quoted = await call(m.attachments[1].url, { headers: site(c.key) });
    expect(quoted.headers.get("content-disposition")).toBe(`attachment; filename="quote_.txt"; filename*=UTF-8''quote%22.txt`);
  });

  it("a message may be empty when files come with it; the type is what the bytes are, not what the browser says", async () => {
    const c = await started();
    expect((await upload(c.key, c.token, [{ name: "scan.pdf", bytes: png(), type: "application/pdf" }])).status).toBe(201);
    const m = await lastMessageWithFiles(c.key, c.token);
    expect(m.body).toBe("");
    expect(m.attachments[0]).toMatchObject({ filename: "scan.pdf", content_type: "image/png" });
  });

  it("a multipart reply without files still needs its message; one message field only", async () => {
    const c = await started();
    expect(await upload(c.key, c.token, [], "Plain multipart text")).toEqual({ status: 201, body: { status: "ok" } });
    expect(await upload(c.key, c.token, [])).toEqual({ status: 422, body: { error: "Message is required" } });
    expect(await upload(c.key, c.token, [], "   ")).toEqual({ status: 422, body: { error: "Message is required" } });
    expect(await upload(c.key, c.token, [], "x".repeat(10_001))).toEqual({
      status: 422,
      body: { error: "Message is too long (maximum 10000 characters)" },
    });
    expect(await upload(c.key, c.token, [], "😀".repeat(20_000))).toEqual({
      status: 422,
      body: { error: "Message is too long (maximum 10000 characters)" },
    });
    expect(await upload(c.key, c.token, [], "one", { message: "two" })).toEqual({ status: 422, body: { error: "Send one message field" } });
  });
});

describe("limits: 422 and nothing stored", () => {
  const cases: [string, Upload[], string][] = [
    ["a file over 10 MB", [{ name: "big.png", bytes: Buffer.concat([png(), Buffer.alloc(10 * MiB)]) }], "File too large (maximum 10 MB)"],
    [
      "a good file beside one too large",
      [{ name: "ok.png", bytes: png() }, { name: "big.pdf", bytes: Buffer.concat([pdf(), Buffer.alloc(10 * MiB)]) }],
      "File too large (maximum 10 MB)",
    ],
    ["six files", Array.from({ length: 6 }, (_, i) => ({ name: `p${i}.png`, bytes: png(i, i, i) })), "Too many files (maximum 5)"],
    ["an executable", [{ name: "setup.exe", bytes: Buffer.concat([Buffer.from("MZ\x90\x00\x03\x00\x00\x00", "latin1"), Buffer.alloc(200)]) }], "File type not allowed"],
    ["a zip", [{ name: "a.zip", bytes: Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100)]) }], "File type not allowed"],
    ["HTML", [{ name: "page.html", bytes: Buffer.from("<html><script>alert(1)</script></html>"), type: "text/html" }], "File type not allowed"],
    ["SVG", [{ name: "logo.svg", bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>'), type: "image/svg+xml" }], "File type not allowed"],
    ["binary named .txt", [{ name: "data.txt", bytes: Buffer.from([0x00, 0x01, 0x02, 0x41, 0x42]) }], "File type not allowed"],
    ["invalid UTF-8 named .txt", [{ name: "latin1.txt", bytes: Buffer.from([0x63, 0x61, 0x66, 0xe9]) }], "File type not allowed"],
    ["text named .png", [{ name: "fake.png", bytes: Buffer.from("just text") }], "File type not allowed"],
    ["a good file beside a refused one", [{ name: "ok.png", bytes: png() }, { name: "x.exe", bytes: Buffer.from("MZ\x90\x00", "latin1") }], "File type not allowed"],
    ["an empty file", [{ name: "empty.txt", bytes: Buffer.alloc(0) }], "File is empty"],
  ];

  it.each(cases)("%s", async (_name, files, error) => {
    const c = await started();
    const before = await counts();
    expect(await upload(c.key, c.token, files, "with files")).toEqual({ status: 422, body: { error } });
    expect(await counts()).toEqual(before);
    // The connection is still usable: the next request on the same key goes through.
    expect((await upload(c.key, c.token, [{ name: "ok.png", bytes: png() }], "after")).status).toBe(201);
  });

  it("accepts exactly five files of exactly 10 MB", async () => {
    const c = await started();
    const big = Buffer.concat([png(), Buffer.alloc(10 * MiB - png().length)]);
    const files = [{ name: "big.png", bytes: big }, ...Array.from({ length: 4 }, (_, i) => ({ name: `s${i}.png`, bytes: png(i, 0, 0) }))];
    expect((await upload(c.key, c.token, files, "five")).status).toBe(201);
    const m = await lastMessageWithFiles(c.key, c.token);
    expect(m.attachments.map((f: { size: number }) => f.size)).toEqual([10 * MiB, ...Array(4).fill(png().length)]);
  });

  it("a malformed multipart body → 400 {error}", async () => {
    const c = await started();
    const res = await callJson(`${CONVERSATIONS}/${c.token}/messages`, {
      method: "POST",
      headers: { ...site(c.key), "content-type": "multipart/form-data; boundary=XYZ" },
      raw: '--XYZ\r\nContent-Disposition: form-data; name="message"\r\n\r\nunterminated',
    });
    expect([res.status, res.body]).toEqual([400, { error: "Malformed multipart/form-data body" }]);
  });

  it("limits follow the configuration", async () => {
    const small = await startServer({ jobs: JOBS }, { ATTACHMENT_MAX_FILE_BYTES: "1024", ATTACHMENT_MAX_FILES: "2" });
    try {
      const t = await seed(small.app).workspace("Small");
      const k = (await t.widgetKey()).secret;
      const created = await callJson(CONVERSATIONS, {
        method: "POST",
        url: small.url,
        headers: site(k),
        body: { name: "Jane", email: "jane@example.com", message: "Hi", visitor_token: "small-limits-visitor" },
      });
      expect(created.status).toBe(201);
      const send = async (files: Upload[]) => {
        const form = new FormData();
        for (const f of files) form.append("files[]", new Blob([new Uint8Array(f.bytes)]), f.name);
        const res = await fetch(`${small.url}${CONVERSATIONS}/small-limits-visitor/messages`, { method: "POST", headers: site(k), body: form });
        return { status: res.status, body: await res.json() };
      };
      expect(await send([{ name: "a.png", bytes: Buffer.concat([png(), Buffer.alloc(1024)]) }])).toEqual({
        status: 422,
        body: { error: "File too large (maximum 1 KB)" },
      });
      expect(await send([1, 2, 3].map((i) => ({ name: `${i}.png`, bytes: png(i, 0, 0) })))).toEqual({
        status: 422,
        body: { error: "Too many files (maximum 2)" },
      });
      expect((await send([1, 2].map((i) => ({ name: `${i}.png`, bytes: png(i, 0, 0) })))).status).toBe(201);
    } finally {
      await small.stop();
    }
  });
});

describe("privacy", () => {
  let owner: Awaited<ReturnType<typeof started>>;
  let first: { id: number; url: string };
  let second: { id: number; url: string };
  let ords: number[];

  beforeAll(async () => {
    owner = await started();
    await upload(owner.key, owner.token, [{ name: "one.png", bytes: png(1, 1, 1) }], "first");
    first = (await lastMessageWithFiles(owner.key, owner.token)).attachments[0];
    await upload(owner.key, owner.token, [{ name: "two.png", bytes: png(2, 2, 2) }], "second");
    second = (await lastMessageWithFiles(owner.key, owner.token)).attachments[0];
    ords = [first, second].map((f) => Number(f.url.split("/").at(-2)));
  });
  const download = (k: string, token: string, ord: number | string, id: number | string) =>
    callJson(`${CONVERSATIONS}/${encodeURIComponent(token)}/files/${ord}/${id}`, { headers: site(k) });

  it("another scenario's or workspace's key → 404", async () => {
    for (const k of [await key(a2), await key(b)]) {
      expect(await download(k, owner.token, ords[0]!, first.id)).toMatchObject({ status: 404, body: { error: "Conversation not found" } });
    }
  });

  it("another visitor's token, another message's ord, unknown or non-integer ids → 404", async () => {
    const other = await started();
    const k = await key();
    expect(await download(k, other.token, ords[0]!, first.id)).toMatchObject({ status: 404, body: { error: "File not found" } });
    expect(await download(k, owner.token, ords[1]!, first.id)).toMatchObject({ status: 404, body: { error: "File not found" } });
    expect(await download(k, owner.token, ords[0]!, second.id)).toMatchObject({ status: 404, body: { error: "File not found" } });
    expect(await download(k, owner.token, ords[0]!, 999_999)).toMatchObject({ status: 404, body: { error: "File not found" } });
    for (const [ord, id] of [["abc", first.id], [ords[0], "1.5"], ["-1", first.id], ["0", first.id], [ords[0], "99999999999"], [`0${ords[0]}`, first.id]]) {
      expect(await download(k, owner.token, ord!, id!), `${ord}/${id}`).toMatchObject({ status: 404, body: { error: "File not found" } });
    }
    expect(await download(k, "no-such-visitor-token", ords[0]!, first.id)).toMatchObject({ status: 404, body: { error: "Conversation not found" } });
    expect((await call(`${CONVERSATIONS}/${owner.token}/files/${ords[0]}/${first.id}`, { headers: site(k) })).status).toBe(200);
  });

  it("GET /files/:id never serves an attachment, while widget images stay public", async () => {
    const row = await db().messageAttachment.findUniqueOrThrow({ where: { id: first.id } });
    const res = await call(`/files/${row.fileId}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "File not found", code: "NOT_FOUND" });

    const write = (await a.token("write_all")).secret;
    const widget = await callJson("/v1/api/widget/configuration", { method: "PATCH", token: write, body: { avatar_image: dataUrl(png()) } });
    expect(widget.status).toBe(200);
    const image = await fetch(widget.body.avatar_image);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
  });
});
