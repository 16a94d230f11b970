import { detectAll } from "tinyld";

/** Below this many letters a message ("ok", "Hello", "Gracias") says too little about its language. */
export const MIN_LETTERS = 12;
/** The best guess must lead the runner-up by this factor, or the message is left undetected. */
const MIN_LEAD = 1.25;

/**
 * The language of a visitor message (ISO 639-1 code), or null when the text is too short or the
 * detector is torn between languages; such messages simply don't count towards the conversation's
 * language.
 */
export function detectLanguage(text: string): string | null {
  const letters = text.match(/\p{L}/gu)?.length ?? 0;
  if (letters < MIN_LETTERS) return null;
  const [best, second] = detectAll(text);
  if (!best?.lang || best.accuracy <= 0) return null;
  if (second && best.accuracy < second.accuracy * MIN_LEAD) return null;
  return best.lang;
}

/** The language with the most messages; a tie goes to the one used most recently. */
export function mostFrequentLanguage(counts: { language: string; count: number; lastOrd: number }[]): string | null {
  const sorted = [...counts].sort((a, b) => b.count - a.count || b.lastOrd - a.lastOrd);
  return sorted[0]?.language ?? null;
}
