import { constants as zlibConstants, crc32, deflateRawSync } from "node:zlib";
import { Document, HeadingLevel, Packer, Paragraph, TextRun } from "docx";
import { PDFDocument, StandardFonts } from "pdf-lib";
import yazl from "yazl";

/**
 * Real documents for upload tests, made by the libraries people make them with:
 *   await pdfFile({ title: "Handbook", pages: [["First paragraph…", "Second…"], ["Page two…"]] })
 *   await docxFile({ title: "Guide", blocks: [{ heading: "Intro" }, "A paragraph."] })
 * and the broken ones: encrypted PDFs, ZIPs that are not DOCX, zip bombs.
 */

export interface PdfSpec {
  /** The document information dictionary's Title. */
  title?: string;
  /** Paragraphs, page by page; long paragraphs wrap over several lines, and a full page flows onto the next. */
  pages: string[][];
  fontSize?: number;
}

/** A multi-page PDF with wrapped lines, a blank line between paragraphs. */
export async function pdfFile({ title, pages, fontSize = 12 }: PdfSpec): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  if (title !== undefined) doc.setTitle(title);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const width = 612;
  const margin = 72;
  const lineHeight = fontSize * 1.25;
  for (const paragraphs of pages) {
    let page = doc.addPage([width, 792]);
    let y = 792 - margin;
    for (const paragraph of paragraphs) {
      for (const line of wrap(paragraph, (s) => font.widthOfTextAtSize(s, fontSize), width - 2 * margin)) {
        // Text below the page's edge would be invisible (and pdf.js drops it): flow onto a new page.
        if (y < margin) {
          page = doc.addPage([width, 792]);
          y = 792 - margin;
        }
        page.drawText(line, { x: margin, y, size: fontSize, font });
        y -= lineHeight;
      }
      y -= lineHeight;
    }
  }
  return doc.save();
}

function wrap(text: string, measure: (s: string) => number, maxWidth: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

export type DocxBlock = string | { heading: string };

/** A DOCX with the title in its core properties, headings and paragraphs. */
export async function docxFile({ title, blocks }: { title?: string; blocks: DocxBlock[] }): Promise<Buffer> {
  const children = blocks.map((b) =>
    typeof b === "string"
      ? new Paragraph({ children: [new TextRun(b)] })
      : new Paragraph({ text: b.heading, heading: HeadingLevel.HEADING_1 }),
  );
  const doc = new Document({ title, creator: "Parley tests", sections: [{ children }] });
  return Packer.toBuffer(doc);
}

/** A one-page PDF whose trailer names an /Encrypt dictionary (standard handler, RC4): opening it needs a password. */
export function encryptedPdf(): Buffer {
  const hex32 = (seed: number) => Buffer.alloc(32, seed).toString("hex");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
    "<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 720 Td (Secret text) Tj ET\nendstream",
    `<< /Filter /Standard /V 1 /R 2 /O <${hex32(0x4f)}> /U <${hex32(0x55)}> /P -44 >>`,
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(body, "latin1"));
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body, "latin1");
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, "0")} 00000 n \n`;
  const id = Buffer.alloc(16, 0x49).toString("hex");
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Encrypt 5 0 R /ID [<${id}> <${id}>] >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, "latin1");
}

/** A ZIP of the given entries (deflated). */
export function zipFile(entries: { name: string; data: string | Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.data), e.name);
  zip.end();
  return collect(zip.outputStream);
}

/**
 * A DOCX-looking zip bomb: [Content_Types].xml, a tiny word/document.xml, and one entry that
 * inflates to `inflatedMiB` MiB of zeros. The deflate stream is assembled from one compressed
 * MiB repeated (each copy ends in a full flush, so copies chain), so neither the test nor the
 * builder ever holds the zeros: 1 GiB comes to about 1 MiB, in well under a second.
 */
export function docxZipBomb(inflatedMiB: number): Buffer {
  const mib = Buffer.alloc(1024 * 1024);
  const copy = deflateRawSync(mib, { finishFlush: zlibConstants.Z_FULL_FLUSH });
  let crc = 0;
  for (let i = 0; i < inflatedMiB; i++) crc = crc32(mib, crc);
  const emptyFinalBlock = Buffer.from([0x03, 0x00]);
  const bomb = { name: "word/media/zeros.bin", method: 8, data: Buffer.concat([...Array(inflatedMiB).fill(copy), emptyFinalBlock]), crc, size: inflatedMiB * mib.length };
  return rawZip([storedEntry("[Content_Types].xml", CONTENT_TYPES), storedEntry("word/document.xml", minimalDocumentXml("Bomb")), bomb]);
}

interface RawEntry {
  name: string;
  /** 0 stored, 8 deflated (data already compressed). */
  method: number;
  data: Buffer;
  crc: number;
  /** Uncompressed size. */
  size: number;
}

function storedEntry(name: string, text: string): RawEntry {
  const data = Buffer.from(text);
  return { name, method: 0, data, crc: crc32(data), size: data.length };
}

/** A ZIP written field by field (local headers, central directory, end record), for sizes a writer would not produce quickly. */
function rawZip(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(e.method, 10);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(e.crc >>> 0, 16);
    cd.writeUInt32LE(e.data.length, 20);
    cd.writeUInt32LE(e.size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, e.data);
    central.push(cd, name);
    offset += local.length + name.length + e.data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

/** A valid minimal DOCX with `extra` more (empty) entries. */
export function docxWithEntries(extra: number): Promise<Buffer> {
  const entries = [
    { name: "[Content_Types].xml", data: CONTENT_TYPES },
    { name: "word/document.xml", data: minimalDocumentXml("Many entries") },
  ];
  for (let i = 0; i < extra; i++) entries.push({ name: `customXml/item${i}.xml`, data: "<a/>" });
  return zipFile(entries);
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export const CONTENT_TYPES =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
  "</Types>";

export function minimalDocumentXml(text: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">' +
    `<w:body><w:p><w:r><w:t>${text}</w:t></w:r></w:p></w:body></w:document>`
  );
}

/**
 * An OLE compound file (MS-CFB v3: header, one FAT sector, one directory sector) whose root holds
 * empty streams with these names. Office saves a password-protected DOCX as one of these with
 * EncryptionInfo and EncryptedPackage streams; a legacy .doc has a WordDocument stream.
 */
export function oleContainer(streams: string[]): Buffer {
  const ENDOFCHAIN = 0xfffffffe;
  const header = Buffer.alloc(512, 0);
  Buffer.from("d0cf11e0a1b11ae1", "hex").copy(header, 0);
  header.writeUInt16LE(0x003e, 24);
  header.writeUInt16LE(3, 26);
  header.writeUInt16LE(0xfffe, 28);
  header.writeUInt16LE(9, 30);
  header.writeUInt16LE(6, 32);
  header.writeUInt32LE(1, 44); // FAT sectors
  header.writeUInt32LE(1, 48); // the directory starts in sector 1
  header.writeUInt32LE(4096, 56);
  header.writeUInt32LE(ENDOFCHAIN, 60);
  header.writeUInt32LE(ENDOFCHAIN, 68);
  header.fill(0xff, 76);
  header.writeUInt32LE(0, 76); // the FAT is sector 0
  const fat = Buffer.alloc(512, 0xff);
  fat.writeUInt32LE(0xfffffffd, 0);
  fat.writeUInt32LE(ENDOFCHAIN, 4);
  const dir = Buffer.alloc(512, 0);
  const names = ["Root Entry", ...streams].slice(0, 4);
  names.forEach((name, i) => {
    const at = i * 128;
    const utf16 = Buffer.from(`${name}\0`, "utf16le");
    utf16.copy(dir, at);
    dir.writeUInt16LE(utf16.length, at + 64);
    dir.writeUInt8(i === 0 ? 5 : 2, at + 66);
    dir.writeUInt8(1, at + 67);
    dir.writeUInt32LE(0xffffffff, at + 68); // left sibling
    dir.writeUInt32LE(i > 0 && i + 1 < names.length ? i + 1 : 0xffffffff, at + 72); // right sibling
    dir.writeUInt32LE(i === 0 && names.length > 1 ? 1 : 0xffffffff, at + 76); // child
    dir.writeUInt32LE(ENDOFCHAIN, at + 116);
  });
  return Buffer.concat([header, fat, dir]);
}
