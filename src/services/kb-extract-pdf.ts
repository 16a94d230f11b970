import { getDocumentProxy } from "unpdf";
import { DocumentError, textTooLong, type ExtractLimits, type ExtractedDocument } from "./kb-extract-types.ts";

// PDF text through pdf.js (unpdf's build), with everything a text extraction does not need off:
// no eval (fonts are never compiled to functions), no font faces, no system fonts, no XFA. pdf.js
// gives positioned text runs; lines and paragraphs are rebuilt from their baselines.

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;

/** The spec puts %%EOF in the last 1024 bytes; a little slack for writers that append junk. */
const EOF_WINDOW = 2048;

export async function extractPdf(bytes: Buffer, limits: ExtractLimits): Promise<ExtractedDocument> {
  // pdf.js rebuilds a damaged cross-reference table and happily reads half a file, so a file
  // cut short is recognised by its missing end marker rather than by a parse error.
  if (!bytes.subarray(Math.max(0, bytes.length - EOF_WINDOW)).includes("%%EOF")) {
    throw new DocumentError("The PDF is truncated or corrupt: it has no end-of-file marker (%%EOF)");
  }
  const pdf = await open(bytes);
  try {
    if (pdf.numPages > limits.maxPages) {
      throw new DocumentError(`The PDF has too many pages (${pdf.numPages}; the limit is ${limits.maxPages})`);
    }
    const title = await documentTitle(pdf);
    const pages: string[] = [];
    let chars = 0;
    for (let n = 1; n <= pdf.numPages; n++) {
      const text = await pageText(pdf, n);
      chars += text.length;
      // Stopping here keeps a text bomb from growing the heap page after page.
      if (chars > limits.maxTextChars) throw textTooLong(limits.maxTextChars);
      if (text) pages.push(text);
    }
    return { title, text: pages.join("\n\n"), pages: pdf.numPages };
  } catch (err) {
    throw err instanceof DocumentError ? err : unreadable(err);
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}

async function open(bytes: Buffer): Promise<PdfDocument> {
  try {
    // pdf.js takes ownership of (and may detach) the array it is given: hand it a copy.
    return await getDocumentProxy(new Uint8Array(bytes), {
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      fontExtraProperties: false,
      enableXfa: false,
      isOffscreenCanvasSupported: false,
      isImageDecoderSupported: false,
      useWorkerFetch: false,
      useWasm: false,
      stopAtErrors: false,
      verbosity: 0,
    });
  } catch (err) {
    const name = (err as { name?: unknown }).name;
    if (name === "PasswordException") throw new DocumentError("The PDF is encrypted (password-protected): remove the password and upload it again");
    if (name === "InvalidPDFException") throw new DocumentError("The PDF is corrupt or truncated: its structure cannot be read");
    throw unreadable(err);
  }
}

function unreadable(err: unknown): DocumentError {
  const detail = (err instanceof Error ? err.message : String(err)).slice(0, 200);
  return new DocumentError(`The PDF cannot be read (${detail})`);
}

async function documentTitle(pdf: PdfDocument): Promise<string | null> {
  const meta = await pdf.getMetadata().catch(() => null);
  const info = (meta?.info ?? {}) as { Title?: unknown };
  if (typeof info.Title === "string" && info.Title.trim()) return info.Title;
  const xmp = meta?.metadata?.get("dc:title");
  return typeof xmp === "string" && xmp.trim() ? xmp : null;
}

interface Run {
  str: string;
  x: number;
  y: number;
  width: number;
  size: number;
  eol: boolean;
}

interface Line {
  text: string;
  x: number;
  y: number;
  size: number;
}

async function pageText(pdf: PdfDocument, n: number): Promise<string> {
  const page = await pdf.getPage(n);
  try {
    const content = await page.getTextContent();
    const runs: Run[] = [];
    for (const item of content.items) {
      if (!("str" in item)) continue;
      const [, , c, d, e, f] = item.transform as number[];
      runs.push({ str: item.str, x: e ?? 0, y: f ?? 0, width: item.width, size: Math.hypot(c ?? 0, d ?? 0) || item.height || 1, eol: item.hasEOL });
    }
    return paragraphs(lines(runs)).join("\n\n");
  } finally {
    page.cleanup();
  }
}

/** Runs in content order, cut into lines where pdf.js saw a line end or the baseline moves. */
function lines(runs: Run[]): Line[] {
  const out: Line[] = [];
  let line: Line | null = null;
  let prev: Run | null = null;
  for (const run of runs) {
    const sameLine = line && prev && !prev.eol && Math.abs(run.y - line.y) <= Math.max(run.size, line.size) * 0.5;
    if (!line || !sameLine) {
      if (line?.text.trim()) out.push(line);
      line = { text: run.str, x: run.x, y: run.y, size: run.size };
    } else {
      const gap = run.x - (prev!.x + prev!.width);
      const spaced = /\s$/.test(line.text) || /^\s/.test(run.str);
      line.text += !spaced && gap > run.size * 0.15 ? ` ${run.str}` : run.str;
      line.size = Math.max(line.size, run.size);
    }
    prev = run;
  }
  if (line?.text.trim()) out.push(line);
  return out;
}

/**
 * Lines joined into paragraphs. A new paragraph starts where the gap to the previous baseline is
 * clearly wider than the page's usual line spacing (a blank line), where the font size changes
 * (a heading), where text jumps back up (a new column or box), or at a first-line indent.
 */
function paragraphs(ls: Line[]): string[] {
  const gaps = ls.slice(1).map((l, i) => ls[i]!.y - l.y).filter((g) => g > 0);
  const usual = median(gaps);
  const out: string[] = [];
  let current = "";
  ls.forEach((l, i) => {
    const prev = ls[i - 1];
    if (prev && !startsParagraph(prev, l, usual)) {
      current = /[\p{L}]-$/u.test(current) && /^\p{Ll}/u.test(l.text.trim()) ? current + l.text.trim() : `${current} ${l.text.trim()}`;
      return;
    }
    if (current.trim()) out.push(current.trim());
    current = l.text.trim();
  });
  if (current.trim()) out.push(current.trim());
  return out;
}

function startsParagraph(prev: Line, l: Line, usual: number): boolean {
  const size = Math.max(prev.size, l.size);
  const gap = prev.y - l.y;
  if (gap < -size) return true;
  if (Math.abs(prev.size - l.size) > size * 0.2) return true;
  const threshold = usual > 0 ? Math.min(usual * 1.4, size * 2.2) : size * 1.7;
  if (gap > threshold) return true;
  return l.x > prev.x + size && /[.!?:]$/.test(prev.text.trim());
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
