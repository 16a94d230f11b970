import { createHash } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import type { Db } from "../db/client.ts";
import { notFound, validationError } from "../errors.ts";
import type { NewEvent } from "./conversation-log.ts";

// Files visitors attach to their messages. What a file is comes from its bytes (magic numbers),
// never from the name or type the browser claims: Parley only stores and serves types it can
// vouch for, and serves them with nosniff.

export interface AttachmentLimits {
  maxFileBytes: number;
  maxFiles: number;
}

export const DEFAULT_ATTACHMENT_LIMITS: AttachmentLimits = { maxFileBytes: 10 * 1024 * 1024, maxFiles: 5 };

/** A file as it arrived; `tooLarge` when the reader stopped at the limit (the bytes are then partial). */
export interface IncomingFile {
  filename: string;
  bytes: Buffer;
  tooLarge: boolean;
}

/** A validated file, ready to store. */
export interface AcceptedFile {
  filename: string;
  contentType: string;
  bytes: Buffer;
}

const BINARY_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"]);
const TEXT_EXTENSIONS = new Set(["txt", "text", "log", "md", "csv"]);
/** Browsers may render these in the page (disposition=inline); anything else is always a download. */
const INLINE_TYPES = new Set([...BINARY_TYPES, "text/plain"]);

const formatSize = (n: number) =>
  n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MB` : n % 1024 === 0 ? `${n / 1024} KB` : `${n} bytes`;

export const tooManyFiles = (limits: AttachmentLimits) => validationError(`Too many files (maximum ${limits.maxFiles})`, "files");
export const fileTooLarge = (limits: AttachmentLimits) =>
  validationError(`File too large (maximum ${formatSize(limits.maxFileBytes)})`, "files");
export const fileTypeNotAllowed = () => validationError("File type not allowed", "files");

/** Plain text: valid UTF-8 without control characters other than tab, newlines and form feed. */
function isPlainText(bytes: Buffer): boolean {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  return !/[\u0000-\u0008\u000B\u000E-\u001F\u007F]/.test(text);
}

/** The name shown and sent back: no path, no control characters, at most 255 characters. */
export function cleanFilename(name: string, fallbackExt: string): string {
  const base = (name.split(/[\\/]/).pop() ?? "").replace(/[\u0000-\u001F\u007F]/g, "").trim();
  const chars = [...base];
  const cut = chars.length > 255 ? chars.slice(chars.length - 255).join("") : base;
  return cut && cut !== "." && cut !== ".." ? cut : `file.${fallbackExt}`;
}

/** What the bytes are, when Parley accepts them: images, PDF, or plain text named as such. */
export async function detectContentType(filename: string, bytes: Buffer): Promise<string | null> {
  const sniffed = await fileTypeFromBuffer(bytes);
  if (sniffed) return BINARY_TYPES.has(sniffed.mime) ? sniffed.mime : null;
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase();
  return ext && TEXT_EXTENSIONS.has(ext) && isPlainText(bytes) ? "text/plain" : null;
}

/** Checks count, size and type of a message's files; throws the first problem as a 422. */
export async function acceptFiles(files: IncomingFile[], limits: AttachmentLimits): Promise<AcceptedFile[]> {
  if (files.length > limits.maxFiles) throw tooManyFiles(limits);
  const accepted: AcceptedFile[] = [];
  for (const f of files) {
    if (f.tooLarge || f.bytes.byteLength > limits.maxFileBytes) throw fileTooLarge(limits);
    if (f.bytes.byteLength === 0) throw validationError("File is empty", "files");
    const contentType = await detectContentType(f.filename, f.bytes);
    if (!contentType) throw fileTypeNotAllowed();
    const ext = contentType === "text/plain" ? "txt" : contentType.split("/")[1]!;
    accepted.push({ filename: cleanFilename(f.filename, ext), contentType, bytes: f.bytes });
  }
  return accepted;
}

/** Stores validated files for a scenario (never public: served only through their conversation). */
export async function storeAttachmentFiles(
  db: Pick<Db, "$transaction" | "storedFile">,
  scenarioId: string,
  files: AcceptedFile[],
): Promise<NonNullable<NewEvent["attachments"]>> {
  if (!files.length) return [];
  const rows = await db.$transaction(
    files.map((f) =>
      db.storedFile.create({
        data: {
          scenarioId,
          purpose: "attachment",
          contentType: f.contentType,
          size: f.bytes.byteLength,
          sha256: createHash("sha256").update(f.bytes).digest("hex"),
          data: Uint8Array.from(f.bytes),
        },
        select: { id: true },
      }),
    ),
  );
  return rows.map((r, i) => ({ fileId: r.id, filename: files[i]!.filename, contentType: files[i]!.contentType, size: files[i]!.bytes.byteLength }));
}

/** Removes stored files whose message could not be written. */
export async function discardAttachmentFiles(db: Pick<Db, "storedFile">, scenarioId: string, fileIds: string[]) {
  if (fileIds.length) await db.storedFile.deleteMany({ where: { scenarioId, purpose: "attachment", id: { in: fileIds } } });
}

/** A file attached to message `ord` of a conversation, with its bytes. */
export async function findAttachment(db: Db, conversationId: string, scenarioId: string, ord: number, id: number) {
  const row = await db.messageAttachment.findFirst({
    where: { id, event: { conversationId, ord, type: "message" } },
    include: { file: true },
  });
  if (!row || row.file.scenarioId !== scenarioId || row.file.purpose !== "attachment") throw notFound("File");
  return row;
}

/** Whether a stored type may be shown in the browser (disposition=inline). */
export const inlineAllowed = (contentType: string) => INLINE_TYPES.has(contentType);

/** Content-Disposition with an ASCII fallback and the exact name in RFC 5987 filename*. */
export function contentDisposition(disposition: "inline" | "attachment", filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7E]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return fallback === filename && !/[%]/.test(filename)
    ? `${disposition}; filename="${fallback}"`
    : `${disposition}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
