import { z } from "zod";
import { isUniqueViolation } from "../db/sql.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import type { ServiceContext } from "./context.ts";
import type { ConversationWindow, NewConversation } from "./conversation-log.ts";
import type { ConversationRow } from "./conversation-view.ts";
import { dedupeKeyOf, EmailInput, isPhoneNumber, NAME_MAX, PhoneInput } from "./leads-input.ts";
import { initialStage, leadStagesOf } from "./leads-stages.ts";
import { LEAD_INCLUDE, recordLeadCreated, recordLeadUpdated, type LeadRow, type LeadSource, type Tx } from "./leads-view.ts";
import { parseInput } from "./validation.ts";

// Leads captured from conversations: the site-key create call's name and email (and the pre-chat
// form's fields when the widget sends them), and an email address or phone number the visitor
// types. The chat path runs at hundreds of messages a second, so a message without anything that
// looks like an address or a number costs two regex tests and nothing else; only a hit writes.
//
// One person, one lead: a conversation already linked to a lead adds to that lead; otherwise the
// workspace's lead with the same email (or, for leads without email, phone) gets the conversation;
// otherwise a new lead starts in the pipeline's first stage. Captured details fill empty fields and
// never overwrite what an operator entered.

/** The pre-chat form's fields, as the widget sends them with the create call (`prechat`). */
export const PrechatFields = z
  .object(
    {
      name: z.string({ error: "must be a string" }).trim().max(NAME_MAX, `must be at most ${NAME_MAX} characters`).nullish(),
      email: EmailInput.nullish(),
      phone: PhoneInput.nullish(),
      company: z.string({ error: "must be a string" }).trim().max(NAME_MAX, `must be at most ${NAME_MAX} characters`).nullish(),
    },
    { error: "prechat must be an object" },
  )
  // Custom form fields are the widget's business: kept out of the lead, not refused.
  .loose();
export type PrechatFields = z.output<typeof PrechatFields>;

export function parsePrechat(v: unknown): PrechatFields | null {
  if (v === undefined || v === null) return null;
  return parseInput(z.object({ prechat: PrechatFields }), { prechat: v }).prechat;
}

export interface CapturedContact {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  company?: string | null;
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;
/** A run of digits with phone separators; validated further by phoneIn. */
const PHONE = /(?:\+|\b)\d[\d ().\-/]{5,22}\d\b/g;
const DATE_LIKE = /^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$/;
const PHONE_WORDS = /\b(phone|call|tel|mobile|cell|whats ?app|reach me|text me)\b/i;

/**
 * A phone number in free text. A bare run of digits (an order or invoice number) counts only when
 * the message talks about phoning; formatted numbers (+…, groups) count on their own; dates never.
 */
export function phoneIn(text: string): string | null {
  for (const m of text.matchAll(PHONE)) {
    const candidate = m[0].trim();
    if (DATE_LIKE.test(candidate) || !isPhoneNumber(candidate)) continue;
    const formatted = candidate.startsWith("+") || /[ ().\-/]/.test(candidate);
    if (formatted || PHONE_WORDS.test(text)) return candidate;
  }
  return null;
}

export function emailIn(text: string): string | null {
  const m = EMAIL.exec(text);
  if (!m) return null;
  const email = m[0].replace(/[.]+$/, "");
  return z.email().safeParse(email).success ? email : null;
}

/** The cheap test every visitor message passes through: could it hold contact details at all? */
const MAYBE_CONTACT = /@|\d[\d ().\-/]{5,}\d/;

/**
 * After the responder's window is loaded (chat.ts answerAndAnalyze): the visitor messages nobody
 * answered yet, checked for an email address or phone number. Nothing but a regex unless one is there.
 */
export async function captureTypedContact(ctx: ServiceContext, window: ConversationWindow, workspaceId?: string): Promise<void> {
  const { messages, conversation } = window;
  let email: string | null = null;
  let phone: string | null = null;
  for (let i = messages.length - 1; i >= 0 && messages[i]!.author === "visitor"; i--) {
    const text = messages[i]!.content;
    if (!MAYBE_CONTACT.test(text)) continue;
    email ??= emailIn(text);
    phone ??= phoneIn(text);
  }
  if (!email && !phone) return;
  try {
    const ws = workspaceId ?? (await ctx.loaders.scenario.load(conversation.scenarioId))?.workspaceId;
    if (!ws) return;
    await captureLead(ctx, { workspaceId: ws, conversation, source: "typed", contact: { name: conversation.visitorName, email, phone } });
  } catch (err) {
    // A lead is worth less than the visitor's answer: log, and let the reply go out.
    ctx.log.error({ err, conversationId: conversation.id }, "lead capture from a visitor message failed");
  }
}

/**
 * After a conversation with visitor details is created (chat.ts startConversation): the site-key
 * call's name and email, with the pre-chat form's fields when the widget sent them.
 */
export async function captureStartedLead(
  ctx: ServiceContext,
  input: NewConversation & { workspaceId: string; prechat?: PrechatFields | null },
  conversation: ConversationRow,
): Promise<void> {
  const prechat = input.prechat ?? null;
  const contact: CapturedContact = {
    name: prechat?.name || input.visitorName,
    email: prechat?.email || input.visitorEmail,
    phone: prechat?.phone || input.visitorPhone,
    company: prechat?.company,
  };
  if (!contact.email && !contact.phone) return;
  try {
    await captureLead(ctx, { workspaceId: input.workspaceId, conversation, source: prechat ? "prechat" : "site_key", contact });
  } catch (err) {
    ctx.log.error({ err, conversationId: conversation.id }, "lead capture from a new conversation failed");
  }
}

export interface Capture {
  workspaceId: string;
  conversation: Pick<ConversationRow, "id" | "scenarioId">;
  source: LeadSource;
  contact: CapturedContact;
}

/** Creates or completes the conversation's lead; answers it (null without an email or phone). */
export async function captureLead(ctx: ServiceContext, capture: Capture): Promise<LeadRow | null> {
  const email = capture.contact.email?.trim() || null;
  const phone = capture.contact.phone?.trim() || null;
  if (!email && !phone) return null;
  const stages = await leadStagesOf(ctx.db, capture.workspaceId);
  // Two captures of one new person at once: the loser of the unique key finds the winner's lead.
  for (let attempt = 0; ; attempt++) {
    try {
      const { row, events } = await ctx.db.$transaction((tx) => captureIn(ctx, tx, capture, { email, phone }, initialStage(stages)));
      ctx.events.publish(events);
      return row;
    } catch (err) {
      if (attempt < 2 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}

const emailKey = (email: string | null) => (email ? dedupeKeyOf(email, null) : null);
const phoneKey = (phone: string | null) => (phone ? dedupeKeyOf(null, phone) : null);

async function captureIn(
  ctx: ServiceContext,
  tx: Tx,
  { workspaceId, conversation, source, contact }: Capture,
  { email, phone }: { email: string | null; phone: string | null },
  stage: string,
): Promise<{ row: LeadRow | null; events: DomainEventRecord[] }> {
  const byKey = (key: string | null) => (key ? tx.lead.findFirst({ where: { workspaceId, dedupeKey: key }, include: LEAD_INCLUDE }) : null);
  const linked = await tx.lead.findFirst({ where: { workspaceId, conversations: { some: { conversationId: conversation.id } } }, include: LEAD_INCLUDE });
  const byEmail = await byKey(emailKey(email));
  const target = linked ?? byEmail ?? (await byKey(phoneKey(phone)));
  const name = contact.name?.trim() || null;
  const company = contact.company?.trim() || null;
  if (!target) {
    const row = await tx.lead.create({
      data: {
        workspaceId,
        scenarioId: conversation.scenarioId,
        name,
        email,
        phone,
        company,
        stage,
        tags: [],
        source,
        dedupeKey: dedupeKeyOf(email, phone),
        conversations: { create: { conversationId: conversation.id } },
      },
      include: LEAD_INCLUDE,
    });
    return { row, events: await recordLeadCreated(ctx, tx, row, null) };
  }
  const data: Record<string, unknown> = {};
  if (!target.name && name) data.name = name;
  if (!target.company && company) data.company = company;
  if (!target.phone && phone) data.phone = phone;
  // Another lead already has this address: it stays theirs (merging leads is an operator's call).
  if (!target.email && email && (!byEmail || byEmail.id === target.id)) data.email = email;
  if (!target.scenarioId) data.scenarioId = conversation.scenarioId;
  if (data.email !== undefined || data.phone !== undefined) {
    const key = dedupeKeyOf((data.email as string | undefined) ?? target.email, (data.phone as string | undefined) ?? target.phone);
    const holder = key && key !== target.dedupeKey ? await byKey(key) : null;
    if (holder) delete data.phone;
    else data.dedupeKey = key;
  }
  const link = target.conversations.some((c) => c.conversationId === conversation.id) ? {} : { conversations: { create: { conversationId: conversation.id } } };
  if (!Object.keys(data).length && !("conversations" in link)) return { row: target, events: [] };
  // Set explicitly: Prisma leaves @updatedAt alone when only a relation changes, and a new linked
  // conversation is a change updatedSince readers must see.
  const row = await tx.lead.update({ where: { id: target.id }, data: { ...data, ...link, updatedAt: ctx.clock() }, include: LEAD_INCLUDE });
  return { row, events: await recordLeadUpdated(ctx, tx, target, row, null) };
}
