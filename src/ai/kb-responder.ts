import { contentWords } from "../services/answer-retrieval.ts";
import { sourcesOf, type Passage, type Responder, type ResponderInput, type ResponderReply } from "./responder.ts";

/** How much of the question a passage must cover to count as an answer. */
export const MIN_COVERAGE = 0.5;

export const SMALL_TALK = "Hello! What would you like to know? Ask me anything.";

export const DONT_KNOW =
  "I'm sorry, I don't have information about that. Could you rephrase your question, or ask about something else?";

function sentences(text: string): string[] {
  return text.match(/[^.!?]+[.!?]+["')\]]*\s*|[^.!?]+$/g)?.map((s) => s.trim()).filter(Boolean) ?? [text];
}

/**
 * The default responder, with no external service: answers with the best-matching published
 * passages of the trained knowledge base, as many as the reply length allows (short: two
 * sentences of the best passage; medium: up to two passages; long: up to three), and says it
 * doesn't know when no passage covers at least half of the question's content words.
 */
export class KnowledgeBaseResponder implements Responder {
  readonly name = "knowledge_base";

  async reply(input: ResponderInput): Promise<ResponderReply> {
    // "Hello!", "thanks": nothing to look up, and not a gap in the knowledge base either.
    if (!contentWords(input.question).length) {
      const content = SMALL_TALK;
      input.onChunk?.(content);
      return { content, sources: [], answered: true };
    }
    const good = input.passages.filter((p) => p.coverage >= MIN_COVERAGE);
    if (!good.length) return { content: DONT_KNOW, sources: [], answered: false };
    const length = input.settings.replyLength;
    let used: Passage[];
    let content: string;
    if (length <= 0) {
      used = good.slice(0, 1);
      content = sentences(used[0]!.text).slice(0, 2).join(" ");
    } else {
      used = good.slice(0, length === 1 ? 2 : 3);
      content = used.map((p) => p.text).join("\n\n");
    }
    // The text is ready at once; stream it in sentence-sized pieces so widgets render it the same
    // way as an LLM's stream (and a long answer stays far below the pubsub's queue bound).
    if (input.onChunk) for (const piece of content.match(/[^.!?\n]+[.!?\n]*\s*|[.!?\n]+\s*/g) ?? [content]) input.onChunk(piece);
    return { content, sources: sourcesOf(used), answered: true };
  }
}
