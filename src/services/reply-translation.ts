import { detectLanguage } from "../ai/language.ts";
import type { ServiceContext } from "./context.ts";

// Operators and external agents write in their own language; the visitor reads the conversation's
// (most_frequent_language). The stored message is what the visitor sees; message_insights keeps
// the original and says whether (and why not) it was translated, so a reply is never lost to a
// translator outage: it goes out untranslated instead.

export type UntranslatedReason =
  | "translator_not_configured"
  | "conversation_language_unknown"
  | "already_in_conversation_language"
  | "translator_failed";

export type TranslationInsights =
  | { translated: true; original_content: string; target_language: string; translator_model: string }
  | { translated: false; reason: UntranslatedReason; target_language: string | null };

export interface ReplyTranslation {
  /** What the visitor sees. */
  content: string;
  /** The language of `content`, when known. */
  language: string | null;
  insights: TranslationInsights;
}

const untranslated = (content: string, reason: UntranslatedReason, target: string | null): ReplyTranslation => ({
  content,
  language: reason === "already_in_conversation_language" ? target : null,
  insights: { translated: false, reason, target_language: target },
});

export async function translateReply(ctx: Pick<ServiceContext, "translator" | "log">, text: string, target: string | null): Promise<ReplyTranslation> {
  const translator = ctx.translator;
  if (!translator) return untranslated(text, "translator_not_configured", target);
  if (!target) return untranslated(text, "conversation_language_unknown", null);
  if (detectLanguage(text) === target) return untranslated(text, "already_in_conversation_language", target);
  try {
    const content = await translator.translate(text, target);
    return { content, language: target, insights: { translated: true, original_content: text, target_language: target, translator_model: translator.model } };
  } catch (err) {
    ctx.log.warn({ err, targetLanguage: target }, "reply translation failed; the reply goes out untranslated");
    return untranslated(text, "translator_failed", target);
  }
}
