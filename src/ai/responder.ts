import type { ChatbotSettings } from "../generated/sqlite/client.ts";
import type { SourceView } from "../events/live.ts";

/** A published passage of the trained knowledge base, retrieved for one question. */
export interface Passage {
  articleId: number;
  title: string;
  url: string | null;
  text: string;
  /** Share of the question's content words the passage (with its title) contains, 0–1. */
  coverage: number;
  /** Ranking score (higher is better); only comparable within one retrieval. */
  score: number;
}

export interface ResponderInput {
  scenarioId: string;
  conversationId: string;
  settings: ChatbotSettings;
  /** Earlier messages, oldest first (at most the last 20). */
  history: { author: "ai_assistant" | "visitor" | "human_operator"; content: string }[];
  /** The visitor's unanswered message(s), joined. */
  question: string;
  /** Per-message context given with the question (POST /chat message_context). */
  messageContext: string | null;
  /** Conversation metadata the AI may use to personalise (client_metadata). */
  metadata: Record<string, unknown> | null;
  /** The conversation's detected language, when known. */
  language: string | null;
  passages: Passage[];
  /** Called with each piece of a streamed reply, in order; absent when streaming is off. */
  onChunk?: (delta: string) => void;
  signal?: AbortSignal;
}

export interface ResponderReply {
  content: string;
  sources: SourceView[];
  /** false: the responder had nothing good to answer with (the handoff issue's lack_of_knowledge). */
  answered: boolean;
}

/** Produces the assistant's reply. The default answers from the knowledge base; another calls an LLM. */
export interface Responder {
  readonly name: string;
  reply(input: ResponderInput): Promise<ResponderReply>;
}

/** Passages' articles, once each, in rank order. */
export function sourcesOf(passages: Passage[]): SourceView[] {
  const seen = new Map<number, SourceView>();
  for (const p of passages) if (!seen.has(p.articleId)) seen.set(p.articleId, { article_id: p.articleId, title: p.title, url: p.url });
  return [...seen.values()];
}
