import type { ChatbotSettings } from "../generated/sqlite/client.ts";
import type { ChatMessage } from "./llm-client.ts";
import type { ResponderInput } from "./responder.ts";

// The chat-completions request an LLM responder sends: a system prompt built from the scenario's
// chatbot settings and the retrieved passages, then the conversation and the question.

/** What the model replies when the passages don't answer the question (stripped before storing). */
export const NO_ANSWER = "[NO_ANSWER]";

/** Personality presets as documented (Chatbot Settings): label and the tone it asks for. */
export const PERSONALITY: Record<number, { label: string; tone: string }> = {
  0: { label: "Classic", tone: "well-rounded, balanced between professionalism and approachability" },
  1: { label: "Humorous", tone: "witty, with puns and jokes for entertaining interactions" },
  2: { label: "Formal", tone: "formal and serious, giving concise factual information for business settings" },
  3: { label: "Friendly", tone: "casual, with a personal, approachable touch" },
  4: { label: "Sassy", tone: "confident and playful, with humor" },
  5: { label: "Intelligent", tone: "detailed and accurate, for comprehensive understanding" },
  6: { label: "Empathetic", tone: "caring and compassionate, showing concern for the visitor's feelings" },
  7: { label: "Bold", tone: "giving strong opinions and recommendations with confidence" },
  9: { label: "Excited", tone: "lively and energetic" },
  10: { label: "Mysterious", tone: "cryptic and intriguing, for a unique experience" },
  11: { label: "Inspiring", tone: "promoting positive thinking and reaching goals, like a coach" },
  12: { label: "Adventurous", tone: "encouraging the visitor to leave their comfort zone and explore new opportunities" },
  13: { label: "Elegant", tone: "sophisticated, for unique and exquisite brands" },
};

/** Professions as documented: the role the assistant plays. */
export const PROFESSION: Record<string, { label: string; role: string }> = {
  helpful_assistant: { label: "Helpful Assistant", role: "a versatile, multi-purpose helpful assistant" },
  customer_support_representative: {
    label: "Support Agent",
    role: "an empathetic customer support agent who gives step-by-step solutions and troubleshooting",
  },
  shopping_assistant: {
    label: "Shopping Assistant",
    role: "a shopping assistant who proactively recommends products, with links when the knowledge base has them",
  },
  field_expert: {
    label: "Field Expert",
    role: "a professional consultant who asks clarifying questions and gives expert guidance",
  },
  interviewer: {
    label: "Interviewer",
    role: "an interviewer who asks the visitor questions (for surveys, interviews and feedback) rather than giving answers",
  },
};

/** reply_length 0–2 → what the prompt asks for and the token budget that enforces it. */
export const REPLY_LENGTH = [
  { instruction: "Keep replies short: one or two sentences.", maxTokens: 150 },
  { instruction: "Keep replies to one short paragraph (about 100 words at most).", maxTokens: 400 },
  { instruction: "Give complete, detailed replies when useful (about 250 words at most).", maxTokens: 800 },
] as const;

/** creativity_level 0 (deterministic), 1 (balanced), 2 (creative) → sampling temperature. */
export const TEMPERATURE = [0, 0.5, 0.9] as const;

const languageNames = new Intl.DisplayNames(["en"], { type: "language", fallback: "none" });

/** English name of a language code (fr → French), or the code itself when unknown. */
export function languageName(code: string): string {
  try {
    return languageNames.of(code) ?? code;
  } catch {
    return code;
  }
}

const at = <T>(list: readonly T[], i: number): T => list[Math.min(Math.max(i, 0), list.length - 1)]!;

export function samplingFor(settings: Pick<ChatbotSettings, "creativityLevel" | "replyLength">) {
  return { temperature: at(TEMPERATURE, settings.creativityLevel), max_tokens: at(REPLY_LENGTH, settings.replyLength).maxTokens };
}

export function systemPrompt(input: ResponderInput): string {
  const s = input.settings;
  const personality = PERSONALITY[s.personality] ?? PERSONALITY[0]!;
  const profession = PROFESSION[s.profession] ?? PROFESSION.helpful_assistant!;
  const guidelines = Array.isArray(s.aiCommands) ? s.aiCommands.filter((g): g is string => typeof g === "string" && !!g.trim()) : [];
  const parts: string[] = [];

  const identity = [s.oneWordDescription, s.shortDescription].map((x) => x.trim()).filter(Boolean).join(": ");
  parts.push(
    `You are ${profession.role}, chatting with a visitor on a business's website${identity ? ` (${identity})` : ""}.`,
    `Profession: ${profession.label}. Personality: ${personality.label}; your tone is ${personality.tone}.`,
    at(REPLY_LENGTH, s.replyLength).instruction,
  );
  if (guidelines.length) parts.push(`Guidelines you must follow:\n${guidelines.map((g) => `- ${g.trim()}`).join("\n")}`);

  if (input.passages.length) {
    const numbered = input.passages.map((p, i) => `[${i + 1}] ${p.title}${p.url ? ` (${p.url})` : ""}\n${p.text}`).join("\n\n");
    parts.push(
      `Answer only from these knowledge base passages:\n\n${numbered}`,
      `If the passages do not contain the answer, reply with exactly ${NO_ANSWER} and nothing else. Never invent facts, prices, links or policies.`,
    );
  } else {
    parts.push(
      `No knowledge base passage matches this message. If it is a greeting, thanks or small talk, reply briefly and offer help. ` +
        `Otherwise reply with exactly ${NO_ANSWER} and nothing else. Never invent facts, prices, links or policies.`,
    );
  }

  if (input.metadata && Object.keys(input.metadata).length) {
    parts.push(
      `Information about this visitor and conversation (use it to personalise the reply; don't recite it):\n${JSON.stringify(input.metadata)}`,
    );
  }
  parts.push(
    input.language
      ? `The visitor's language is ${languageName(input.language)}: reply in it, unless the visitor's last message is clearly in another language.`
      : "Reply in the language of the visitor's last message.",
  );
  return parts.join("\n\n");
}

/** System prompt, earlier messages (visitor → user, assistant and operators → assistant), then the question. */
export function chatMessages(input: ResponderInput): ChatMessage[] {
  const question = input.messageContext?.trim()
    ? `${input.question}\n\nContext for this message: ${input.messageContext.trim()}`
    : input.question;
  return [
    { role: "system", content: systemPrompt(input) },
    ...input.history
      .filter((m) => m.content.trim())
      .map((m): ChatMessage => ({ role: m.author === "visitor" ? "user" : "assistant", content: m.content })),
    { role: "user", content: question },
  ];
}
