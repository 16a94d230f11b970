import { finished } from "node:stream/promises";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError, badRequest } from "../../errors.ts";
import { uploadKnowledgeFile, type IncomingUpload } from "../../services/kb-files.ts";
import type { DocumentKind } from "../../services/kb-extract.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const auth = ["scenario_token"] as const;

const UploadAnswer = z.object({
  status: z.literal("success"),
  message: z.string(),
  article: z.object({ id: z.number().int(), title: z.string() }),
});

const responses = {
  200: { description: "The article created from the file", schema: UploadAnswer },
  ...quickchatErrorResponses,
  400: { description: "BAD_REQUEST: not multipart/form-data, or no file in the documented field", schema: quickchatErrorResponses[400].schema },
  422: {
    description:
      "VALIDATION_ERROR: the file is empty, too large, of another type, corrupt, truncated or encrypted, or its pages, text or decompressed size pass the limits",
    schema: quickchatErrorResponses[422].schema,
  },
};

/** The Quickchat group's multipart parser (the upload routes read their file from it). */
export async function setupFileUploads(app: FastifyInstance) {
  await app.register(import("@fastify/multipart"), { throwFileSizeLimit: false });
}

const upload = (field: string, accept: DocumentKind[], what: string): RouteDef => ({
  method: "POST",
  path: accept.length === 1 ? "/v1/api/knowledge_base/file_upload_api/pdf" : "/v1/api/knowledge_base/file_upload_api/",
  summary:
    `Upload ${what} as multipart/form-data in the field \`${field}\` (recognised by its content, not its name); ` +
    "its text becomes a published article. A missing field is a 400, a file that cannot be used a 422.",
  auth,
  rateLimit: quickchatLimit("quickchatHeavy"),
  responses,
  handler: (ctx, req) => uploadKnowledgeFile(ctx, { field, accept, read: (maxBytes) => readUpload(req, field, maxBytes) }),
});

export const fileUploadRoutes: RouteDef[] = [upload("pdf_file", ["pdf"], "a PDF"), upload("file", ["pdf", "docx"], "a PDF or DOCX file")];

const MAX_FILES = 5;
const MAX_FIELDS = 20;

/**
 * The first file in `field`, read up to maxBytes (busboy discards the rest, so memory stays
 * bounded); files in other fields are drained unread. The whole body is consumed before answering.
 */
async function readUpload(req: FastifyRequest, field: string, maxBytes: number): Promise<IncomingUpload> {
  if (!req.isMultipart()) throw badRequest(`Send the file as multipart/form-data in the field '${field}'`);
  let found: IncomingUpload | null = null;
  const seen: string[] = [];
  try {
    const parts = req.parts({ limits: { fileSize: maxBytes, files: MAX_FILES, fields: MAX_FIELDS, fieldSize: 64 * 1024, parts: MAX_FILES + MAX_FIELDS } });
    for await (const part of parts) {
      seen.push(part.fieldname);
      if (part.type !== "file") continue;
      if (part.fieldname !== field || found) {
        part.file.resume();
        await finished(part.file);
        continue;
      }
      const bytes = await part.toBuffer();
      found = { filename: part.filename, bytes: part.file.truncated ? Buffer.alloc(0) : bytes, tooLarge: part.file.truncated };
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    const code = (err as { code?: unknown }).code;
    if (code === "FST_FILES_LIMIT" || code === "FST_PARTS_LIMIT" || code === "FST_FIELDS_LIMIT") {
      throw badRequest(`Too many form fields or files (send one file in the field '${field}')`);
    }
    throw badRequest("Malformed multipart/form-data body");
  }
  if (!found) {
    const got = seen.length ? ` (the form has: ${[...new Set(seen)].slice(0, 10).join(", ")})` : "";
    throw badRequest(`Missing file: send it in the multipart field '${field}'${got}`);
  }
  return found;
}
