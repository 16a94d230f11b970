import { LlmAnalyzer } from "../ai/analyzer.ts";
import type { Runtime } from "./context.ts";

// Summaries of imported pages (summarize, individual_with_summary), kept in the article's
// description. The configured LLM writes them when there is one; without one — or when it fails —
// an extractive summary: the page's most representative sentences, in their original order.

/** A summary's length at most, whoever wrote it. */
export const SUMMARY_MAX_CHARS = 600;
/** How much of the page the model reads (pages can be long; the start says what they are about). */
const LLM_INPUT_CHARS = 12_000;
const EXTRACTIVE_SENTENCES = 3;

const INSTRUCTIONS = `You summarize web pages imported into a customer-support knowledge base.
Write a summary of the page in at most 3 sentences, in the page's language: what it is about and the key facts a support assistant needs.
Reply with the summary only: no preamble, no markdown, no quotes.`;

export interface SummaryOptions {
  title?: string;
  signal?: AbortSignal;
}

/** The page's summary: the LLM's when one is configured and answers, else the extractive one. */
export async function summarize(runtime: Pick<Runtime, "analyzer" | "log">, text: string, options: SummaryOptions = {}): Promise<string> {
  const llm = runtime.analyzer instanceof LlmAnalyzer ? runtime.analyzer.client : null;
  if (llm && text.trim()) {
    try {
      const page = text.length > LLM_INPUT_CHARS ? `${text.slice(0, LLM_INPUT_CHARS)}\n[…]` : text;
      const reply = await llm.complete(
        {
          messages: [
            { role: "system", content: INSTRUCTIONS },
            { role: "user", content: `${options.title ? `Title: ${options.title}\n\n` : ""}${page}` },
          ],
          temperature: 0.2,
          max_tokens: 300,
        },
        { signal: options.signal },
      );
      const summary = bound(reply.replace(/\s+/g, " ").trim());
      if (summary) return summary;
    } catch (err) {
      if (options.signal?.aborted) throw err;
      runtime.log.warn({ err }, "LLM page summary failed; using the extractive summary");
    }
  }
  return extractiveSummary(text, { title: options.title });
}

// Words too common to say what a text is about (English; other languages rely on frequency alone).
const STOP_WORDS = new Set(
  (
    "a an the and or but if then else of to in on at by for with from as is are was were be been being it its this that these those " +
    "there here what which who whom whose when where why how all any both each few more most other some such no nor not only own same so " +
    "than too very can will just should now you your yours we our ours they their them he she his her him i me my mine do does did done " +
    "have has had having would could may might must shall about above after again against below between into through during before under " +
    "over up down out off once also get got us one"
  ).split(" "),
);

const SENTENCE_END = /[.!?…。！？]["'”’)\]]*$/u;
const sentenceSegmenter = new Intl.Segmenter(undefined, { granularity: "sentence" });
const wordSegmenter = new Intl.Segmenter(undefined, { granularity: "word" });

function contentWords(sentence: string): string[] {
  const words: string[] = [];
  for (const s of wordSegmenter.segment(sentence.toLowerCase())) {
    if (!s.isWordLike || /^\d+$/.test(s.segment)) continue;
    if (STOP_WORDS.has(s.segment) || (s.segment.length < 3 && /^[a-z]+$/.test(s.segment))) continue;
    words.push(s.segment);
  }
  return words;
}

function sentencesOf(text: string): string[] {
  const out: string[] = [];
  // Paragraph breaks end sentences too (headings and list items have no full stop).
  for (const paragraph of text.split(/\n\s*\n/)) {
    const flat = paragraph.replace(/\s+/g, " ").trim();
    if (!flat) continue;
    for (const s of sentenceSegmenter.segment(flat)) {
      const sentence = s.segment.trim();
      if (sentence) out.push(sentence);
    }
  }
  return out;
}

/**
 * The extractive summary: sentences scored by how frequent their words are in the whole text
 * (stop words left out, title words counting double), the best three kept in their original order,
 * bounded to SUMMARY_MAX_CHARS. Headings, menu entries and other fragments (no closing punctuation,
 * or fewer than three words that count) are not candidates unless nothing else is.
 */
export function extractiveSummary(text: string, { title }: { title?: string } = {}): string {
  const sentences = sentencesOf(text);
  if (sentences.length <= EXTRACTIVE_SENTENCES) return bound(sentences.join(" "));
  const freq = new Map<string, number>();
  for (const s of sentences) for (const w of contentWords(s)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const titleWords = new Set(title ? contentWords(title) : []);
  const max = Math.max(1, ...freq.values());
  const scored = sentences.map((sentence, index) => {
    const words = contentWords(sentence);
    const unique = new Set(words);
    let sum = 0;
    for (const w of unique) sum += ((freq.get(w) ?? 0) / max) * (titleWords.has(w) ? 2 : 1);
    // Dividing by the square root favours neither one-liners nor run-on sentences.
    const score = unique.size ? sum / Math.sqrt(words.length) : 0;
    return { sentence, index, score, candidate: words.length >= 3 && SENTENCE_END.test(sentence) };
  });
  const pool = scored.some((s) => s.candidate) ? scored.filter((s) => s.candidate) : scored;
  const best = [...pool]
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, EXTRACTIVE_SENTENCES)
    .sort((a, b) => a.index - b.index);
  return bound(best.map((s) => s.sentence).join(" "));
}

/** Cut at a word boundary with an ellipsis when over the bound. */
function bound(summary: string): string {
  if (summary.length <= SUMMARY_MAX_CHARS) return summary;
  const cut = summary.slice(0, SUMMARY_MAX_CHARS - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > SUMMARY_MAX_CHARS / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.]+$/, "")}…`;
}
