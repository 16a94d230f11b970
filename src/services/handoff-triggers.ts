import type { Logger } from "pino";
import { conversationSentiment, isAbusive, sentimentScore } from "../ai/analysis-rules.ts";
import type { LlmClient } from "../ai/llm-client.ts";
import type { HandoffConfigurationJson } from "./handoff-config-input.ts";

// When the chat flow offers a handoff, and how it reads the visitor's answer to the offer. The
// rules run in memory on the messages the reply already loaded; only the guidelines that need
// judgement (custom ones, customer_support_suggestion, irrelevant_advice) ask the LLM, and only
// when one is configured.

/** keyword | lack_of_knowledge | user_frustration | media_message | customer_support_suggestion | irrelevant_advice | custom:<id> */
export type HandoffTrigger = string;

/** A single message at or below this AFINN score is frustrated ("useless, I'm so frustrated" is -4). */
export const FRUSTRATED_SCORE = -3;

const keywordPatterns = new WeakMap<readonly string[], RegExp | null>();

/** The configured keywords as one case-insensitive pattern, whole words only ("agent" is not in "agents' fees"). */
function keywordPattern(keywords: readonly string[]): RegExp | null {
  let re = keywordPatterns.get(keywords);
  if (re === undefined) {
    const parts = keywords
      .map((k) => k.trim())
      .filter(Boolean)
      .map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+"));
    re = parts.length ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${parts.join("|")})(?![\\p{L}\\p{N}])`, "iu") : null;
    keywordPatterns.set(keywords, re);
  }
  return re;
}

export function mentionsKeyword(keywords: readonly string[], text: string): boolean {
  return keywordPattern(keywords)?.test(text) ?? false;
}

export function isGenericActive(config: HandoffConfigurationJson, name: string): boolean {
  return config.generic_guidelines.some((g) => g.name === name && g.is_active);
}

/** Frustration by the AFINN lexicon: a strongly negative or abusive new message, or a negative conversation still going down. */
export function soundsFrustrated(newTexts: string[], allVisitorTexts: string[]): boolean {
  if (newTexts.some((t) => sentimentScore(t) <= FRUSTRATED_SCORE || isAbusive(t))) return true;
  const latest = newTexts[newTexts.length - 1];
  return latest !== undefined && sentimentScore(latest) < 0 && conversationSentiment(allVisitorTexts) === "negative";
}

// The visitor's answer to the question_message, in English, French, Spanish and German (the
// languages the rule-based analysis knows). Lower-cased, accents kept, punctuation dropped.
const YES = [
  "yes", "yeah", "yep", "yup", "ya", "yea", "y", "sure", "ok", "okay", "k", "please", "of course", "absolutely", "definitely",
  "certainly", "go ahead", "connect me", "i would", "i'd like that", "i would like that", "sounds good", "why not", "alright", "all right",
  "oui", "ouais", "d'accord", "dac", "bien sûr", "volontiers", "avec plaisir", "s'il vous plaît", "s'il te plaît", "svp", "je veux bien",
  "sí", "si", "claro", "vale", "por favor", "de acuerdo", "por supuesto", "dale", "bueno",
  "ja", "jawohl", "gerne", "gern", "klar", "bitte", "natürlich", "genau", "einverstanden", "okey",
];
const NO = [
  "no", "nope", "nah", "not now", "not yet", "no thanks", "no thank you", "not really", "never mind", "nevermind", "no need", "i'm good", "im good",
  "non", "non merci", "pas maintenant", "pas besoin", "ça va", "ca va",
  "no gracias", "ahora no", "no hace falta", "todavía no",
  "nein", "nein danke", "nicht jetzt", "nicht nötig", "lieber nicht", "danke nein",
];
const words = (list: string[]) => list.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
/** Starts with a yes; a few more words ("yes please connect me to someone") still count. */
const YES_START = new RegExp(`^(?:${words(YES)})(?:\\s|$)`, "u");
const NO_START = new RegExp(`^(?:${words(NO)})(?:\\s|$)`, "u");
const MAX_YES_WORDS = 10;

const normalize = (text: string) =>
  text
    .toLowerCase()
    .replace(/[’`]/g, "'")
    .replace(/[^\p{L}\p{N}'\s]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();

/**
 * yes: the visitor accepts (or asks for a person again); no: declines; other: neither, which the
 * flow takes as moving on.
 */
export function readOfferAnswer(text: string, keywords: readonly string[]): "yes" | "no" | "other" {
  const t = normalize(text);
  if (!t) return "other";
  if (NO_START.test(t)) return "no";
  if (YES_START.test(t) && t.split(" ").length <= MAX_YES_WORDS) return "yes";
  if (mentionsKeyword(keywords, text)) return "yes";
  return "other";
}

/** The guidelines an LLM judges, with the trigger each one gives. */
export function llmGuidelines(config: HandoffConfigurationJson): { trigger: HandoffTrigger; name: string; description: string }[] {
  const generic = config.generic_guidelines
    .filter((g) => g.is_active && (g.name === "customer_support_suggestion" || g.name === "irrelevant_advice"))
    .map((g) => ({ trigger: g.name, name: g.name, description: g.description }));
  const custom = config.custom_guidelines
    .filter((g) => g.is_active)
    .map((g) => ({ trigger: `custom:${g.id}`, name: g.name, description: g.description }));
  return [...generic, ...custom];
}

export interface TranscriptLine {
  author: "ai_assistant" | "visitor" | "human_operator";
  content: string;
}

const TRANSCRIPT_MESSAGES = 12;
const MESSAGE_CHARS = 500;

export const speaker = (author: TranscriptLine["author"]) => (author === "visitor" ? "Visitor" : author === "human_operator" ? "Operator" : "Assistant");

export function transcriptText(lines: TranscriptLine[]): string {
  return lines
    .filter((m) => m.content.trim())
    .slice(-TRANSCRIPT_MESSAGES)
    .map((m) => `${speaker(m.author)}: ${m.content.replace(/\s+/g, " ").trim().slice(0, MESSAGE_CHARS)}`)
    .join("\n");
}

const GUIDELINE_INSTRUCTIONS = `You decide whether a customer-support chat should be handed to a human operator.
You get handoff guidelines (each with an id) and the conversation; the visitor's last message is the newest.
Reply with one JSON object and nothing else: {"guideline": "<id of the guideline that clearly applies now>"} or {"guideline": null} when none clearly applies.`;

/**
 * Which LLM-judged guideline applies to the conversation now (its trigger), or null; a failing or
 * unclear model answers null: the conversation then goes on with the assistant.
 */
export async function judgeGuidelines(
  llm: LlmClient,
  guidelines: ReturnType<typeof llmGuidelines>,
  transcript: TranscriptLine[],
  log: Logger,
): Promise<HandoffTrigger | null> {
  if (!guidelines.length) return null;
  const list = guidelines.map((g) => `- id "${g.trigger}" (${g.name}): ${g.description.replace(/\s+/g, " ").trim()}`).join("\n");
  try {
    const raw = await llm.complete({
      messages: [
        { role: "system", content: GUIDELINE_INSTRUCTIONS },
        { role: "user", content: `Guidelines:\n${list}\n\nConversation:\n${transcriptText(transcript)}` },
      ],
      temperature: 0,
      max_tokens: 60,
      response_format: { type: "json_object" },
    });
    const parsed: unknown = JSON.parse(raw.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, ""));
    const id = typeof parsed === "object" && parsed !== null ? (parsed as { guideline?: unknown }).guideline : null;
    return typeof id === "string" && guidelines.some((g) => g.trigger === id) ? id : null;
  } catch (err) {
    log.warn({ err }, "LLM handoff guideline check failed; no handoff offered");
    return null;
  }
}
