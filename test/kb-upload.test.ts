import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanDocxZip, ZipLimitError } from "../src/services/kb-extract-docx.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { WRITE_SCOPE_MESSAGE, http, quickchatError } from "./helpers/http.ts";
import { docxFile, docxWithEntries, docxZipBomb, encryptedPdf, oleContainer, pdfFile, zipFile, CONTENT_TYPES } from "./helpers/documents.ts";

// Uploads go through real multipart requests; the limits are set small in the server's
// environment so that each one can be passed with a small file.
const LIMITS = {
  KB_UPLOAD_MAX_BYTES: String(2 * 1024 * 1024),
  KB_UPLOAD_MAX_PAGES: "3",
  KB_UPLOAD_MAX_TEXT_CHARS: "20000",
  KB_DOCX_MAX_INFLATED_BYTES: String(8 * 1024 * 1024),
  KB_DOCX_MAX_ENTRIES: "40",
};

const PDF_ROUTE = "/v1/api/knowledge_base/file_upload_api/pdf";
const FILE_ROUTE = "/v1/api/knowledge_base/file_upload_api/";
const ARTICLES = "/v1/api/knowledge_base/articles/";

let server: TestServer;
let a: Tenant;
let aRead: string;
const { call, callJson } = http(() => server);

beforeAll(async () => {
  server = await startServer({}, LIMITS);
  a = await seed(server.app).workspace("Uploads");
  aRead = (await a.token("read_all")).secret;
});
afterAll(() => server?.stop());

/** A fresh write token: HEAVY routes allow 20 calls a minute per token. */
const writer = async (t: Tenant = a) => (await t.token("write_all")).secret;

interface FilePart {
  field: string;
  bytes: Uint8Array | string;
  name: string;
  /** The declared type: never what the server goes by. */
  type?: string;
}

async function upload(path: string, token: string | null, parts: FilePart[], fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const p of parts) form.append(p.field, new Blob([p.bytes as BlobPart], { type: p.type ?? "application/octet-stream" }), p.name);
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {}, body: form });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const articleCount = async (t: Tenant = a) => {
  const token = t === a ? aRead : (await t.token("read_all")).secret;
  const res = await callJson(`${ARTICLES}?limit=1`, { token });
  expect(res.status).toBe(200);
  return res.body.count as number;
};

const LONG =
  "Parley keeps the knowledge base of every assistant in articles that visitors never see directly, " +
  "but which the assistant quotes whenever a question touches on them, so each paragraph should read well on its own.";

describe("PDF uploads", () => {
  it("turns a multi-page PDF into a published article titled from its metadata, with its paragraphs", async () => {
    const pdf = await pdfFile({
      title: "Returns Handbook",
      pages: [
        ["Refunds are issued within fourteen days of receiving the parcel.", `Exchanges are free of charge. ${LONG}`],
        ["Damaged goods are replaced by the warehouse in Rotterdam.", "Questions go to the zebracorn support desk."],
      ],
    });
    const res = await upload(PDF_ROUTE, await writer(), [{ field: "pdf_file", bytes: pdf, name: "returns.pdf", type: "application/pdf" }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "success", message: "File processed successfully.", article: { id: expect.any(Number), title: "Returns Handbook" } });

    const article = await callJson(`${ARTICLES}${res.body.article.id}`, { token: aRead });
    expect(article.status).toBe(200);
    expect(article.body).toMatchObject({ title: "Returns Handbook", type: "Article", deploy_state: "published" });
    expect(article.body.content).toBe(
      [
        "Refunds are issued within fourteen days of receiving the parcel.",
        `Exchanges are free of charge. ${LONG}`,
        "Damaged goods are replaced by the warehouse in Rotterdam.",
        "Questions go to the zebracorn support desk.",
      ].join("\n\n"),
    );

    const found = await callJson(`${ARTICLES}search?query=zebracorn`, { token: aRead });
    expect(found.status).toBe(200);
    expect(found.body.article_snapshots.items.map((i: { id: number }) => i.id)).toContain(res.body.article.id);

    const kb = await callJson("/v1/api/knowledge_base/", { token: aRead });
    expect(kb.body.retrain_state).toBe("to_be_retrained");
  });

  it("takes a PDF on the generic route too, titled by its file name when it has no title", async () => {
    const pdf = await pdfFile({ pages: [["Opening hours are nine to five on weekdays."]] });
    const res = await upload(FILE_ROUTE, await writer(), [{ field: "file", bytes: pdf, name: "C:\\Users\\me\\hours.pdf" }]);
    expect(res.status).toBe(200);
    expect(res.body.article.title).toBe("hours.pdf");
    const article = await callJson(`${ARTICLES}${res.body.article.id}`, { token: aRead });
    expect(article.body.content).toBe("Opening hours are nine to five on weekdays.");
  });
});

describe("DOCX uploads", () => {
  it("turns a DOCX into an article titled from its core properties, headings and paragraphs kept", async () => {
    const docx = await docxFile({
      title: "Shipping Guide",
      blocks: [{ heading: "Domestic shipping" }, "Parcels leave the warehouse every afternoon.", { heading: "International" }, "Customs forms are filled in by the quokkabird team."],
    });
    const res = await upload(FILE_ROUTE, await writer(), [{ field: "file", bytes: docx, name: "guide.docx" }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "success", message: "File processed successfully.", article: { id: expect.any(Number), title: "Shipping Guide" } });

    const article = await callJson(`${ARTICLES}${res.body.article.id}`, { token: aRead });
    expect(article.body.content).toBe(
      ["Domestic shipping", "Parcels leave the warehouse every afternoon.", "International", "Customs forms are filled in by the quokkabird team."].join("\n\n"),
    );
    const found = await callJson(`${ARTICLES}search?query=quokkabird`, { token: aRead });
    expect(found.body.article_snapshots.items.map((i: { id: number }) => i.id)).toContain(res.body.article.id);
    expect((await callJson("/v1/api/knowledge_base/", { token: aRead })).body.retrain_state).toBe("to_be_retrained");
  });

  it("titles a DOCX without a title by its file name, whatever the name says", async () => {
    const docx = await docxFile({ blocks: ["Gift cards never expire."] });
    const res = await upload(FILE_ROUTE, await writer(), [{ field: "file", bytes: docx, name: "gift-cards.pdf", type: "application/pdf" }]);
    expect(res.status).toBe(200);
    expect(res.body.article.title).toBe("gift-cards.pdf");
  });
});

describe("bad uploads are refused and create nothing", () => {
  const refused = async (path: string, parts: FilePart[], status: number, message: string | RegExp, fields?: Record<string, string>) => {
    const before = await articleCount();
    const res = await upload(path, await writer(), parts, fields);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(quickchatError(status === 400 ? "BAD_REQUEST" : "VALIDATION_ERROR", message));
    expect(await articleCount()).toBe(before);
  };

  it("a form without the file field → 400", () => refused(PDF_ROUTE, [], 400, /Missing file: send it in the multipart field 'pdf_file' \(the form has: note\)/, { note: "hi" }));

  it("the file under another field name → 400 naming the expected field", async () => {
    const pdf = await pdfFile({ pages: [["Wrong field."]] });
    await refused(PDF_ROUTE, [{ field: "file", bytes: pdf, name: "a.pdf" }], 400, /multipart field 'pdf_file' \(the form has: file\)/);
    await refused(FILE_ROUTE, [{ field: "pdf_file", bytes: pdf, name: "a.pdf" }], 400, /multipart field 'file' \(the form has: pdf_file\)/);
  });

  it("a body that is not multipart → 400", async () => {
    const before = await articleCount();
    const res = await callJson(PDF_ROUTE, { method: "POST", token: await writer(), body: { pdf_file: "JVBERi0xLjQ=" } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST", "Send the file as multipart/form-data in the field 'pdf_file'"));
    expect(await articleCount()).toBe(before);
  });

  it("a raw PDF body (not a form) → 400", async () => {
    const pdf = await pdfFile({ pages: [["Raw body."]] });
    const res = await fetch(`${server.url}${PDF_ROUTE}`, { method: "POST", headers: { authorization: `Bearer ${await writer()}`, "content-type": "application/pdf" }, body: pdf as BlobPart });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(quickchatError("BAD_REQUEST"));
  });

  it("a DOCX sent to the PDF route → 422", async () => {
    const docx = await docxFile({ title: "Not a PDF", blocks: ["Some text."] });
    await refused(PDF_ROUTE, [{ field: "pdf_file", bytes: docx, name: "report.pdf", type: "application/pdf" }], 422, "pdf_file: The file is a Word document (DOCX), not a PDF document");
  });

  it("a text file named .pdf → 422", () =>
    refused(PDF_ROUTE, [{ field: "pdf_file", bytes: "Just some words.\n", name: "x.pdf", type: "application/pdf" }], 422, "pdf_file: The file is plain text, not a PDF document"));

  it("a text file on the generic route → 422", () =>
    refused(FILE_ROUTE, [{ field: "file", bytes: "Just some words.\n", name: "x.docx" }], 422, "file: The file is plain text, not a PDF document or a Word document (DOCX)"));

  it("an empty file → 422", () => refused(PDF_ROUTE, [{ field: "pdf_file", bytes: new Uint8Array(0), name: "empty.pdf" }], 422, "pdf_file: The file is empty"));

  it("a PDF without any text → 422", async () => {
    const blank = await pdfFile({ pages: [[]] });
    await refused(PDF_ROUTE, [{ field: "pdf_file", bytes: blank, name: "blank.pdf" }], 422, /^pdf_file: No text could be extracted from the PDF/);
  });

  it("a PDF cut in half → 422", async () => {
    const pdf = await pdfFile({ title: "Cut", pages: [[LONG, LONG], [LONG]] });
    await refused(PDF_ROUTE, [{ field: "pdf_file", bytes: pdf.slice(0, Math.floor(pdf.length / 2)), name: "cut.pdf" }], 422, /^pdf_file: The PDF is truncated or corrupt/);
  });

  it("an encrypted PDF → 422", () =>
    refused(PDF_ROUTE, [{ field: "pdf_file", bytes: encryptedPdf(), name: "secret.pdf" }], 422, "pdf_file: The PDF is encrypted (password-protected): remove the password and upload it again"));

  it("a password-protected DOCX (an OLE container with an encrypted package) → 422", () =>
    refused(
      FILE_ROUTE,
      [{ field: "file", bytes: oleContainer(["EncryptionInfo", "EncryptedPackage"]), name: "locked.docx" }],
      422,
      "file: The document is encrypted (password-protected): remove the password and upload it again",
    ));

  it("a legacy Word .doc → 422", () =>
    refused(FILE_ROUTE, [{ field: "file", bytes: oleContainer(["WordDocument"]), name: "old.doc" }], 422, "file: The file is a legacy Office document (.doc, .xls or .ppt), not a PDF document or a Word document (DOCX)"));

  it("a ZIP without word/document.xml → 422", async () => {
    const zip = await zipFile([
      { name: "[Content_Types].xml", data: CONTENT_TYPES },
      { name: "word/styles.xml", data: "<styles/>" },
    ]);
    await refused(FILE_ROUTE, [{ field: "file", bytes: zip, name: "broken.docx" }], 422, /^file: The file is a ZIP archive without word\/document\.xml/);
  });

  it("random bytes behind a ZIP header → 422", async () => {
    const junk = Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(4000, 0x5a)]);
    await refused(FILE_ROUTE, [{ field: "file", bytes: junk, name: "junk.docx" }], 422, /^file: The DOCX file is corrupt or truncated/);
  });

  it("a DOCX zip bomb (1 GiB of zeros in 1 MiB) → 422 at the decompressed-size limit", async () => {
    const bomb = docxZipBomb(1024);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    await refused(FILE_ROUTE, [{ field: "file", bytes: bomb, name: "bomb.docx" }], 422, `file: The DOCX is too large when decompressed (more than ${8 * 1024 * 1024} bytes)`);
  });

  it("a DOCX with too many entries → 422", async () => {
    await refused(FILE_ROUTE, [{ field: "file", bytes: await docxWithEntries(60), name: "many.docx" }], 422, "file: The DOCX has too many entries (62; the limit is 40)");
  });

  it("a file over the size limit → 422 naming the limit", () =>
    refused(PDF_ROUTE, [{ field: "pdf_file", bytes: new Uint8Array(2 * 1024 * 1024 + 1), name: "big.pdf" }], 422, "pdf_file: The file is too large (the limit is 2 MiB)"));

  it("a PDF with more pages than the limit → 422", async () => {
    const pdf = await pdfFile({ pages: [["One."], ["Two."], ["Three."], ["Four."]] });
    await refused(PDF_ROUTE, [{ field: "pdf_file", bytes: pdf, name: "long.pdf" }], 422, "pdf_file: The PDF has too many pages (4; the limit is 3)");
  });

  it("a document whose text is longer than the limit → 422", async () => {
    const docx = await docxFile({ blocks: Array.from({ length: 100 }, () => LONG) });
    await refused(FILE_ROUTE, [{ field: "file", bytes: docx, name: "long.docx" }], 422, "file: The extracted text is too long (more than 20000 characters)");
    // Small print, so that the text passes its limit before the pages pass theirs.
    const pdf = await pdfFile({ fontSize: 4, pages: [Array.from({ length: 100 }, () => LONG)] });
    await refused(PDF_ROUTE, [{ field: "pdf_file", bytes: pdf, name: "long.pdf" }], 422, "pdf_file: The extracted text is too long (more than 20000 characters)");
  });
});

describe("credentials and rate limits", () => {
  const pdf = () => pdfFile({ pages: [["Who may upload."]] });

  it("no token → 401, a read_all token → 403, and nothing is created", async () => {
    const before = await articleCount();
    const anonymous = await upload(PDF_ROUTE, null, [{ field: "pdf_file", bytes: await pdf(), name: "a.pdf" }]);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual(quickchatError("PERMISSION_DENIED"));
    const reader = await upload(FILE_ROUTE, (await a.token("read_all")).secret, [{ field: "file", bytes: await pdf(), name: "a.pdf" }]);
    expect(reader.status).toBe(403);
    expect(reader.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
    expect(await articleCount()).toBe(before);
  });

  it("an upload lands in the token's own scenario only", async () => {
    const other = await seed(server.app).workspace("Other");
    const before = await articleCount();
    const res = await upload(PDF_ROUTE, await writer(other), [{ field: "pdf_file", bytes: await pdf(), name: "theirs.pdf" }]);
    expect(res.status).toBe(200);
    expect(await articleCount()).toBe(before);
    expect(await articleCount(other)).toBe(1);
    expect((await call(`${ARTICLES}${res.body.article.id}`, { token: aRead })).status).toBe(404);
  });

  it("the 21st upload within a minute with one token → 429 (HEAVY tier)", async () => {
    const token = await writer();
    const empty = [{ field: "pdf_file", bytes: new Uint8Array(0), name: "e.pdf" }];
    for (let i = 0; i < 20; i++) expect((await upload(PDF_ROUTE, token, empty)).status).toBe(422);
    const res = await upload(PDF_ROUTE, token, empty);
    expect(res.status).toBe(429);
    expect(res.body).toEqual(quickchatError("TOO_MANY_REQUESTS"));
  });
});

describe("the DOCX inflate guard", () => {
  it("stops a 1 GiB bomb at the limit: at most one inflate chunk past it, nothing kept", async () => {
    const limit = 1_000_000;
    const err = await scanDocxZip(docxZipBomb(1024), { maxEntries: 10, maxInflatedBytes: limit }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZipLimitError);
    const inflated = (err as ZipLimitError).inflatedBytes;
    expect(inflated).toBeGreaterThan(limit);
    expect(inflated).toBeLessThanOrEqual(limit + 64 * 1024);
  });

  it("counts every entry of a real DOCX and finds its parts", async () => {
    const docx = await docxFile({ title: "Counted", blocks: ["Text."] });
    const scan = await scanDocxZip(docx, { maxEntries: 100, maxInflatedBytes: 10_000_000 });
    expect(scan.hasDocument).toBe(true);
    expect(scan.coreXml).toContain("Counted");
    expect(scan.inflatedBytes).toBeGreaterThan(docx.length);
  });

  it("refuses too many entries from the central directory, before inflating anything", async () => {
    const err = await scanDocxZip(await docxWithEntries(20), { maxEntries: 5, maxInflatedBytes: 10_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZipLimitError);
    expect((err as ZipLimitError).inflatedBytes).toBe(0);
  });
});
