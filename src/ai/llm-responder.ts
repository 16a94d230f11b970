import { DONT_KNOW } from "./kb-responder.ts";
import type { LlmClient } from "./llm-client.ts";
import { chatMessages, NO_ANSWER, samplingFor } from "./llm-prompt.ts";
import { sourcesOf, type Responder, type ResponderInput, type ResponderReply } from "./responder.ts";

/** The don't-know reply in the languages visitors write in most; English otherwise. */
const DONT_KNOW_IN: Record<string, string> = {
  en: DONT_KNOW,
  fr: "Je suis désolé, je n'ai pas d'information à ce sujet. Pourriez-vous reformuler votre question, ou poser une autre question ?",
  es: "Lo siento, no tengo información sobre eso. ¿Podría reformular su pregunta o preguntar sobre otra cosa?",
  de: "Es tut mir leid, dazu habe ich keine Informationen. Könnten Sie Ihre Frage anders formulieren oder etwas anderes fragen?",
  it: "Mi dispiace, non ho informazioni su questo. Potrebbe riformulare la domanda o chiedere qualcos'altro?",
  pt: "Desculpe, não tenho informações sobre isso. Poderia reformular a pergunta ou perguntar sobre outra coisa?",
  nl: "Het spijt me, daar heb ik geen informatie over. Kunt u uw vraag anders formuleren of iets anders vragen?",
  pl: "Przepraszam, nie mam informacji na ten temat. Czy może Pan/Pani przeformułować pytanie lub zapytać o coś innego?",
};

export function dontKnow(language: string | null): string {
  return (language && DONT_KNOW_IN[language.split("-")[0]!.toLowerCase()]) || DONT_KNOW;
}

/**
 * Removes the NO_ANSWER marker from a streamed reply as it arrives: text that could be the start of
 * the marker is held back until the next delta shows whether it is, so subscribers never see it.
 */
export class MarkerFilter {
  private pending = "";
  private started = false;
  found = false;

  constructor(private readonly marker = NO_ANSWER) {}

  /** The part of `delta` that is safe to show now. */
  push(delta: string): string {
    let text = this.pending + delta;
    if (text.includes(this.marker)) {
      this.found = true;
      text = text.split(this.marker).join("");
    }
    let hold = 0;
    for (let n = Math.min(this.marker.length - 1, text.length); n > 0; n--) {
      if (this.marker.startsWith(text.slice(-n))) {
        hold = n;
        break;
      }
    }
    this.pending = text.slice(text.length - hold);
    return this.emit(text.slice(0, text.length - hold));
  }

  /** What was held back, once the reply is complete. */
  end(): string {
    const rest = this.pending;
    this.pending = "";
    return this.emit(rest);
  }

  /** Leading whitespace is dropped, so a reply that is only the marker shows nothing at all. */
  private emit(text: string): string {
    if (this.started) return text;
    const trimmed = text.trimStart();
    if (trimmed) this.started = true;
    return trimmed;
  }
}

/**
 * Replies through an OpenAI-compatible chat-completions endpoint, from the retrieved passages and
 * the scenario's settings. `answered` is false when the model says (with the NO_ANSWER marker)
 * that the passages don't cover the question; it then gets the don't-know reply in the
 * conversation's language, or its own words when it wrote some beside the marker. With no passages
 * at all the model may only answer greetings and small talk (the prompt says so); anything else
 * comes back with the marker.
 */
export class LlmResponder implements Responder {
  readonly name = "llm";

  constructor(private readonly client: LlmClient) {}

  async reply(input: ResponderInput): Promise<ResponderReply> {
    const filter = new MarkerFilter();
    const onChunk = input.onChunk;
    const raw = await this.client.complete(
      { messages: chatMessages(input), ...samplingFor(input.settings) },
      {
        signal: input.signal,
        onDelta: onChunk
          ? (delta) => {
              const shown = filter.push(delta);
              if (shown) onChunk(shown);
            }
          : undefined,
      },
    );
    if (onChunk) {
      const rest = filter.end();
      if (rest) onChunk(rest);
    }
    const found = raw.includes(NO_ANSWER);
    const content = raw.split(NO_ANSWER).join("").trim();
    if (found) return { content: content || dontKnow(input.language), sources: [], answered: false };
    return { content, sources: sourcesOf(input.passages), answered: true };
  }
}
