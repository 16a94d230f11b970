import { forgetChatSettings } from "./chat-settings.ts";
import { z } from "zod";
import type { ServiceContext } from "./context.ts";
import { scenarioAccess } from "./access.ts";
import { parseInput } from "./validation.ts";

/** Personality presets: 0–13 without 8, as documented. */
export const PERSONALITIES = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13] as const;
export const PROFESSIONS = [
  "helpful_assistant",
  "customer_support_representative",
  "shopping_assistant",
  "field_expert",
  "interviewer",
] as const;

const languageNames = new Intl.DisplayNames(["en"], { type: "language", fallback: "none" });
/** A BCP 47 language code that ICU knows by name (en, de, pt-BR, …). */
export function isLanguageCode(code: string): boolean {
  if (!/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(code)) return false;
  try {
    return languageNames.of(code) !== undefined;
  } catch {
    return false;
  }
}

export const ChatbotSettingsPatch = z
  .object({
    personality: z
      .number()
      .int()
      .refine((n) => (PERSONALITIES as readonly number[]).includes(n), "must be one of 0–7, 9–13"),
    profession: z.enum(PROFESSIONS),
    creativity_level: z.number().int().min(0).max(2),
    reply_length: z.number().int().min(0).max(2),
    greeting: z.string().max(1000),
    greeting2: z.string().max(1000),
    header: z.string().max(200),
    header2: z.string().max(200),
    language_chosen: z
      .string()
      .refine(
        (s) => s.split(",").every((c) => isLanguageCode(c.trim())),
        "must be a comma-separated list of valid language codes",
      ),
    one_word_description: z.string().max(200),
    short_description: z.string().max(2000),
    ai_commands: z.array(z.string().max(500, "each item must be at most 500 characters")),
  })
  .partial()
  .strict();

type Row = NonNullable<Awaited<ReturnType<ServiceContext["db"]["chatbotSettings"]["findUnique"]>>>;

export function chatbotSettingsJson(s: Row) {
  return {
    personality: s.personality,
    profession: s.profession,
    creativity_level: s.creativityLevel,
    greeting: s.greeting,
    greeting2: s.greeting2,
    header: s.header,
    header2: s.header2,
    language_chosen: s.languageChosen,
    reply_length: s.replyLength,
    one_word_description: s.oneWordDescription,
    short_description: s.shortDescription,
    ai_commands: s.aiCommands as string[],
  };
}
export type ChatbotSettingsJson = ReturnType<typeof chatbotSettingsJson>;

/** A scenario's settings; scenarios get theirs when created, so the write here is a rare repair. */
export async function loadChatbotSettings(ctx: Pick<ServiceContext, "db">, scenarioId: string): Promise<Row> {
  const row = await ctx.db.chatbotSettings.findUnique({ where: { scenarioId } });
  if (row) return row;
  return ctx.db.chatbotSettings.upsert({ where: { scenarioId }, create: { scenarioId, aiCommands: [] }, update: {} });
}

export async function getChatbotSettings(ctx: ServiceContext, forScenario?: string): Promise<ChatbotSettingsJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  return chatbotSettingsJson(await loadChatbotSettings(ctx, scenarioId));
}

/** Changes only the fields sent; answers the whole object. */
export async function updateChatbotSettings(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<ChatbotSettingsJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const p = parseInput(ChatbotSettingsPatch, input);
  await loadChatbotSettings(ctx, scenarioId);
  const row = await ctx.db.chatbotSettings.update({
    where: { scenarioId },
    data: {
      personality: p.personality,
      profession: p.profession,
      creativityLevel: p.creativity_level,
      replyLength: p.reply_length,
      greeting: p.greeting,
      greeting2: p.greeting2,
      header: p.header,
      header2: p.header2,
      languageChosen: p.language_chosen?.split(",").map((c) => c.trim()).join(","),
      oneWordDescription: p.one_word_description,
      shortDescription: p.short_description,
      aiCommands: p.ai_commands,
    },
  });
  forgetChatSettings(scenarioId);
  return chatbotSettingsJson(row);
}
