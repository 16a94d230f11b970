// Shared by search and the article list's content filter; no imports, so any module can use it.

/** Bounded, so one request cannot make the server tokenise and match without end. */
export const MAX_QUERY_LENGTH = 500;
export const MAX_QUERY_WORDS = 32;

/** Words: letters with their combining marks (Devanagari, Thai, decomposed accents…) and digits. */
export const WORD = /[\p{L}\p{M}\p{N}]+/gu;
/** The query's words, in order, without duplicates; punctuation never reaches the index syntax. */
export function queryWords(query: string): string[] {
  return [...new Set(query.match(WORD) ?? [])];
}

