import type { FastifyRequest } from "fastify";
import { AppError, badRequest, validationError } from "../../errors.ts";
import { tooManyFiles, type AttachmentLimits, type IncomingFile } from "../../services/attachments.ts";
import type { VisitorReply } from "../../services/visitor-chat.ts";

// Reads a multipart reply (a `message` field and files under any field name, e.g. files[]) with
// bounded memory: busboy stops each file at the size limit and refuses files past the count, so
// at most maxFiles × maxFileBytes are ever held. The checks themselves are the service's.

/** Enough bytes for 10,000 characters of any script; a longer field is cut and then too long. */
const FIELD_BYTES = 64 * 1024;
const MAX_FIELDS = 20;

export async function readReplyForm(req: FastifyRequest, limits: AttachmentLimits): Promise<VisitorReply> {
  const files: IncomingFile[] = [];
  let message: unknown;
  let messages = 0;
  try {
    const parts = req.parts({
      limits: {
        fileSize: limits.maxFileBytes,
        files: limits.maxFiles,
        fields: MAX_FIELDS,
        fieldSize: FIELD_BYTES,
        parts: limits.maxFiles + MAX_FIELDS,
      },
    });
    for await (const part of parts) {
      if (part.type === "file") {
        const bytes = await part.toBuffer();
        const tooLarge = part.file.truncated;
        files.push({ filename: part.filename ?? "", bytes: tooLarge ? Buffer.alloc(0) : bytes, tooLarge });
      } else if (part.fieldname === "message") {
        messages++;
        message = part.value;
      }
    }
  } catch (err) {
    throw formError(err, limits);
  }
  // Checked once the body is read: answering mid-upload would leave the rest of it unread.
  if (messages > 1) throw validationError("Send one message field", "message");
  return { message, files };
}

function formError(err: unknown, limits: AttachmentLimits): AppError {
  if (err instanceof AppError) return err;
  switch ((err as { code?: unknown }).code) {
    case "FST_FILES_LIMIT":
      return tooManyFiles(limits);
    case "FST_PARTS_LIMIT":
    case "FST_FIELDS_LIMIT":
      return validationError(`Too many form fields (maximum ${MAX_FIELDS} besides the files)`);
  }
  return badRequest("Malformed multipart/form-data body");
}
