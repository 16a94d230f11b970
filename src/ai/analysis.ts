import { json, rowsOf, sql, sqlJoin, sqlList, timestamp } from "../db/sql.ts";
import type { UnifiedAnalysis } from "../events/live.ts";
import { retrievePassages, contentWords } from "../services/answer-retrieval.ts";
import { CHAT_TX, publishConversationChange } from "../services/conversation-log.ts";
import type { ServiceContext } from "../services/context.ts";
import type { ConversationRow } from "../services/conversation-view.ts";
import { loadConversationWindow, type ConversationWindow } from "../services/conversation-log.ts";
import { MIN_COVERAGE } from "./kb-responder.ts";
import type { Passage } from "./responder.ts";
import { detectLanguage, mostFrequentLanguage } from "./language.ts";
import { titleFrom, type AnalysisMessage } from "./analysis-rules.ts";

// Conversation analysis after visitor messages: each new visitor message's language, the
// conversation's most frequent language, unified_analysis (by ctx.analyzer: rules, or an LLM when
// configured) and a title while the conversation has none of its own. A fixed number of queries
// per call, whatever the conversation's length.

/** Visitor messages (newest first) whose best knowledge-base match can name the topic. */
const TOPIC_MESSAGES = 3;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Field by field: PostgreSQL's jsonb doesn't keep key order. */
function sameAnalysis(a: UnifiedAnalysis | null, b: UnifiedAnalysis): boolean {
  return !!a && (Object.keys(b) as (keyof UnifiedAnalysis)[]).every((k) => a[k] === b[k]);
}

/**
 * The title of the trained article that best covers one of the latest visitor questions (newest
 * first); a question counts when an article covers at least half of its content words, as for
 * answering.
 */
async function knowledgeBaseTopic(
  ctx: ServiceContext,
  scenarioId: string,
  visitorTexts: string[],
  known?: { question: string; passages: Passage[] },
): Promise<string | null> {
  const questions = visitorTexts
    .slice(-TOPIC_MESSAGES)
    .reverse()
    .filter((t) => contentWords(t).length);
  // Newest first, one search at a time: the newest usually names the topic. The reply just
  // searched for its question (passages best first), so that one needs no second search.
  for (const q of questions) {
    const [best] = known?.question === q ? known.passages : await retrievePassages(ctx, scenarioId, q, 1);
    if (best && best.coverage >= MIN_COVERAGE) return best.title;
  }
  return null;
}

/**
 * Analyses the conversation; answers the updated row when something visible changed (else null).
 * With publish (the default) the inbox hears about that change; the chat flow passes false after
 * a reply, to tell the inbox once about both, and passes the window it already read.
 */
export async function analyzeConversation(
  ctx: ServiceContext,
  conversationId: string,
  options: { publish?: boolean; window?: ConversationWindow; searched?: { question: string; passages: Passage[] } } = {},
): Promise<ConversationRow | null> {
  const window = options.window ?? (await loadConversationWindow(ctx, conversationId));
  if (!window) return null;
  const conv = window.conversation;
  // Languages are detected for the window's visitor messages that have none yet; older ones were
  // looked at by the analyses that followed them.
  const undetected = window.messages.filter((e) => e.author === "visitor" && e.language === null);
  const messages: AnalysisMessage[] = window.messages.map((e) => ({
    ord: e.ord,
    author: e.author,
    content: e.content,
    isWelcome: e.isWelcome,
    answered: isRecord(e.messageInsights) && typeof e.messageInsights.answered === "boolean" ? e.messageInsights.answered : null,
  }));
  const visitorTexts = messages.filter((m) => m.author === "visitor" && m.content.trim()).map((m) => m.content);
  if (!visitorTexts.length && !undetected.length) return null;

  // Languages: only messages long enough to tell get one; the others stay null and never count.
  const detected = new Map<string, string[]>();
  for (const e of undetected) {
    const lang = detectLanguage(e.content);
    if (lang) detected.set(lang, [...(detected.get(lang) ?? []), e.id]);
  }

  const previous = isRecord(conv.unifiedAnalysis) ? (conv.unifiedAnalysis as unknown as UnifiedAnalysis) : null;
  const kbTopic = await knowledgeBaseTopic(ctx, conv.scenarioId, visitorTexts, options.searched);
  let language = conv.mostFrequentLanguage;
  // The language as it will be after this call's detections, for the analyzer's hint.
  if (!language && detected.size === 1) language = [...detected.keys()][0]!;
  const outcome = await ctx.analyzer.analyze(
    { messages, kbTopic, previousTopic: previous?.topic ?? null, language },
    ctx.log,
  );

  // A title is given while the conversation has none of its own: empty, the numbered default,
  // or one an earlier analysis derived from a visitor message (a topic found later replaces it).
  const derived = new Set(["", `Conversation ${conv.ord}`, ...visitorTexts.map((t) => titleFrom(t))]);
  const title = outcome.title && derived.has(conv.title) ? outcome.title : conv.title;
  const analysisChanged = !sameAnalysis(previous, outcome.analysis);
  if (!detected.size && !analysisChanged && title === conv.title) return null;

  const now = ctx.clock();
  const updated = await ctx.sql.transaction(async (q) => {
    const set = [sql`"unifiedAnalysis" = ${json(outcome.analysis)}`, sql`"title" = ${title}`, sql`"updatedAt" = ${timestamp(now)}`];
    if (detected.size) {
      for (const [lang, ids] of detected) {
        await q.run(sql`UPDATE "ConversationEvent" SET "language" = ${lang} WHERE "id" IN (${sqlList(ids)}) AND "language" IS NULL`);
      }
      // Counted from the events themselves, so concurrent analyses can't count a message twice.
      const groups = await q.all<{ language: string; n: number | bigint; lastOrd: number | bigint }>(
        sql`SELECT "language", COUNT(*) AS "n", MAX("ord") AS "lastOrd" FROM "ConversationEvent"
          WHERE "conversationId" = ${conversationId} AND "type" = 'message' AND "author" = 'visitor' AND "language" IS NOT NULL
          GROUP BY "language"`,
      );
      const counts = groups.map((g) => ({ language: g.language, count: Number(g.n), lastOrd: Number(g.lastOrd) }));
      set.push(
        sql`"languageCounts" = ${json(Object.fromEntries(counts.map((c) => [c.language, c.count])))}`,
        sql`"mostFrequentLanguage" = ${mostFrequentLanguage(counts)}`,
      );
    }
    const [row] = await rowsOf<ConversationRow>(q, "Conversation", sql`UPDATE "Conversation" SET ${sqlJoin(set)} WHERE "id" = ${conversationId} RETURNING *`);
    return row;
  }, CHAT_TX);
  if (!updated) return null;

  const visibleChange =
    analysisChanged || title !== conv.title || updated.mostFrequentLanguage !== conv.mostFrequentLanguage;
  if (!visibleChange) return null;
  if (options.publish !== false) publishConversationChange(ctx, updated, "analysis");
  return updated;
}
