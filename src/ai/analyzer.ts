import type { Logger } from "pino";
import { z } from "zod";
import { ruleBasedAnalysis, unansweredTwice, FLAG_REASONS, type AnalysisInput, type AnalysisOutcome } from "./analysis-rules.ts";
import { languageName } from "./llm-prompt.ts";
import type { LlmClient } from "./llm-client.ts";

/** Computes a conversation's unified_analysis and a proposed title: rules by default, an LLM when configured. */
export interface ConversationAnalyzer {
  readonly name: string;
  analyze(input: AnalysisInput, log: Logger): Promise<AnalysisOutcome>;
}

export class RuleBasedAnalyzer implements ConversationAnalyzer {
  readonly name = "rules";

  async analyze(input: AnalysisInput): Promise<AnalysisOutcome> {
    return ruleBasedAnalysis(input);
  }
}

/** The JSON the model must return; anything else falls back to the rules. */
export const LlmAnalysisJson = z.object({
  title: z.string().trim().min(1).max(200),
  topic: z.string().trim().max(200).nullable(),
  sentiment: z.enum(["positive", "neutral", "negative"]),
  resolution_status: z.enum(["open", "resolved"]),
  is_flagged: z.boolean(),
  flag_reason: z.string().trim().max(500).nullable(),
});

/** Messages shown to the model, and how much of each. */
const TRANSCRIPT_MESSAGES = 20;
const MESSAGE_CHARS = 600;

const INSTRUCTIONS = `You analyse a customer-support chat between a website visitor and an assistant (AI or human operator).
Reply with one JSON object and nothing else, with exactly these keys:
{"title": string, "topic": string|null, "sentiment": "positive"|"neutral"|"negative", "resolution_status": "open"|"resolved", "is_flagged": boolean, "flag_reason": string|null}
- title: a short title for the conversation (at most 8 words), in the conversation's language.
- topic: what the visitor asks about, in a few words; prefer the knowledge base article title given when it fits; null for small talk only.
- sentiment: the visitor's overall mood, recent messages counting most.
- resolution_status: "resolved" only when the visitor's questions were answered and the visitor ended satisfied; otherwise "open".
- is_flagged: true when a human should review it (abusive language, a very unhappy visitor, the assistant repeatedly unable to answer, a request the assistant must not handle); flag_reason: one short sentence when flagged, else null.`;

/**
 * Analyses through a JSON-mode chat completion; on any failure (HTTP, timeout, invalid JSON,
 * a shape zod rejects) logs a warning and returns the rule-based analysis. The objective signal
 * "could not answer twice in a row" flags the conversation even when the model doesn't.
 */
export class LlmAnalyzer implements ConversationAnalyzer {
  readonly name = "llm";

  /** Public for the handoff flow, which asks the same model about its guidelines. */
  constructor(readonly client: LlmClient) {}

  async analyze(input: AnalysisInput, log: Logger): Promise<AnalysisOutcome> {
    try {
      const raw = await this.client.complete({
        messages: [
          { role: "system", content: INSTRUCTIONS },
          { role: "user", content: transcript(input) },
        ],
        temperature: 0,
        max_tokens: 300,
        response_format: { type: "json_object" },
      });
      const json: unknown = JSON.parse(raw.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, ""));
      const r = LlmAnalysisJson.parse(json);
      const unanswered = unansweredTwice(input.messages);
      const flagged = r.is_flagged || unanswered;
      return {
        analysis: {
          sentiment: r.sentiment,
          resolution_status: r.resolution_status,
          topic: r.topic || null,
          is_flagged: flagged,
          flag_reason: flagged ? (r.is_flagged ? r.flag_reason || "Flagged for review" : FLAG_REASONS.unanswered) : null,
        },
        title: r.title.replace(/\s+/g, " ").slice(0, 120),
      };
    } catch (err) {
      log.warn({ err, analyzer: this.name }, "LLM conversation analysis failed; using the rule-based analysis");
      return ruleBasedAnalysis(input);
    }
  }
}

function transcript(input: AnalysisInput): string {
  const lines = input.messages
    .filter((m) => !m.isWelcome && m.content.trim())
    .slice(-TRANSCRIPT_MESSAGES)
    .map((m) => {
      const who = m.author === "visitor" ? "Visitor" : m.author === "human_operator" ? "Operator" : "Assistant";
      const text = m.content.replace(/\s+/g, " ").trim().slice(0, MESSAGE_CHARS);
      return `${who}${m.answered === false ? " (could not answer)" : ""}: ${text}`;
    });
  const hints = [
    input.kbTopic ? `Best-matching knowledge base article: ${input.kbTopic}` : null,
    input.language ? `Conversation language: ${languageName(input.language)}` : null,
  ].filter(Boolean);
  return `${hints.length ? `${hints.join("\n")}\n\n` : ""}Conversation:\n${lines.join("\n")}`;
}
