import { fileTypeFromBuffer } from "file-type";
import { DocumentError, textTooLong, type ExtractLimits } from "./kb-extract-types.ts";

// Text extraction from uploaded documents. Everything here runs inside the extraction worker
// (kb-extract-worker.mjs), so a hostile file can exhaust only that worker's heap and time; the
// result crosses back as plain data, with a caller-facing message when the file was refused.

export type DocumentKind = "pdf" | "docx";

export interface ExtractRequest {
  bytes: Uint8Array;
  /** The kinds the route takes; anything else is refused before parsing. */
  accept: DocumentKind[];
  limits: ExtractLimits;
}

export type ExtractResult =
  | { ok: true; kind: DocumentKind; title: string | null; text: string; pages?: number }
  | { ok: false; message: string };

const NAMES: Record<DocumentKind, string> = { pdf: "a PDF document", docx: "a Word document (DOCX)" };

export async function extractDocument(req: ExtractRequest): Promise<ExtractResult> {
  try {
    const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
    const kind = await detectKind(bytes, req.accept);
    // Each extractor's library loads on first use only: a worker that reads PDFs never loads mammoth.
    const doc =
      kind === "pdf"
        ? await (await import("./kb-extract-pdf.ts")).extractPdf(bytes, req.limits)
        : await (await import("./kb-extract-docx.ts")).extractDocx(bytes, req.limits);
    const text = normalizeText(doc.text);
    if (!text) {
      throw new DocumentError(
        kind === "pdf" ? "No text could be extracted from the PDF (a scanned document? Text in images is not read)" : "The document contains no text",
      );
    }
    if (text.length > req.limits.maxTextChars) throw textTooLong(req.limits.maxTextChars);
    return { ok: true, kind, title: cleanTitle(doc.title), text, pages: doc.pages };
  } catch (err) {
    if (err instanceof DocumentError) return { ok: false, message: err.message };
    throw err;
  }
}

/**
 * What the bytes are, whatever the file is called or declared as: a PDF by its header, a DOCX by
 * its ZIP container (that it holds word/document.xml is checked while the ZIP is read).
 */
async function detectKind(bytes: Buffer, accept: DocumentKind[]): Promise<DocumentKind> {
  // A detector failure on malformed bytes means the same as no match.
  const type = await fileTypeFromBuffer(bytes).catch(() => undefined);
  const refuse = (what: string) => new DocumentError(`The file is ${what}, not ${accept.map((k) => NAMES[k]).join(" or ")}`);
  // Readers accept a PDF header anywhere in the first 1024 bytes (some writers put junk before it).
  if (type?.ext === "pdf" || (!type && bytes.subarray(0, 1024).includes("%PDF-"))) {
    if (accept.includes("pdf")) return "pdf";
    throw refuse(NAMES.pdf);
  }
  if (type?.ext === "docx" || type?.ext === "docm" || type?.ext === "zip") {
    if (accept.includes("docx")) return "docx";
    throw refuse(type.ext === "zip" ? "a ZIP archive" : NAMES.docx);
  }
  if (type?.ext === "cfb") {
    // Office encrypts a DOCX by wrapping it in an OLE compound file with these streams.
    const encrypted = bytes.includes(Buffer.from("EncryptedPackage", "utf16le")) || bytes.includes(Buffer.from("EncryptionInfo", "utf16le"));
    if (encrypted) throw new DocumentError("The document is encrypted (password-protected): remove the password and upload it again");
    throw refuse("a legacy Office document (.doc, .xls or .ppt)");
  }
  if (type) throw refuse(`of type ${type.mime}`);
  throw refuse(looksLikeText(bytes) ? "plain text" : "in an unrecognised format");
}

function looksLikeText(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 4096);
  return !/[\x00-\x08\x0e-\x1f]/.test(head.toString("latin1"));
}

/** Lines without stray spaces or control characters; paragraphs separated by exactly one blank line. */
export function normalizeText(raw: string): string {
  return (
    raw
      .normalize("NFC")
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\ufeff]/g, "")
      .replace(/\r\n?/g, "\n")
      .split("\n")
      .map((line) => line.replace(/[^\S\n]+/g, " ").trim())
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim()
  );
}

function cleanTitle(title: string | null | undefined): string | null {
  const t = normalizeText(title ?? "").replace(/\s+/g, " ");
  return t ? t.slice(0, 1000) : null;
}
