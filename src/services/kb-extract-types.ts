// Shared by the extractors (kb-extract-pdf.ts, kb-extract-docx.ts) and their entry point (kb-extract.ts).

export interface ExtractLimits {
  maxPages: number;
  maxTextChars: number;
  docxMaxInflatedBytes: number;
  docxMaxEntries: number;
}

/** What an extractor found: raw text (normalised by the caller) and the document's own title. */
export interface ExtractedDocument {
  title: string | null;
  text: string;
  pages?: number;
}

/** A file the caller sent that cannot be turned into an article; the message is theirs to read. */
export class DocumentError extends Error {
  override name = "DocumentError";
}

export function textTooLong(max: number): DocumentError {
  return new DocumentError(`The extracted text is too long (more than ${max} characters)`);
}
