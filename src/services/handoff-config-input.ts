import { z } from "zod";
import { canonicalTimeZone, END_TIME_PATTERN, minutesOf, normalizeDaySpan, TIME_PATTERN } from "./handoff-working-hours.ts";

// The Handoff Configuration document (reference 001, "Handoff Configuration"): its JSON shape, the
// defaults of a scenario that never saved one, and the PUT input. Limits the reference gives:
// confirmation messages ≤ 500, guideline and routing-profile names ≤ 100 and descriptions ≤ 2000.
// The others are Parley's (question_message ≤ 500, ≤ 50 keywords of ≤ 100 characters, ≤ 50 emails,
// ≤ 50 items per list, ≤ 100 user ids per routing profile).

export const GENERIC_GUIDELINES = {
  user_frustration: "The user is frustrated, angry or repeatedly dissatisfied with the answers.",
  customer_support_suggestion: "The assistant would suggest contacting customer support or a person.",
  lack_of_knowledge: "The assistant cannot answer the question from its knowledge base.",
  irrelevant_advice: "The assistant's answers do not address what the user is asking.",
  media_message: "The user sends a file, an image or other media the assistant cannot read.",
} as const;
export type GenericGuidelineName = keyof typeof GENERIC_GUIDELINES;
export const GENERIC_GUIDELINE_NAMES = Object.keys(GENERIC_GUIDELINES) as [GenericGuidelineName, ...GenericGuidelineName[]];
/** irrelevant_advice needs an LLM to judge and misfires easily: off until someone turns it on. */
const GENERIC_ACTIVE_BY_DEFAULT: Record<GenericGuidelineName, boolean> = {
  user_frustration: true,
  customer_support_suggestion: true,
  lack_of_knowledge: true,
  irrelevant_advice: false,
  media_message: true,
};

export const LIMITS = {
  message: 500,
  keywords: 50,
  keyword: 100,
  emails: 50,
  items: 50,
  name: 100,
  description: 2000,
  userIds: 100,
} as const;

export const HandoffSettings = z.object({
  is_active: z.boolean(),
  keywords: z.array(z.string()),
  ai_summary_active: z.boolean(),
  topic_based_routing_active: z.boolean().meta({ description: "Read-only: true when a routing profile is active" }),
  question_message: z.string(),
  confirmation_message: z.string(),
  confirmation_outside_working_hours_message: z.string(),
  working_hours_active: z.boolean(),
  timezone: z.string(),
  send_email_notification: z.boolean(),
  emails: z.array(z.string()),
});
export const AvailabilitySlot = z.object({ id: z.number().int(), day_span: z.string(), start_time: z.string(), end_time: z.string() });
export const GenericGuideline = z.object({ name: z.enum(GENERIC_GUIDELINE_NAMES), description: z.string(), is_active: z.boolean() });
export const CustomGuideline = z.object({ id: z.number().int(), name: z.string(), description: z.string(), is_active: z.boolean() });
export const RoutingProfile = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  is_active: z.boolean(),
  user_ids: z.array(z.number().int()),
});
export const HandoffConfiguration = z.object({
  settings: HandoffSettings,
  availability: z.array(AvailabilitySlot),
  generic_guidelines: z.array(GenericGuideline),
  custom_guidelines: z.array(CustomGuideline),
  routing_profiles: z.array(RoutingProfile),
});
export type HandoffConfigurationJson = z.infer<typeof HandoffConfiguration>;
export type HandoffSettingsJson = z.infer<typeof HandoffSettings>;
export type RoutingProfileJson = z.infer<typeof RoutingProfile>;

/** Stored settings: the document's settings without the derived flag. */
export type StoredSettings = Omit<HandoffSettingsJson, "topic_based_routing_active">;

export const DEFAULT_SETTINGS: StoredSettings = {
  is_active: false,
  keywords: ["speak to human", "agent"],
  ai_summary_active: true,
  question_message: "Would you like me to connect you with a member of our team?",
  confirmation_message: "Thanks! A member of our team will join this conversation shortly.",
  confirmation_outside_working_hours_message:
    "Thanks! Our team is not available right now; they will get back to you here as soon as they are.",
  working_hours_active: false,
  timezone: "UTC",
  send_email_notification: false,
  emails: [],
};

export const defaultGenericGuideline = (name: GenericGuidelineName) => ({
  name,
  description: GENERIC_GUIDELINES[name],
  is_active: GENERIC_ACTIVE_BY_DEFAULT[name],
});

// ---- PUT input ----

const text = (max: number) => z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);
/** Items without an id (or with null) are created; with one, they update that item. */
const itemId = z.number().int().positive().nullish();

/** Reports a duplicate at [index, key] when two items share a value. */
function noDuplicates<T>(key: string, valueOf: (item: T) => unknown, what: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      const v = valueOf(item);
      if (v === null || v === undefined) return;
      if (seen.has(v)) ctx.addIssue({ code: "custom", path: key ? [i, key] : [i], message: `duplicate ${what} ${JSON.stringify(typeof item === "object" ? v : item)}` });
      seen.add(v);
    });
  };
}

const SettingsInput = z
  .object({
    is_active: z.boolean(),
    keywords: z
      .array(text(LIMITS.keyword))
      .max(LIMITS.keywords, `at most ${LIMITS.keywords} keywords`)
      .superRefine(noDuplicates<string>("", (k) => k.toLowerCase(), "keyword")),
    ai_summary_active: z.boolean(),
    topic_based_routing_active: z.unknown().meta({ description: "Read-only: ignored (derived from the active routing profiles)" }),
    question_message: text(LIMITS.message),
    confirmation_message: text(LIMITS.message),
    confirmation_outside_working_hours_message: text(LIMITS.message),
    working_hours_active: z.boolean(),
    timezone: z.string().transform((tz, ctx) => {
      const zone = canonicalTimeZone(tz.trim());
      if (zone === null) {
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(tz)} is not an IANA time zone (e.g. "Europe/London")` });
        return z.NEVER;
      }
      return zone;
    }),
    send_email_notification: z.boolean(),
    emails: z
      .array(z.string().trim().max(320).pipe(z.email("must be an email address")))
      .max(LIMITS.emails, `at most ${LIMITS.emails} addresses`)
      .superRefine(noDuplicates<string>("", (e) => e.toLowerCase(), "email")),
  })
  .partial()
  .strict();

const SlotInput = z
  .object({
    id: itemId,
    day_span: z.string().transform((span, ctx) => {
      const normalized = normalizeDaySpan(span);
      if (normalized === null) {
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(span)} is not a day or a day range (e.g. "monday", "monday-friday")` });
        return z.NEVER;
      }
      return normalized;
    }),
    start_time: z.string().regex(TIME_PATTERN, 'must be "HH:MM" (00:00–23:59)'),
    end_time: z.string().regex(END_TIME_PATTERN, 'must be "HH:MM" (00:00–24:00)'),
  })
  .strict()
  .superRefine((slot, ctx) => {
    if (minutesOf(slot.end_time) <= minutesOf(slot.start_time)) {
      ctx.addIssue({ code: "custom", path: ["end_time"], message: `must be later than start_time (${slot.start_time})` });
    }
  });

const GenericInput = z
  .object({ name: z.enum(GENERIC_GUIDELINE_NAMES), description: text(LIMITS.description).optional(), is_active: z.boolean().optional() })
  .strict();

const CustomInput = z
  .object({ id: itemId, name: text(LIMITS.name), description: text(LIMITS.description), is_active: z.boolean().default(true) })
  .strict();

const RoutingInput = z
  .object({
    id: itemId,
    name: text(LIMITS.name),
    description: text(LIMITS.description),
    is_active: z.boolean().default(true),
    user_ids: z
      .array(z.number().int().positive())
      .max(LIMITS.userIds, `at most ${LIMITS.userIds} user ids`)
      .superRefine(noDuplicates<number>("", (n) => n, "user id")),
  })
  .strict();

const list = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item).max(LIMITS.items, `at most ${LIMITS.items} ${what}`);

/**
 * The PUT body: the document GET answers, modified. A section left out stays as it is; a list that
 * is sent replaces the stored one (items with an id update it, without one are created, stored items
 * left out are deleted). Generic guidelines are matched by name and cannot be deleted.
 */
export const HandoffConfigurationInput = z
  .object({
    settings: SettingsInput,
    availability: list(SlotInput, "availability slots").superRefine(noDuplicates<{ id?: number | null }>("id", (s) => s.id, "id")),
    generic_guidelines: z.array(GenericInput).superRefine(noDuplicates<{ name: string }>("name", (g) => g.name, "guideline")),
    custom_guidelines: list(CustomInput, "custom guidelines").superRefine(noDuplicates<{ id?: number | null }>("id", (g) => g.id, "id")),
    routing_profiles: list(RoutingInput, "routing profiles").superRefine(noDuplicates<{ id?: number | null }>("id", (p) => p.id, "id")),
  })
  .partial()
  .strict();
export type HandoffConfigurationUpdate = z.output<typeof HandoffConfigurationInput>;
