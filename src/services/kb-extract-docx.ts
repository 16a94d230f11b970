import mammoth from "mammoth";
import yauzl from "yauzl";
import { DocumentError, type ExtractLimits, type ExtractedDocument } from "./kb-extract-types.ts";

// A DOCX is a ZIP, and a ZIP can inflate to far more than it weighs. Before mammoth (which
// inflates whatever it is given) sees the file, every entry is inflated once here, counting bytes
// and keeping none: the entry count is refused from the central directory, and the running total
// stops the scan as soon as it passes the limit, so a bomb costs at most the limit in CPU and one
// inflate chunk in memory. mammoth then reads a file known to inflate to less than the limit.

export interface ZipLimits {
  maxEntries: number;
  maxInflatedBytes: number;
}

export interface ZipScan {
  entries: number;
  /** Bytes inflated in all (at most the limit plus one chunk when the scan stopped at it). */
  inflatedBytes: number;
  hasDocument: boolean;
  /** docProps/core.xml (the title is there), when present and small. */
  coreXml: string | null;
}

/** The scan stopped at a limit; inflatedBytes says how far it had gone. */
export class ZipLimitError extends DocumentError {
  constructor(
    message: string,
    readonly inflatedBytes: number,
  ) {
    super(message);
  }
}

const MAIN_PART = "word/document.xml";
const CORE_PART = "docProps/core.xml";
const CORE_MAX_BYTES = 256 * 1024;

export async function scanDocxZip(bytes: Buffer, limits: ZipLimits): Promise<ZipScan> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, decodeStrings: true });
  } catch (err) {
    throw corrupt(err);
  }
  if (zip.entryCount > limits.maxEntries) {
    zip.close();
    throw new ZipLimitError(`The DOCX has too many entries (${zip.entryCount}; the limit is ${limits.maxEntries})`, 0);
  }
  const scan: ZipScan = { entries: 0, inflatedBytes: 0, hasDocument: false, coreXml: null };
  try {
    for await (const entry of zip.eachEntry()) {
      scan.entries++;
      if (entry.fileName.endsWith("/")) continue;
      if (entry.isEncrypted()) throw new DocumentError("The document is encrypted (password-protected): remove the password and upload it again");
      if (entry.fileName === MAIN_PART) scan.hasDocument = true;
      const keep: Buffer[] | null = entry.fileName === CORE_PART && entry.uncompressedSize <= CORE_MAX_BYTES ? [] : null;
      const stream = await zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        scan.inflatedBytes += chunk.length;
        if (scan.inflatedBytes > limits.maxInflatedBytes) {
          throw new ZipLimitError(`The DOCX is too large when decompressed (more than ${limits.maxInflatedBytes} bytes)`, scan.inflatedBytes);
        }
        keep?.push(chunk);
      }
      if (keep) scan.coreXml = Buffer.concat(keep).toString("utf8");
    }
  } catch (err) {
    throw err instanceof DocumentError ? err : corrupt(err);
  } finally {
    zip.close();
  }
  return scan;
}

export async function extractDocx(bytes: Buffer, limits: ExtractLimits): Promise<ExtractedDocument> {
  const scan = await scanDocxZip(bytes, { maxEntries: limits.docxMaxEntries, maxInflatedBytes: limits.docxMaxInflatedBytes });
  if (!scan.hasDocument) throw new DocumentError(`The file is a ZIP archive without ${MAIN_PART}: not a DOCX document (or a corrupt one)`);
  let raw: string;
  try {
    raw = (await mammoth.extractRawText({ buffer: bytes })).value;
  } catch (err) {
    throw new DocumentError(`The DOCX file is corrupt and cannot be read (${errorText(err)})`);
  }
  return { title: scan.coreXml ? coreTitle(scan.coreXml) : null, text: raw };
}

/** dc:title from the core properties. */
export function coreTitle(xml: string): string | null {
  const m = /<(?:[\w.-]+:)?title(?:\s[^>]*)?>([\s\S]*?)<\/(?:[\w.-]+:)?title>/.exec(xml);
  return m ? decodeXmlText(m[1]!) : null;
}

function decodeXmlText(s: string): string {
  return s
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, "$1")
    .replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
      const lower = e.toLowerCase();
      if (lower.startsWith("#")) {
        const code = lower.startsWith("#x") ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "";
      }
      return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[lower] ?? "";
    });
}

function corrupt(err: unknown): DocumentError {
  return new DocumentError(`The DOCX file is corrupt or truncated: not a readable ZIP archive (${errorText(err)})`);
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
