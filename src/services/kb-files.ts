import { validationError } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import type { DocumentKind, ExtractRequest, ExtractResult } from "./kb-extract.ts";
import { ExtractionPool } from "./kb-extract-pool.ts";
import { createUploadedArticle } from "./kb-import-articles.ts";

// Knowledge-base file uploads: a PDF or DOCX becomes a published article. The transport reads the
// file (bounded by the size limit); the bytes are recognised and their text extracted in a worker
// thread with its own heap limit and a deadline, so a hostile file costs a bounded amount of
// memory and time and never blocks the server's event loop. A refused file creates nothing.

export interface IncomingUpload {
  filename: string | undefined;
  bytes: Buffer;
  /** The file was cut at the size limit: it is refused, and its bytes are not kept. */
  tooLarge: boolean;
}

export interface UploadAnswer {
  status: "success";
  message: string;
  article: { id: number; title: string };
}

export interface UploadRequest {
  /** The form field the file travels in (named in errors). */
  field: string;
  accept: DocumentKind[];
  /** Reads the file from the request, stopping at maxBytes; called once the caller may write. */
  read: (maxBytes: number) => Promise<IncomingUpload>;
}

export async function uploadKnowledgeFile(ctx: ServiceContext, req: UploadRequest): Promise<UploadAnswer> {
  const scenarioId = await scenarioAccess(ctx, undefined, "write");
  const limits = ctx.imports;
  const file = await req.read(limits.uploadMaxBytes);
  const refuse = (message: string) => validationError(`${req.field}: ${message}`, req.field);
  if (file.tooLarge) throw refuse(`The file is too large (the limit is ${formatBytes(limits.uploadMaxBytes)})`);
  if (file.bytes.length === 0) throw refuse("The file is empty");
  const result = await runExtraction({
    bytes: file.bytes,
    accept: req.accept,
    limits: {
      maxPages: limits.uploadMaxPages,
      maxTextChars: limits.maxTextChars,
      docxMaxInflatedBytes: limits.docxMaxInflatedBytes,
      docxMaxEntries: limits.docxMaxEntries,
    },
  });
  if (!result.ok) {
    ctx.log.info({ field: req.field, bytes: file.bytes.length, reason: result.message }, "knowledge-base upload refused");
    throw refuse(result.message);
  }
  const fileName = cleanFileName(file.filename);
  const title = result.title ?? (fileName || `document.${result.kind}`);
  const article = await createUploadedArticle(ctx, scenarioId, { title, content: result.text, fileName: fileName || undefined });
  return { status: "success", message: "File processed successfully.", article: { id: article.id, title: article.title } };
}

/** The name without any directories a client put in it, printable, at most the title's length. */
function cleanFileName(name: string | undefined): string {
  const base = (name ?? "").split(/[/\\]/).pop() ?? "";
  return base.replace(/[\x00-\x1f\x7f]/g, "").trim().slice(0, 1000);
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** One pool per process; its numbers are why uploads cannot exhaust the server (see kb-extract-pool.ts). */
const pool = new ExtractionPool({ size: 2, maxWaiting: 20, timeoutMs: 60_000, heapMb: 512, idleMs: 60_000, jobsPerWorker: 50 });

/** A document's text, extracted in a worker thread; limits hit are answered as refusals. */
export function runExtraction(req: ExtractRequest): Promise<ExtractResult> {
  return pool.run(req);
}
