import { z } from "zod";
import { badRequest } from "../errors.ts";
import { TEMPERATURES } from "./leads-view.ts";

// The shapes lead input must have, shared by REST (PATCH /api/v1/leads/:id, the list's query) and
// GraphQL (createLead, updateLead, leads), so both refuse the same input with the same words.

export const NAME_MAX = 200;
const EMAIL_MAX = 254;
const BANT_MAX = 2000;
export const TAG_MAX = 50;
export const TAGS_MAX = 50;

/** "" and whitespace mean "clear it", like null. */
const optionalText = (max: number) =>
  z
    .string({ error: "must be a string or null" })
    .trim()
    .max(max, `must be at most ${max} characters`)
    .nullable()
    .transform((v) => (v === null || v === "" ? null : v));

export const EmailInput = z
  .string({ error: "must be a string or null" })
  .trim()
  .nullable()
  .transform((v) => (v === null || v === "" ? null : v))
  .refine((v) => v === null || (v.length <= EMAIL_MAX && z.email().safeParse(v).success), "Invalid email address");

/** Digits with the usual separators: 7–15 digits (E.164 allows 15), an optional leading +. */
export function isPhoneNumber(v: string): boolean {
  if (!/^\+?[0-9 ().\-/]{6,30}$/.test(v)) return false;
  const digits = v.replace(/\D/g, "").length;
  return digits >= 7 && digits <= 15;
}

export const PhoneInput = z
  .string({ error: "must be a string or null" })
  .trim()
  .nullable()
  .transform((v) => (v === null || v === "" ? null : v))
  .refine((v) => v === null || isPhoneNumber(v), "Invalid phone number");

const TagsInput = z
  .array(z.string({ error: "must be a string" }).trim().min(1, "must not be blank").max(TAG_MAX, `must be at most ${TAG_MAX} characters`), {
    error: "must be an array of strings",
  })
  .max(TAGS_MAX, `at most ${TAGS_MAX} tags`)
  .transform((tags) => [...new Set(tags)]);

const BantInput = z.strictObject(
  {
  budget: optionalText(BANT_MAX).optional(),
  authority: optionalText(BANT_MAX).optional(),
  need: optionalText(BANT_MAX).optional(),
  timeline: optionalText(BANT_MAX).optional(),
  },
  { error: (iss) => (iss.code === "invalid_type" ? "must be an object of budget, authority, need, timeline" : undefined) },
);

const fields = {
  name: optionalText(NAME_MAX).optional(),
  email: EmailInput.optional(),
  phone: PhoneInput.optional(),
  company: optionalText(NAME_MAX).optional(),
  stage: z.string({ error: "must be a stage key" }).trim().min(1, "must be a stage key").optional(),
  temperature: z.enum(TEMPERATURES, { error: `must be one of ${TEMPERATURES.join(", ")}` }).optional(),
  tags: TagsInput.optional(),
  score: z
    .number({ error: "must be an integer from 0 to 100" })
    .int("must be an integer from 0 to 100")
    .min(0, "must be an integer from 0 to 100")
    .max(100, "must be an integer from 0 to 100")
    .optional(),
  /** A team member's id, or null to unassign. */
  assignedTo: z.string({ error: "must be a team member id or null" }).nullable().optional(),
  bant: BantInput.optional(),
};

/** PATCH /api/v1/leads/:id and updateLead: only the fields to change; anything else is refused. */
export const LeadPatch = z.strictObject(fields, { error: (iss) => (iss.code === "invalid_type" ? "The body must be a JSON object" : undefined) });
export type LeadPatch = z.output<typeof LeadPatch>;

/** createLead: the same fields, the widget and conversation it belongs to; some way to reach the person. */
export const NewLead = z
  .strictObject({ ...fields, widgetId: z.string().nullable().optional(), conversationId: z.string().nullable().optional() })
  .refine((l) => Boolean(l.name || l.email || l.phone || l.company), "A lead needs at least a name, email, phone or company");
export type NewLead = z.output<typeof NewLead>;

/** The list filters. Malformed values are 400; a well-formed unknown stage or temperature is 422. */
export interface LeadFilters {
  widgetId?: string;
  stage?: string;
  temperature?: string;
  /** A member id, or "unassigned". */
  assignedTo?: string;
  updatedSince?: Date;
}

/** An ISO 8601 date-time with its offset (Z or ±hh:mm), any fraction of a second; a real calendar date. */
export function parseDateTime(name: string, v: unknown): Date | undefined {
  if (v === undefined || v === "") return undefined;
  const bad = () => badRequest(`${name} must be an ISO 8601 date-time with a time zone, e.g. 2026-01-15T10:30:00Z`);
  if (typeof v !== "string" || !z.iso.datetime({ offset: true }).safeParse(v).success) throw bad();
  const d = new Date(v);
  const [, y, mo, day] = /^(\d{4})-(\d{2})-(\d{2})/.exec(v)!;
  const probe = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(day)));
  if (Number.isNaN(d.getTime()) || probe.getUTCDate() !== Number(day) || probe.getUTCMonth() !== Number(mo) - 1) throw bad();
  return d;
}

const single = (name: string, v: unknown): string | undefined => {
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string") throw badRequest(`${name} must be given once`);
  return v;
};

export function parseLeadFilters(query: Record<string, unknown>): LeadFilters {
  return {
    widgetId: single("widgetId", query.widgetId),
    stage: single("stage", query.stage),
    temperature: single("temperature", query.temperature),
    assignedTo: single("assignedTo", query.assignedTo),
    updatedSince: parseDateTime("updatedSince", single("updatedSince", query.updatedSince)),
  };
}

/** The dedupe key: captures of the same person land on one lead. */
export function dedupeKeyOf(email: string | null, phone: string | null): string | null {
  if (email) return `email:${email.trim().toLowerCase()}`;
  const digits = phone?.replace(/\D/g, "");
  return digits ? `phone:${digits}` : null;
}
