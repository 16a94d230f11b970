import { z } from "zod";
import type { ArticleLangUrl } from "../generated/sqlite/client.ts";
import { conflict, notFound } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import { findArticle } from "./articles.ts";
import { isLanguageCode } from "./chatbot-settings.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput, parseQuery } from "./validation.ts";

const isHttpUrl = (s: string) => {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
};

export const LangUrlInput = z
  .object({
    url: z
      .string({ error: "is required" })
      .max(2048)
      .refine(isHttpUrl, "must be an absolute http(s) URL"),
  })
  .strict();

const Language = z.object({
  language: z
    .string()
    .refine(isLanguageCode, "must be a valid language code (en, de, pt-BR, …)")
    .transform((code) => Intl.getCanonicalLocales(code)[0]!),
});

/**
 * A language code from a path or an argument (a bad one is a 400), in its canonical form
 * (pt-br → pt-BR, zh-hant → zh-Hant): rows are stored and looked up by it, so spellings of one
 * language are one pair.
 */
export function parseLanguage(raw: unknown): string {
  return parseQuery(Language, { language: raw }).language;
}

async function target(ctx: ServiceContext, access: "read" | "write", articleId: number, language: string, forScenario?: string) {
  const scenarioId = await scenarioAccess(ctx, forScenario, access);
  const lang = parseLanguage(language);
  const article = await findArticle(ctx.db, scenarioId, articleId);
  return { articleId: article.id, language: lang };
}

async function existing(ctx: ServiceContext, key: { articleId: number; language: string }): Promise<ArticleLangUrl> {
  const row = await ctx.db.articleLangUrl.findUnique({ where: { articleId_language: key } });
  if (!row) throw notFound("Language URL");
  return row;
}

export async function getLanguageUrl(ctx: ServiceContext, articleId: number, language: string, forScenario?: string) {
  return existing(ctx, await target(ctx, "read", articleId, language, forScenario));
}

export async function createLanguageUrl(ctx: ServiceContext, articleId: number, language: string, input: unknown, forScenario?: string) {
  const key = await target(ctx, "write", articleId, language, forScenario);
  const { url } = parseInput(LangUrlInput, input);
  const now = ctx.clock();
  try {
    return await ctx.db.articleLangUrl.create({ data: { ...key, url, createdAt: now, updatedAt: now } });
  } catch (err) {
    if ((err as { code?: string }).code === "P2002") throw conflict(`A URL for language '${key.language}' already exists for this article`);
    throw err;
  }
}

export async function updateLanguageUrl(ctx: ServiceContext, articleId: number, language: string, input: unknown, forScenario?: string) {
  const key = await target(ctx, "write", articleId, language, forScenario);
  const { url } = parseInput(LangUrlInput, input);
  await existing(ctx, key);
  return ctx.db.articleLangUrl.update({ where: { articleId_language: key }, data: { url, updatedAt: ctx.clock() } });
}

/** Creates or replaces (GraphQL's set semantics). */
export async function setLanguageUrl(ctx: ServiceContext, articleId: number, language: string, input: unknown, forScenario?: string) {
  const key = await target(ctx, "write", articleId, language, forScenario);
  const { url } = parseInput(LangUrlInput, input);
  const now = ctx.clock();
  return ctx.db.articleLangUrl.upsert({
    where: { articleId_language: key },
    create: { ...key, url, createdAt: now, updatedAt: now },
    update: { url, updatedAt: now },
  });
}

export async function deleteLanguageUrl(ctx: ServiceContext, articleId: number, language: string, forScenario?: string) {
  const key = await target(ctx, "write", articleId, language, forScenario);
  const { count } = await ctx.db.articleLangUrl.deleteMany({ where: key });
  if (!count) throw notFound("Language URL");
}
