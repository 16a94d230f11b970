import type { Logger } from "pino";
import { z } from "zod";
import type { LlmClient } from "../ai/llm-client.ts";

// Lead qualification: BANT (budget, authority, need, timeline) and a 0–100 score from what the lead
// said in its conversations. Rules by default; an LLM when one is configured, with the rules as its
// fallback. What the conversations don't mention keeps the value the lead already has (an operator
// may have typed it in), and counts towards the score like a found one.

export interface QualificationMessage {
  author: "visitor" | "ai_assistant" | "human_operator";
  content: string;
}

export interface Bant {
  budget: string | null;
  authority: string | null;
  need: string | null;
  timeline: string | null;
}

export interface QualificationInput {
  /** The lead's conversations' messages, oldest first. */
  messages: QualificationMessage[];
  /** The conversations' analysed topics, most recent first. */
  topics: string[];
  /** The lead's current BANT. */
  known: Bant;
  contact: { email: boolean; phone: boolean };
}

export interface ScoreBreakdown {
  budget: number;
  authority: number;
  need: number;
  timeline: number;
  engagement: number;
}

export interface Qualification {
  bant: Bant;
  score: number;
  method: "rules" | "llm";
  /** Where each rule-based point came from; null for the LLM. */
  breakdown: ScoreBreakdown | null;
  /** Which BANT fields the conversations (not the lead's earlier values) gave. */
  found: (keyof Bant)[];
  /** Why the LLM was not used, when it was configured and failed. */
  llmError?: string;
}

export const POINTS = { budget: 25, authority: 20, influencer: 8, need: 20, topicNeed: 12, timeline: 15, urgency: 5, messages: 10, contact: 5 } as const;
const BANT_MAX = 300;

const clip = (s: string, max = BANT_MAX) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** Sentences of the visitor's messages, newest first: the latest statement of a fact wins. */
function visitorSentences(messages: QualificationMessage[]): string[] {
  return messages
    .filter((m) => m.author === "visitor")
    .reverse()
    .flatMap((m) => m.content.split(/(?<=[.!?])\s+|\n+/).reverse())
    .map((s) => s.trim())
    .filter(Boolean);
}

// ---- budget: a currency amount in a sentence about spending ----

const MULT = String.raw`(?:\s?(?:k|m|mm|bn|million|thousand|grand)\b)?`;
const NUM = String.raw`\d{1,3}(?:[,.\u00a0 ]\d{3})*(?!\d)(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`;
const CUR_BEFORE = String.raw`(?:US\$|\$|€|£|¥|₹|(?:USD|EUR|GBP|CHF|CAD|AUD|JPY|INR)\s?)`;
const CUR_AFTER = String.raw`(?:\s?(?:€|\$|£|usd|eur|gbp|chf|cad|aud|dollars?|euros?|pounds?|bucks)\b)`;
const AMOUNT = new RegExp(
  String.raw`(?:${CUR_BEFORE}\s?(?:${NUM})${MULT}|(?:${NUM})${MULT}${CUR_AFTER})(?:\s?(?:\/|per|a|an)\s?(?:month|mo|year|yr|annum|week|user|seat)\b)?`,
  "iu",
);
const QUALIFIER = /\b(up to|upwards of|around|about|roughly|approximately|approx\.?|under|below|less than|no more than|max(?:imum)?|at most|at least|between|over|more than)\s*$/i;
const BUDGET_WORDS = /\b(budget|budgeted|spend|spending|afford|pay|paying|invest|investment|allocated?|set aside|price range|cap|max(?:imum)?)\b/i;
/** A statement (not a question about a price) by the lead about what it has or would spend. */
const FIRST_PERSON = /\b(we|we're|we've|our|i|i'm|i've|my|us)\b/i;

export function findBudget(sentences: string[]): string | null {
  for (const s of sentences) {
    const m = AMOUNT.exec(s);
    if (!m) continue;
    const aboutBudget = BUDGET_WORDS.test(s) || (!s.includes("?") && FIRST_PERSON.test(s));
    if (!aboutBudget) continue;
    const qualifier = QUALIFIER.exec(s.slice(0, m.index))?.[1];
    return clip(qualifier ? `${qualifier.toLowerCase()} ${m[0].trim()}` : m[0].trim());
  }
  return null;
}

// ---- authority: the lead's own title, or a sign that someone else decides ----

/** The department after "head of", "director of"…: one or two words, not "here" or "at Acme". */
const DEPT = String.raw`[a-z&]+(?: (?!(?:here|at|in|for|with|and|from|of|the|a|an|who|but)\b)[a-z&]+)?`;
const TITLE = String.raw`(?:co-?founder|founder|owner|ceo|cto|cfo|coo|cmo|cio|cpo|chief [a-z]+ officer|president|vice president(?: of ${DEPT})?|vp(?: of ${DEPT})?|managing director|director(?: of ${DEPT})?|head of ${DEPT}|general manager|(?:[a-z]+ )?manager|managing partner|partner|principal|chairman|chairwoman|chair|board member|decision[- ]maker|procurement lead|purchasing lead|buyer)`;
const SELF_TITLE = new RegExp(String.raw`\b(?:i am|i'm|im|as|being)\s+(?:the|a|an|our|their)?\s*(?:company'?s\s+|business\s+)?(${TITLE})\b`, "i");
const SIGNED_TITLE = new RegExp(String.raw`(?:,|-|–)\s*(${TITLE})\s+(?:of|at|@)\s+\S+`, "i");
const TITLE_HERE = new RegExp(String.raw`\b(${TITLE})\s+here\b`, "i");
const OWNS = /\b(?:i|we)\s+(?:own|run)\s+(?:the|this|our|my|a|an)\s+(?:[a-z-]+\s+){0,2}(?:company|business|shop|store|firm|agency|startup)\b/i;
const DECIDES = /\b(?:i(?:'m| am)? (?:the one who )?(?:decide|make the (?:final )?decisions?|sign off|approve)|(?:it'?s|it is) my (?:call|decision)|i(?:'m| am) the decision[- ]maker)\b/i;
const DEFERS =
  /\b(?:(?:check|talk|speak|discuss)(?: it)? with|ask|run it by|approval (?:from|of)|approved by|sign-off from|convince)\s+(?:my|our|the)\s+(boss|manager|team|director|ceo|cfo|board|partner|owner|management|procurement)\b/i;
const ACRONYMS = new Set(["ceo", "cto", "cfo", "coo", "cmo", "cio", "cpo", "vp"]);

function titleCase(title: string): string {
  return title
    .toLowerCase()
    .split(/\s+/)
    .map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w === "of" || w === "at" ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(" ");
}

export function findAuthority(sentences: string[]): { value: string; decides: boolean } | null {
  for (const s of sentences) {
    const m = SELF_TITLE.exec(s) ?? SIGNED_TITLE.exec(s) ?? TITLE_HERE.exec(s);
    if (m) return { value: clip(titleCase(m[1]!)), decides: true };
    if (OWNS.test(s)) return { value: "Owner", decides: true };
    if (DECIDES.test(s)) return { value: "Decision maker", decides: true };
    const d = DEFERS.exec(s);
    if (d) return { value: clip(`Needs approval from ${d[0].match(/(?:my|our|the)\s+\S+$/i)![0].toLowerCase()}`), decides: false };
  }
  return null;
}

// ---- need: what the lead says it is looking for, else the conversation's topic ----

const NEED =
  /\b(?:(?:we|i)\s+(?:really\s+|urgently\s+|also\s+)?(?:need|require|want(?!\s+to\b)|are looking for|am looking for|'re looking for|'m looking for|are interested in|am interested in|'re interested in|'m interested in|are searching for|am searching for)|looking for|interested in|need help with|help with|problem with|struggling with)\s+(.{3,160}?)(?:[.!?;]|$)/i;

export function findNeed(sentences: string[]): string | null {
  for (const s of sentences) {
    const m = NEED.exec(s);
    if (!m) continue;
    const need = m[1]!.replace(/^(?:to\s+)?/, "").trim();
    // "we need this ASAP", "I need you to…": says when or who, not what.
    if (/^(?:this|that|it|them|you|him|her|someone|somebody|more time|some time|to know|to ask)\b/i.test(need) || !/\p{L}{3}/u.test(need)) continue;
    return clip(need);
  }
  return null;
}

// ---- timeline: when the lead wants to buy or start ----

const MONTH = String.raw`(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`;
const DAY = String.raw`(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)`;
const COUNT = String.raw`(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a few|a couple of|few|couple of)`;
const URGENT = /\b(asap|as soon as possible|right away|immediately|urgent(?:ly)?|today|tonight|tomorrow|this week)\b/i;
const TIMELINES: RegExp[] = [
  /\b(asap|as soon as possible|right away|immediately|urgent(?:ly)?|today|tonight|tomorrow)\b/i,
  new RegExp(String.raw`\b(?:by|before|until|till|no later than)\s+(?:the\s+)?(?:end of\s+(?:the\s+)?(?:week|month|quarter|year|${MONTH})|${MONTH}(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+\d{4})?|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?${MONTH}(?:\s+\d{4})?|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?|(?:next\s+)?${DAY}|next\s+(?:week|month|quarter|year)|Q[1-4](?:\s*(?:20)?\d{2})?|(?:the\s+)?summer|spring|autumn|fall|winter|christmas|(?:20)\d{2})\b`, "i"),
  new RegExp(String.raw`\b(?:this|next|coming|the coming)\s+(?:week|month|quarter|year|fiscal year|${DAY}|spring|summer|autumn|fall|winter)\b`, "i"),
  new RegExp(String.raw`\b(?:within|in)\s+(?:the\s+next\s+)?${COUNT}\s+(?:days?|weeks?|months?|years?)\b`, "i"),
  /\b(?:in|by|for|during|before)?\s*(?:Q[1-4]|H[12])(?:\s*(?:20)?\d{2})?\b/,
  /\b(?:end of (?:the )?(?:week|month|quarter|year)|eow|eom|eoy|eoq)\b/i,
  new RegExp(String.raw`\b(?:in|early|mid|late)\s+${MONTH}\b`, "i"),
];

export function findTimeline(sentences: string[]): { value: string; urgent: boolean } | null {
  for (const s of sentences) {
    for (const re of TIMELINES) {
      const m = re.exec(s);
      if (m) return { value: clip(m[0].trim()), urgent: URGENT.test(m[0]) };
    }
  }
  return null;
}

/** The rules: each BANT element found (or already known) scores; engagement and contact details add. */
export function qualifyByRules(input: QualificationInput): Qualification {
  const sentences = visitorSentences(input.messages);
  const budget = findBudget(sentences);
  const authority = findAuthority(sentences);
  const statedNeed = findNeed(sentences);
  const timeline = findTimeline(sentences);
  const topicNeed = statedNeed ? null : (input.topics.find((t) => t.trim()) ?? null);
  const k = input.known;
  const bant: Bant = {
    budget: budget ?? k.budget,
    authority: authority?.value ?? k.authority,
    need: statedNeed ?? k.need ?? (topicNeed ? clip(topicNeed) : null),
    timeline: timeline?.value ?? k.timeline,
  };
  const found = (["budget", "authority", "need", "timeline"] as const).filter((f) => {
    if (f === "need") return Boolean(statedNeed || (!k.need && topicNeed));
    return Boolean({ budget, authority, timeline }[f]);
  });
  const visitorMessages = input.messages.filter((m) => m.author === "visitor" && m.content.trim()).length;
  const breakdown: ScoreBreakdown = {
    budget: bant.budget ? POINTS.budget : 0,
    authority: authority ? (authority.decides ? POINTS.authority : POINTS.influencer) : k.authority ? POINTS.authority : 0,
    need: statedNeed || k.need ? POINTS.need : topicNeed ? POINTS.topicNeed : 0,
    timeline: bant.timeline ? POINTS.timeline + (timeline?.urgent ? POINTS.urgency : 0) : 0,
    engagement: Math.min(POINTS.messages, visitorMessages * 2) + (input.contact.email ? 3 : 0) + (input.contact.phone ? 2 : 0),
  };
  const score = Math.min(100, Object.values(breakdown).reduce((a, b) => a + b, 0));
  return { bant, score, method: "rules", breakdown, found: [...found] };
}

// ---- the LLM ----

const LlmText = z
  .string()
  .trim()
  .max(BANT_MAX * 2)
  .nullable()
  .transform((v) => (v ? clip(v) : null));
const LlmQualification = z.object({
  budget: LlmText,
  authority: LlmText,
  need: LlmText,
  timeline: LlmText,
  score: z.number().min(0).max(100),
});

const MESSAGES = 40;
const MESSAGE_CHARS = 600;

const INSTRUCTIONS = `You qualify a sales lead from its chats with a company's website assistant, with the BANT framework.
Reply with one JSON object and nothing else, with exactly these keys:
{"budget": string|null, "authority": string|null, "need": string|null, "timeline": string|null, "score": number}
- budget: what the lead said it can spend (amount and currency, e.g. "up to $5,000 per month"), else null.
- authority: the lead's role or decision power (e.g. "CEO", "Needs approval from manager"), else null.
- need: what the lead is looking for, in a few words, else null.
- timeline: when the lead wants to buy or start (e.g. "next month", "Q3 2026"), else null.
- score: 0–100, how likely and how soon the lead buys; higher with more BANT elements known and more engagement.
Use only what the visitor said; never guess. Keep each value under 100 characters.`;

function llmTranscript(input: QualificationInput): string {
  const lines = input.messages
    .filter((m) => m.content.trim())
    .slice(-MESSAGES)
    .map((m) => `${m.author === "visitor" ? "Visitor" : m.author === "human_operator" ? "Operator" : "Assistant"}: ${m.content.replace(/\s+/g, " ").trim().slice(0, MESSAGE_CHARS)}`);
  const known = Object.entries(input.known)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}: ${v}`);
  return [
    known.length ? `Already known about the lead:\n${known.join("\n")}\n` : "",
    input.topics.length ? `Conversation topics: ${input.topics.join("; ")}\n` : "",
    `Conversations:\n${lines.join("\n") || "(no messages)"}`,
  ].join("\n");
}

/**
 * The LLM's BANT and score; what it leaves null keeps the known value. A failure falls back to the
 * rules, or, with fallback false (a task that has tries left), is thrown so the try is repeated.
 */
export async function qualifyLead(input: QualificationInput, llm: LlmClient | null, log: Logger, { fallback = true } = {}): Promise<Qualification> {
  if (!llm) return qualifyByRules(input);
  try {
    const raw = await llm.complete({
      messages: [
        { role: "system", content: INSTRUCTIONS },
        { role: "user", content: llmTranscript(input) },
      ],
      temperature: 0,
      max_tokens: 400,
      response_format: { type: "json_object" },
    });
    const r = LlmQualification.parse(JSON.parse(raw.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, "")));
    const k = input.known;
    return {
      bant: { budget: r.budget ?? k.budget, authority: r.authority ?? k.authority, need: r.need ?? k.need, timeline: r.timeline ?? k.timeline },
      score: Math.round(r.score),
      method: "llm",
      breakdown: null,
      found: (["budget", "authority", "need", "timeline"] as const).filter((f) => r[f] !== null),
    };
  } catch (err) {
    if (!fallback) throw err;
    log.warn({ err }, "LLM lead qualification failed; using the rules");
    return { ...qualifyByRules(input), llmError: (err as Error).message.slice(0, 500) };
  }
}
