import { sql } from "../db/sql.ts";
import type { Passage } from "../ai/responder.ts";
import type { Runtime } from "./context.ts";
import { MAX_QUERY_WORDS, WORD } from "./search-words.ts";

// Retrieval for the assistant: the trained answer index (published versions as of the last
// training) through its full-text index ("AnswerSearch" FTS5 table on SQLite, the stored tsvector
// "search" on PostgreSQL), then the best paragraphs of the best entries.

/** Words that carry no topic in the languages the widget is most used in. */
const STOPWORDS = new Set(
  (
    "a an and are as at be but by can could do does for from have how i if in is it me my of on or our please so " +
    "that the their there this to was we what when where which who why will with would you your hi hello hey thanks thank " +
    "le la les un une des de du et est que qui quoi pour dans je vous il elle nous ne pas " +
    "el los las uno una y es que por para en yo usted no " +
    "der die das ein eine und ist ich sie wir nicht zu mit von"
  ).split(" "),
);

/** A question's content words: lower-cased, without stopwords, bounded. */
export function contentWords(text: string): string[] {
  const words = (text.toLowerCase().match(WORD) ?? []).filter((w) => w.length > 1 && !STOPWORDS.has(w));
  return [...new Set(words)].slice(0, MAX_QUERY_WORDS);
}

interface EntryRow {
  id: number;
  articleId: number;
  title: string;
  content: string;
  url: string | null;
}

/** Paragraphs of an entry; long ones split at sentence ends so a passage stays readable. */
export function paragraphs(content: string, max = 600): string[] {
  const out: string[] = [];
  for (const para of content.split(/\n\s*\n|\r?\n/).map((p) => p.trim()).filter(Boolean)) {
    if (para.length <= max) {
      out.push(para);
      continue;
    }
    let current = "";
    for (const sentence of para.match(/[^.!?]+[.!?]*\s*/g) ?? [para]) {
      if (current && current.length + sentence.length > max) {
        out.push(current.trim());
        current = "";
      }
      current += sentence;
    }
    if (current.trim()) out.push(current.trim());
  }
  return out;
}

/** Does text contain the word (or a word starting with it, as the index matches prefixes)? */
function matcher(word: string): RegExp {
  return new RegExp(`(^|[^\\p{L}\\p{M}\\p{N}])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "iu");
}

export async function retrievePassages(
  runtime: Pick<Runtime, "sql">,
  scenarioId: string,
  question: string,
  limit = 3,
): Promise<Passage[]> {
  const words = contentWords(question);
  if (!words.length) return [];
  let rows: EntryRow[];
  if (runtime.sql.dialect === "sqlite") {
    const match = words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(" OR ");
    rows = await runtime.sql.all<EntryRow>(sql`
      SELECT e."id", e."articleId", e."title", e."content", e."url"
      FROM "AnswerSearch" s JOIN "AnswerIndexEntry" e ON e."id" = s.rowid
      WHERE "AnswerSearch" MATCH ${match} AND e."scenarioId" = ${scenarioId}
      ORDER BY bm25("AnswerSearch", 2.0, 1.0) LIMIT 5`);
  } else {
    const terms = words.map((w) => `'${w.replaceAll("'", "''").replaceAll("\\", "\\\\")}':*`).join(" | ");
    rows = await runtime.sql.all<EntryRow>(sql`
      SELECT "id", "articleId", "title", "content", "url"
      FROM "AnswerIndexEntry", to_tsquery('simple', ${terms}) q
      WHERE "scenarioId" = ${scenarioId} AND "search" @@ q
      ORDER BY ts_rank("search", q) DESC LIMIT 5`);
  }
  const patterns = words.map(matcher);
  const passages: Passage[] = [];
  rows.forEach((row, rank) => {
    const inTitle = patterns.map((p) => p.test(row.title));
    for (const text of paragraphs(row.content)) {
      const inText = patterns.map((p) => p.test(text));
      const matched = inText.filter(Boolean).length;
      if (!matched) continue;
      const covered = patterns.filter((_, i) => inText[i] || inTitle[i]).length;
      const coverage = covered / patterns.length;
      // Coverage first; the entry's rank and the paragraph's own matches break ties.
      const score = coverage * 10 + matched / patterns.length - rank * 0.1;
      passages.push({ articleId: row.articleId, title: row.title, url: row.url, text, coverage, score });
    }
  });
  return passages.sort((a, b) => b.score - a.score).slice(0, limit);
}
