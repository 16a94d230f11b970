import type { LlmConfig } from "../config.ts";
import type { OutboundGuard } from "../services/outbound-guard.ts";
import { LlmClient, LlmError } from "./llm-client.ts";

// Translation of operators' and external agents' replies into the visitor's language, through an
// OpenAI-compatible chat-completions endpoint of its own (TRANSLATOR_*): a small, cheap model is
// enough for this, and it need not be the model that writes the assistant's answers.

export interface Translator {
  readonly model: string;
  /** The text in the target language (ISO 639-1 code); throws TranslationError. */
  translate(text: string, targetLanguage: string): Promise<string>;
}

export class TranslationError extends Error {
  override name = "TranslationError";
}

/** "de" → "German"; a code Intl does not know stays as it is. */
export function languageName(code: string): string {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** Models like to wrap their answer in quotes or fences when told to return "only the text". */
function unwrap(text: string): string {
  let t = text.trim();
  const fence = /^```[\w-]*\n([\s\S]*?)\n?```$/.exec(t);
  if (fence) t = fence[1]!.trim();
  return t;
}

export class LlmTranslator implements Translator {
  private readonly client: LlmClient;

  constructor(config: LlmConfig, guard?: OutboundGuard) {
    this.client = new LlmClient(config, guard);
  }

  get model(): string {
    return this.client.model;
  }

  async translate(text: string, targetLanguage: string): Promise<string> {
    const language = languageName(targetLanguage);
    try {
      const out = await this.client.complete({
        temperature: 0,
        messages: [
          {
            role: "system",
            content:
              `You translate customer-support messages into ${language} (language code ${targetLanguage}). ` +
              "Keep the meaning, tone, names, numbers, URLs and formatting. Reply with the translation only, nothing else.",
          },
          { role: "user", content: text },
        ],
      });
      const translated = unwrap(out);
      if (!translated) throw new TranslationError("translator returned an empty text");
      return translated;
    } catch (err) {
      if (err instanceof TranslationError) throw err;
      throw new TranslationError(err instanceof LlmError ? err.message : `translation failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

export function createTranslator(config: { translator: LlmConfig | null }, guard?: OutboundGuard): Translator | null {
  return config.translator ? new LlmTranslator(config.translator, guard) : null;
}
