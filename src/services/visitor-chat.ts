import { isUniqueViolation } from "../db/sql.ts";
import { z } from "zod";
import { badRequest, conflict, notFound, validationError } from "../errors.ts";
import { requireWidgetKey } from "./access.ts";
import {
  acceptFiles,
  contentDisposition,
  discardAttachmentFiles,
  findAttachment,
  inlineAllowed,
  storeAttachmentFiles,
  type AttachmentLimits,
  type IncomingFile,
} from "./attachments.ts";
import { postVisitorMessage, startConversation } from "./chat.ts";
import { hashVisitorToken, visitorConversation } from "./conversation-access.ts";
import type { ServiceContext } from "./context.ts";
import type { ConversationRow } from "./conversation-view.ts";
import type { EventView } from "../events/live.ts";
import { parsePrechat } from "./lead-capture.ts";

// The visitor's side of a conversation with a site key (the widget): start one with a visitor
// token the widget keeps, read its messages, reply, attach and download files. The visitor token
// is the visitor's secret: only its SHA-256 is stored, and it names the conversation in URLs.

export const MESSAGE_MAX_CHARS = 10_000;
export const NAME_MAX_CHARS = 200;
export const URL_MAX_CHARS = 2048;
const EMAIL_MAX_CHARS = 254;
/** URL-safe (it travels in paths) and long enough not to be guessed. */
const VISITOR_TOKEN = /^[A-Za-z0-9._~-]{8,200}$/;

export const REQUIRED_MESSAGE = "Name, email, message, and visitor_token are required";
export const TOKEN_TAKEN_MESSAGE = "A conversation with this visitor token already exists";
const tooLong = () => validationError(`Message is too long (maximum ${MESSAGE_MAX_CHARS} characters)`, "message");

/** Characters as people count them (code points), not UTF-16 units. */
const length = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
const blank = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "");
const record = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export interface NewVisitorConversation {
  name: string;
  email: string;
  message: string;
  visitorToken: string;
  url: string | null;
}

/** The create-conversation body, checked in the documented order. */
export function parseNewConversation(body: unknown): NewVisitorConversation {
  const b = record(body);
  const fields = ["name", "email", "message", "visitor_token"] as const;
  if (fields.some((f) => blank(b[f]))) throw validationError(REQUIRED_MESSAGE);
  for (const f of fields) if (typeof b[f] !== "string") throw validationError(`${f} must be a string`, f);
  const name = (b.name as string).trim();
  const email = (b.email as string).trim();
  const message = b.message as string;
  const visitorToken = b.visitor_token as string;
  if (email.length > EMAIL_MAX_CHARS || !z.email().safeParse(email).success) throw validationError("Invalid email address", "email");
  if (length(message) > MESSAGE_MAX_CHARS) throw tooLong();
  if (length(name) > NAME_MAX_CHARS) throw validationError(`Name is too long (maximum ${NAME_MAX_CHARS} characters)`, "name");
  if (!VISITOR_TOKEN.test(visitorToken)) {
    throw validationError("visitor_token must be 8 to 200 characters: letters, digits, '-', '_', '.' or '~'", "visitor_token");
  }
  return { name, email, message, visitorToken, url: parseUrl(b.url) };
}

function parseUrl(v: unknown): string | null {
  if (v === undefined || v === null || v === "") return null;
  const invalid = () => validationError(`url must be an http(s) URL of at most ${URL_MAX_CHARS} characters`, "url");
  if (typeof v !== "string" || v.length > URL_MAX_CHARS) throw invalid();
  try {
    const u = new URL(v);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw invalid();
  } catch {
    throw invalid();
  }
  return v;
}

/**
 * Starts the visitor's conversation and answers its first message inline. The unique index on
 * (scenario, visitor token hash) decides between concurrent creates with the same token.
 */
export async function createVisitorConversation(ctx: ServiceContext, body: unknown): Promise<{ conversation_token: string; auto_reply: string }> {
  const { conversation, reply } = await startVisitorConversation(ctx, body);
  return { conversation_token: conversation.id, auto_reply: reply?.content ?? "" };
}

/** createVisitorConversation with everything it wrote (GraphQL answers more than the REST body). */
export async function startVisitorConversation(ctx: ServiceContext, body: unknown): Promise<Awaited<ReturnType<typeof startConversation>>> {
  const { scenarioId, workspaceId } = requireWidgetKey(ctx.principal);
  const input = parseNewConversation(body);
  const prechat = parsePrechat(record(body).prechat);
  const visitorTokenHash = hashVisitorToken(input.visitorToken);
  // No look-before-insert: the unique index decides, the same way for one request or many racing.
  const taken = () =>
    ctx.db.conversation.findUnique({ where: { scenarioId_visitorTokenHash: { scenarioId, visitorTokenHash } }, select: { id: true } });
  try {
    return await startConversation(
      ctx,
      {
        workspaceId,
        scenarioId,
        source: "widget",
        visitorName: input.name,
        visitorEmail: input.email,
        visitorPhone: prechat?.phone ?? null,
        prechat,
        visitorTokenHash,
        url: input.url,
        welcome: true,
      },
      { content: input.message },
      "inline",
    );
  } catch (err) {
    if (isUniqueViolation(err) && (await taken())) throw conflict(TOKEN_TAKEN_MESSAGE);
    throw err;
  }
}

export interface VisitorMessageView {
  direction: "inbound" | "outbound";
  body: string;
  timestamp: string;
  author: string;
  attachments?: { id: number; filename: string; content_type: string; size: number; url: string }[];
}

/** `since`: an ISO 8601 date-time with its offset (Z or ±hh:mm), any fraction of a second. */
export function parseSince(v: unknown): Date | null {
  if (v === undefined) return null;
  const bad = () => badRequest("since must be an ISO 8601 date-time with a time zone, e.g. 2025-01-15T10:30:00Z");
  if (typeof v !== "string" || !z.iso.datetime({ offset: true }).safeParse(v).success) throw bad();
  const d = new Date(v);
  // The pattern accepts 2025-02-30; the calendar does not.
  const [, y, mo, day] = /^(\d{4})-(\d{2})-(\d{2})/.exec(v)!;
  const probe = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(day)));
  if (Number.isNaN(d.getTime()) || probe.getUTCDate() !== Number(day) || probe.getUTCMonth() !== Number(mo) - 1) throw bad();
  return d;
}

export const attachmentPath = (visitorToken: string, ord: number, id: number) =>
  `/api/v1/chat/conversations/${encodeURIComponent(visitorToken)}/files/${ord}/${id}`;

/**
 * The conversation's messages in order (the greeting included), optionally only those created
 * strictly after `since`. Timestamps keep their milliseconds, so passing the last one seen as
 * `since` returns exactly what came after it.
 */
export async function listVisitorMessages(ctx: ServiceContext, visitorToken: string, query: unknown): Promise<VisitorMessageView[]> {
  const since = parseSince(record(query).since);
  const { conversation } = await visitorConversation(ctx, visitorToken);
  const [events, widget] = await Promise.all([
    ctx.db.conversationEvent.findMany({
      where: { conversationId: conversation.id, type: "message", ...(since ? { createdAt: { gt: since } } : {}) },
      orderBy: { ord: "asc" },
      include: { attachments: { orderBy: { id: "asc" } }, member: { select: { name: true } } },
    }),
    ctx.db.widgetConfiguration.findUnique({ where: { scenarioId: conversation.scenarioId }, select: { header: true } }),
  ]);
  const assistant = widget?.header.trim() || "Support";
  return events.map((e) => {
    const view: VisitorMessageView = {
      direction: e.author === "visitor" ? "inbound" : "outbound",
      body: e.content,
      timestamp: e.createdAt.toISOString(),
      author:
        e.author === "visitor"
          ? conversation.visitorName || "Visitor"
          : e.author === "human_operator"
            ? e.member?.name || assistant
            : assistant,
    };
    if (e.attachments.length) {
      view.attachments = e.attachments.map((a) => ({
        id: a.id,
        filename: a.filename,
        content_type: a.contentType,
        size: a.size,
        url: attachmentPath(visitorToken, e.ord, a.id),
      }));
    }
    return view;
  });
}

export interface VisitorReply {
  message: unknown;
  files: IncomingFile[];
}

/** A reply's text: required unless files come with it. */
export function parseReplyMessage(v: unknown, hasFiles: boolean): string {
  if (blank(v)) {
    if (hasFiles && (v === undefined || v === null || typeof v === "string")) return "";
    throw validationError("Message is required", "message");
  }
  if (typeof v !== "string") throw validationError("Message must be a string", "message");
  if (length(v) > MESSAGE_MAX_CHARS) throw tooLong();
  return v;
}

/**
 * The visitor's reply, with its files: reopens a resolved or terminated conversation; the
 * assistant answers in a durable job (the answer appears in the messages shortly after). `read`
 * is called only once the conversation is known, so an upload to nowhere is not read.
 */
export async function sendVisitorReply(
  ctx: ServiceContext,
  visitorToken: string,
  read: () => Promise<VisitorReply>,
  limits: AttachmentLimits,
): Promise<{ status: "ok" }> {
  await storeVisitorReply(ctx, visitorToken, read, limits);
  return { status: "ok" };
}

/** sendVisitorReply with what it wrote: the stored message (GraphQL answers it). */
export async function storeVisitorReply(
  ctx: ServiceContext,
  visitorToken: string,
  read: () => Promise<VisitorReply>,
  limits: AttachmentLimits,
): Promise<{ conversation: ConversationRow; message: EventView }> {
  const { conversation, workspaceId } = await visitorConversation(ctx, visitorToken);
  const input = await read();
  const content = parseReplyMessage(input.message, input.files.length > 0);
  const files = await acceptFiles(input.files, limits);
  const attachments = await storeAttachmentFiles(ctx.db, conversation.scenarioId, files);
  try {
    const posted = await postVisitorMessage(ctx, workspaceId, conversation.id, { content, attachments }, { mode: "job", reopen: true });
    return { conversation: posted.conversation, message: posted.message };
  } catch (err) {
    await discardAttachmentFiles(ctx.db, conversation.scenarioId, attachments.map((a) => a.fileId)).catch((e: unknown) =>
      ctx.log.error({ err: e, conversationId: conversation.id }, "could not remove the files of a failed message"),
    );
    throw err;
  }
}

const POSITIVE_INT = /^[1-9][0-9]{0,8}$/;

/**
 * A file attached to one of the visitor's messages. Ids that are no positive integers name no
 * file (404), like ids of another message, conversation or scenario.
 */
export async function getVisitorAttachment(
  ctx: ServiceContext,
  visitorToken: string,
  activityId: string,
  id: string,
  query: unknown,
): Promise<{ bytes: Buffer; contentType: string; contentDisposition: string; disposition: "inline" | "attachment" }> {
  const asked = record(query).disposition;
  if (asked !== undefined && asked !== "inline" && asked !== "attachment") {
    throw badRequest('disposition must be "inline" or "attachment"');
  }
  const { conversation } = await visitorConversation(ctx, visitorToken);
  if (!POSITIVE_INT.test(activityId) || !POSITIVE_INT.test(id)) throw notFound("File");
  const row = await findAttachment(ctx.db, conversation.id, conversation.scenarioId, Number(activityId), Number(id));
  const disposition = asked === "inline" && inlineAllowed(row.contentType) ? "inline" : "attachment";
  return {
    bytes: Buffer.from(row.file.data),
    contentType: row.contentType,
    contentDisposition: contentDisposition(disposition, row.filename),
    disposition,
  };
}
