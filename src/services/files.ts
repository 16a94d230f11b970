import { createHash } from "node:crypto";
import type { Db } from "../db/client.ts";
import { notFound } from "../errors.ts";
import type { ServiceContext } from "./context.ts";

/** Image types Parley accepts for uploads, recognised by their magic bytes. */
export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

const startsWith = (bytes: Uint8Array, sig: readonly number[], at = 0) =>
  bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** What the bytes really are (never what a client claims), or null when they are no image we accept. */
export function sniffImageType(bytes: Uint8Array): ImageType | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(bytes, ascii("GIF87a")) || startsWith(bytes, ascii("GIF89a"))) return "image/gif";
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return "image/webp";
  return null;
}

export type StoredFileRow = NonNullable<Awaited<ReturnType<Db["storedFile"]["findUnique"]>>>;

/**
 * Stores bytes for a scenario inside the caller's transaction. The content type comes from the
 * bytes themselves, so what Parley serves is what the file is.
 */
export async function storeFile(tx: Pick<Db, "storedFile">, scenarioId: string, bytes: Uint8Array): Promise<StoredFileRow> {
  const data = Uint8Array.from(bytes);
  return tx.storedFile.create({
    data: {
      scenarioId,
      contentType: sniffImageType(data) ?? "application/octet-stream",
      size: data.byteLength,
      sha256: createHash("sha256").update(data).digest("hex"),
      data,
    },
  });
}

/** Removes files no longer referenced; ids that are already gone are ignored. */
export async function deleteFiles(tx: Pick<Db, "storedFile">, scenarioId: string, ids: (string | null | undefined)[]) {
  const wanted = ids.filter((id): id is string => !!id);
  if (wanted.length) await tx.storedFile.deleteMany({ where: { scenarioId, id: { in: wanted } } });
}

/**
 * A stored file by id, for the public GET /files/:id route. File ids are random UUIDs handed out
 * only in the URLs of the configuration that uses them (widget images are public by nature).
 */
export async function getFile(ctx: Pick<ServiceContext, "db">, id: string): Promise<StoredFileRow> {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const row = UUID.test(id) ? await ctx.db.storedFile.findUnique({ where: { id } }) : null;
  if (!row) throw notFound("File");
  return row;
}

/** The absolute URL Parley serves a file at, given the server's public base (scheme://host). */
export function fileUrl(publicBase: string, id: string): string {
  return `${publicBase.replace(/\/+$/, "")}/files/${id}`;
}

/** The id in a URL Parley made with fileUrl, whatever host it was made for. */
export function fileIdFromUrl(url: string): string | null {
  const m = /\/files\/([0-9a-f-]{36})$/i.exec(url);
  return m ? m[1]!.toLowerCase() : null;
}
