import type { Logger } from "pino";
import type { LlmClient } from "../ai/llm-client.ts";
import { contentWords } from "./answer-retrieval.ts";
import type { RoutingProfileJson } from "./handoff-config-input.ts";
import { transcriptText, type TranscriptLine } from "./handoff-triggers.ts";

// What operators get with a handoff: a short summary of the conversation (ai_summary_active) and
// the routing profile that matches its topic. One LLM call does both when a model is configured;
// otherwise, or when the model fails, the summary is extractive (the visitor's key sentences) and
// the profile is the one whose name and description share the most words with the topic and the
// visitor's messages.

export interface HandoffBrief {
  summary: string | null;
  profile: RoutingProfileJson | null;
}

export interface BriefInput {
  transcript: TranscriptLine[];
  /** unified_analysis.topic (the knowledge-base topic), when the analysis found one. */
  topic: string | null;
  /** Active routing profiles only. */
  profiles: RoutingProfileJson[];
  wantSummary: boolean;
}

const SUMMARY_SENTENCES = 3;
const SUMMARY_CHARS = 1_000;

/** Messages that only answer the offer ("yes please") or greet say nothing about the case. */
const FILLER = /^(?:hi|hello|hey|yes|yeah|yep|sure|ok|okay|please|thanks|thank you|no|oui|non|merci|sí|si|gracias|ja|nein|danke|bitte)\b[\s\p{P}]*(?:please|thanks|thank you)?[\s\p{P}]*$/iu;

function sentencesOf(text: string): string[] {
  return (text.replace(/\s+/g, " ").match(/[^.!?]+[.!?]*/g) ?? []).map((s) => s.trim()).filter(Boolean);
}

/**
 * The visitor's key sentences, in the order written: the ones with the most content words (a
 * question counts one more), at most three, as "- …" lines.
 */
export function extractiveSummary(transcript: TranscriptLine[]): string | null {
  const sentences = transcript
    .filter((m) => m.author === "visitor" && !FILLER.test(m.content.trim()))
    .flatMap((m) => sentencesOf(m.content));
  const scored = sentences.map((s, i) => ({ s, i, score: contentWords(s).length + (s.endsWith("?") ? 1 : 0) }));
  // One-word asides ("Ok.") only when the visitor said nothing longer.
  const floor = scored.some((x) => x.score >= 2) ? 2 : 1;
  const picked = scored
    .filter((x) => x.score >= floor)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, SUMMARY_SENTENCES)
    .sort((a, b) => a.i - b.i);
  if (!picked.length) return null;
  return `The visitor wrote:\n${picked.map((x) => `- ${x.s}`).join("\n")}`.slice(0, SUMMARY_CHARS);
}

/** A crude stem, so "invoices" meets "invoice" and "billing" meets "bill". */
const stem = (w: string) => (w.length > 4 ? w.replace(/(?:ings?|ed|es|s)$/, "") : w);
const stems = (text: string) => [...new Set(contentWords(text).map(stem))];
/** Same stem, or one begins the other ("pay" and "payment"). */
const related = (a: string, b: string) => a === b || (Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a)));
const meets = (word: string, words: string[]) => words.some((w) => related(word, w));

/**
 * The profile whose name and description share the most words with the topic (counted thrice) and
 * the visitor's messages (a word of the name once more); null when none shares any.
 */
export function matchProfileByWords(profiles: RoutingProfileJson[], topic: string | null, visitorText: string): RoutingProfileJson | null {
  const topicWords = stems(topic ?? "");
  const textWords = stems(visitorText);
  let best: RoutingProfileJson | null = null;
  let bestScore = 0;
  for (const p of profiles) {
    const name = stems(p.name);
    let score = 0;
    for (const w of stems(`${p.name} ${p.description}`)) {
      const hit = (meets(w, topicWords) ? 3 : 0) + (meets(w, textWords) ? 1 : 0);
      score += hit + (hit && name.includes(w) ? 1 : 0);
    }
    if (score > bestScore) {
      best = p;
      bestScore = score;
    }
  }
  return best;
}

const INSTRUCTIONS = `A customer-support chat is being handed from an AI assistant to human operators.
Reply with one JSON object and nothing else: {"summary": string|null, "routing_profile_id": number|null}
- summary: what the visitor needs and what was tried, in at most 3 short sentences, for the operator (null when not asked for).
- routing_profile_id: the id of the routing profile whose topic best matches the conversation, or null when none fits.`;

async function llmBrief(llm: LlmClient, input: BriefInput): Promise<HandoffBrief> {
  const profiles = input.profiles.map((p) => `- id ${p.id}: ${p.name} — ${p.description.replace(/\s+/g, " ").trim()}`).join("\n");
  const raw = await llm.complete({
    messages: [
      { role: "system", content: INSTRUCTIONS },
      {
        role: "user",
        content:
          `${input.wantSummary ? "Write the summary." : "No summary needed (null)."}\n` +
          `${input.topic ? `Topic found so far: ${input.topic}\n` : ""}` +
          `Routing profiles:\n${profiles || "(none)"}\n\nConversation:\n${transcriptText(input.transcript)}`,
      },
    ],
    temperature: 0,
    max_tokens: 300,
    response_format: { type: "json_object" },
  });
  const parsed = JSON.parse(raw.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, "")) as { summary?: unknown; routing_profile_id?: unknown };
  const summary = typeof parsed.summary === "string" && parsed.summary.trim() ? parsed.summary.trim().slice(0, SUMMARY_CHARS) : null;
  const id = typeof parsed.routing_profile_id === "number" ? parsed.routing_profile_id : Number(parsed.routing_profile_id);
  return { summary, profile: input.profiles.find((p) => p.id === id) ?? null };
}

export async function handoffBrief(llm: LlmClient | null, input: BriefInput, log: Logger): Promise<HandoffBrief> {
  const visitorText = input.transcript.filter((m) => m.author === "visitor").map((m) => m.content).join("\n");
  const fallback = (): HandoffBrief => ({
    summary: input.wantSummary ? extractiveSummary(input.transcript) : null,
    profile: matchProfileByWords(input.profiles, input.topic, visitorText),
  });
  if (!llm || (!input.wantSummary && !input.profiles.length)) return fallback();
  try {
    const brief = await llmBrief(llm, input);
    const rules = fallback();
    // The model may leave the summary out: the operators still get the visitor's own words.
    return { summary: input.wantSummary ? (brief.summary ?? rules.summary) : null, profile: brief.profile };
  } catch (err) {
    log.warn({ err }, "LLM handoff summary failed; using the extractive summary and word-based routing");
    return fallback();
  }
}
