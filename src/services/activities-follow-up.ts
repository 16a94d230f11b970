import type { Logger } from "pino";
import { z } from "zod";
import type { LlmClient } from "../ai/llm-client.ts";
import type { LeadContext } from "./activities-context.ts";
import { SUBJECT_MAX, TEXT_MAX } from "./lead-emails.ts";

// The follow-up email a follow_up task drafts for an operator to review: written by the LLM when
// one is configured, else from a template with the lead's name, the last conversation's topic and
// the assistant's name. A failing LLM is tried again while the task has tries left; the last try
// falls back to the template (the result says why).

export interface FollowUpDraft {
  subject: string;
  text: string;
  drafter: "llm" | "template";
  llmError?: string;
}

const firstName = (name: string | null) => name?.trim().split(/\s+/)[0] ?? null;

export function templateFollowUp(c: LeadContext): FollowUpDraft {
  const topic = c.conversations[0]?.topic ?? null;
  const team = c.scenarioName ? `The ${c.scenarioName} team` : "The team";
  const chatted = c.conversations.length
    ? `Thank you for chatting with us${c.scenarioName ? ` (${c.scenarioName})` : ""}${topic ? ` about ${topic}` : ""}.`
    : `Thank you for your interest${c.scenarioName ? ` in ${c.scenarioName}` : ""}.`;
  const company = c.lead.company ? ` for ${c.lead.company}` : "";
  const text = [
    `Hi ${firstName(c.lead.name) ?? "there"},`,
    "",
    `${chatted} I wanted to follow up and see whether you have any other questions, or whether there is anything more we can do${company}.`,
    "",
    "Just reply to this email and we will get back to you.",
    "",
    "Best regards,",
    team,
  ].join("\n");
  const subject = topic ? `Following up: ${topic}` : c.scenarioName ? `Following up on your conversation with ${c.scenarioName}` : "Following up on your conversation";
  return { subject: subject.slice(0, SUBJECT_MAX), text, drafter: "template" };
}

const LlmDraft = z.object({
  subject: z.string().trim().min(1).max(SUBJECT_MAX),
  text: z.string().trim().min(1).max(TEXT_MAX),
});

const INSTRUCTIONS = `You write a short follow-up email from a company to a sales lead who chatted with the company's website assistant.
Reply with one JSON object and nothing else: {"subject": string, "text": string}.
- Plain text, friendly and specific to what the lead asked about; 60–150 words; no placeholders like [Name].
- Write in the language the lead used in the chat.
- Never promise prices, discounts or dates the conversation does not contain.`;

function prompt(c: LeadContext, instructions: string | undefined): string {
  const l = c.lead;
  const facts = [
    l.name ? `Lead's name: ${l.name}` : null,
    l.company ? `Company: ${l.company}` : null,
    c.conversations[0]?.topic ? `Topic of the last conversation: ${c.conversations[0].topic}` : null,
    l.need ? `Need: ${l.need}` : null,
    l.timeline ? `Timeline: ${l.timeline}` : null,
    `Sign the email as: ${c.scenarioName ? `The ${c.scenarioName} team` : "The team"}`,
    instructions ? `Operator's instructions: ${instructions}` : null,
  ].filter(Boolean);
  const lines = c.messages
    .slice(-30)
    .filter((m) => m.content.trim())
    .map((m) => `${m.author === "visitor" ? "Lead" : m.author === "human_operator" ? "Operator" : "Assistant"}: ${m.content.replace(/\s+/g, " ").trim().slice(0, 500)}`);
  return `${facts.join("\n")}\n\nConversation:\n${lines.join("\n") || "(no messages)"}`;
}

/** With fallback false (a task that has tries left) an LLM failure is thrown, so the try is repeated. */
export async function draftFollowUp(
  c: LeadContext,
  instructions: string | undefined,
  llm: LlmClient | null,
  log: Logger,
  { fallback = true } = {},
): Promise<FollowUpDraft> {
  if (!llm) return templateFollowUp(c);
  try {
    const raw = await llm.complete({
      messages: [
        { role: "system", content: INSTRUCTIONS },
        { role: "user", content: prompt(c, instructions) },
      ],
      temperature: 0.4,
      max_tokens: 600,
      response_format: { type: "json_object" },
    });
    const d = LlmDraft.parse(JSON.parse(raw.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, "")));
    return { subject: d.subject.replace(/\s+/g, " "), text: d.text, drafter: "llm" };
  } catch (err) {
    if (!fallback) throw err;
    log.warn({ err }, "LLM follow-up draft failed; using the template");
    return { ...templateFollowUp(c), llmError: (err as Error).message.slice(0, 500) };
  }
}
