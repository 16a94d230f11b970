import Sentiment from "sentiment";
import type { UnifiedAnalysis } from "../events/live.ts";
import { MIN_LETTERS } from "./language.ts";

// Rule-based conversation analysis (the default, and the fallback when an LLM fails): the AFINN
// sentiment lexicon over the visitor's messages, the knowledge-base topic found by the caller,
// and documented heuristics for resolution and flagging.

export interface AnalysisMessage {
  ord: number;
  author: "ai_assistant" | "visitor" | "human_operator";
  content: string;
  isWelcome: boolean;
  /** message_insights.answered of an assistant reply (false: it could not answer); null otherwise. */
  answered: boolean | null;
}

export interface AnalysisInput {
  /** The conversation's recent messages, oldest first. */
  messages: AnalysisMessage[];
  /** Title of the trained article that best matches the latest visitor questions, if any. */
  kbTopic: string | null;
  /** The topic found by an earlier analysis (kept while later messages don't name another). */
  previousTopic: string | null;
  language: string | null;
}

export interface AnalysisOutcome {
  analysis: UnifiedAnalysis;
  /** The title this analysis would give the conversation (applied only while it has no real one). */
  title: string;
}

const lexicon = new Sentiment();

/** Messages weighed for sentiment: the most recent ones, the latest counting most. */
const SENTIMENT_WINDOW = 10;
/** A message's AFINN score is clipped to ±5 so one long rant doesn't outweigh everything else. */
const CLIP = 5;
/** Weighted mean score at or beyond which the conversation is positive / negative. */
const THRESHOLD = 1.5;
/** A single message at or below this AFINN score is strongly negative ("worst service ever, I'm furious"). */
export const STRONGLY_NEGATIVE = -5;
/** Assistant replies in a row that could not answer before the conversation is flagged. */
const UNANSWERED_IN_A_ROW = 2;

export const FLAG_REASONS = {
  abusive: "The visitor used abusive language",
  unhappy: "The visitor is very unhappy",
  unanswered: "The assistant could not answer several questions in a row",
} as const;

/** Insults and profanity (English, French, Spanish, German, Italian), matched as whole words or stems. */
const ABUSIVE =
  /(^|[^\p{L}])(idiot|idiots|moron|morons|stupid bot|dumbass|asshole|bastard|bitch|cunt|fuck\p{L}*|shit\p{L}*|wanker|retard\p{L}*|connard\p{L}*|salope|putain|merde|encul\p{L}*|gilipollas|pendejo|cabr[oó]n|mierda|puta|arschloch|schei(ss|ß)e|wichser|vaffanculo|stronzo)(?![\p{L}])/iu;

/** A thanks or goodbye that closes a conversation (no question in it). */
const CLOSING =
  /(^|[^\p{L}])(thanks?|thank you|thx|ty|cheers|great|perfect|awesome|got it|that'?s all|that helps|that helped|solved|bye|goodbye|merci|parfait|au revoir|gracias|perfecto|adi[oó]s|danke|perfekt|tsch[uü]ss|grazie|perfetto|obrigad[oa])(?![\p{L}])/iu;

export function sentimentScore(text: string): number {
  return lexicon.analyze(text).score;
}

export function isAbusive(text: string): boolean {
  return ABUSIVE.test(text);
}

/** A short thanks/goodbye without a further question or a single negative word ("thanks for nothing, useless"). */
export function isClosing(text: string): boolean {
  return text.length <= 160 && !text.includes("?") && CLOSING.test(text) && !lexicon.analyze(text).negative.length;
}

/**
 * positive | neutral | negative from the visitor's last messages: each message's AFINN score
 * (clipped), weighted 1, 2, 3… from older to newer. Text in other languages mostly has no lexicon
 * hits and so counts as neutral.
 */
export function conversationSentiment(visitorTexts: string[]): UnifiedAnalysis["sentiment"] {
  const recent = visitorTexts.slice(-SENTIMENT_WINDOW);
  if (!recent.length) return "neutral";
  let sum = 0;
  let weights = 0;
  recent.forEach((text, i) => {
    const score = Math.max(-CLIP, Math.min(CLIP, sentimentScore(text)));
    sum += score * (i + 1);
    weights += i + 1;
  });
  const mean = sum / weights;
  return mean >= THRESHOLD ? "positive" : mean <= -THRESHOLD ? "negative" : "neutral";
}

/** The first visitor message as a title: about 60 characters, cut at a word boundary. */
export function titleFrom(text: string, max = 60): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  if (oneLine.length <= max) return oneLine;
  const cut = oneLine.slice(0, max + 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : oneLine.slice(0, max)).replace(/[\s,;:.!?-]+$/, "")}…`;
}

/** The first visitor message that says something (not just "hi"), as a title. */
export function fallbackTitle(visitorTexts: string[]): string {
  const first = visitorTexts.find((t) => (t.match(/\p{L}/gu)?.length ?? 0) >= MIN_LETTERS) ?? visitorTexts[0];
  return first ? titleFrom(first) : "";
}

/** The longest run of consecutive assistant replies that could not answer. */
export function unansweredRun(messages: AnalysisMessage[]): number {
  let run = 0;
  let longest = 0;
  for (const m of messages) {
    if (m.author === "visitor" || m.isWelcome) continue;
    run = m.author === "ai_assistant" && m.answered === false ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

export function unansweredTwice(messages: AnalysisMessage[]): boolean {
  return unansweredRun(messages) >= UNANSWERED_IN_A_ROW;
}

/**
 * resolved when the visitor's last message is a thanks/goodbye and, before it, the assistant gave
 * an answer (a reply that didn't say it doesn't know) or an operator replied; open otherwise.
 */
export function resolutionStatus(messages: AnalysisMessage[]): UnifiedAnalysis["resolution_status"] {
  const lastVisitor = messages.findLastIndex((m) => m.author === "visitor");
  if (lastVisitor < 0 || !isClosing(messages[lastVisitor]!.content)) return "open";
  const answeredBefore = messages
    .slice(0, lastVisitor)
    .some((m) => !m.isWelcome && (m.author === "human_operator" || (m.author === "ai_assistant" && m.answered !== false)));
  return answeredBefore ? "resolved" : "open";
}

export function ruleBasedAnalysis(input: AnalysisInput): AnalysisOutcome {
  const visitor = input.messages.filter((m) => m.author === "visitor" && m.content.trim());
  const texts = visitor.map((m) => m.content);
  const sentiment = conversationSentiment(texts);
  let flag: string | null = null;
  if (texts.some(isAbusive)) flag = FLAG_REASONS.abusive;
  else if (sentiment === "negative" && texts.some((t) => sentimentScore(t) <= STRONGLY_NEGATIVE)) flag = FLAG_REASONS.unhappy;
  else if (unansweredTwice(input.messages)) flag = FLAG_REASONS.unanswered;
  const topic = input.kbTopic ?? input.previousTopic;
  return {
    analysis: {
      sentiment,
      resolution_status: resolutionStatus(input.messages),
      topic,
      is_flagged: flag !== null,
      flag_reason: flag,
    },
    title: topic ?? fallbackTitle(texts),
  };
}
