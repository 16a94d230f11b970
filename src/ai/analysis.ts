import type { Prisma } from "../generated/sqlite/client.ts";
import type { UnifiedAnalysis } from "../events/live.ts";
import { retrievePassages, contentWords } from "../services/answer-retrieval.ts";
import { CHAT_TX, publishConversationChange } from "../services/conversation-log.ts";
import type { ServiceContext } from "../services/context.ts";
import type { ConversationRow } from "../services/conversation-view.ts";
import { MIN_COVERAGE } from "./kb-responder.ts";
import { detectLanguage, mostFrequentLanguage } from "./language.ts";
import { titleFrom, type AnalysisMessage } from "./analysis-rules.ts";

// Conversation analysis after visitor messages: each new visitor message's language, the
// conversation's most frequent language, unified_analysis (by ctx.analyzer: rules, or an LLM when
// configured) and a title while the conversation has none of its own. A fixed number of queries
// per call, whatever the conversation's length.

/** Recent messages the analysis looks at. */
const WINDOW = 40;
/** Visitor messages (newest first) whose best knowledge-base match can name the topic. */
const TOPIC_MESSAGES = 3;
/** Undetected visitor messages looked at per call (older ones were looked at by earlier calls). */
const DETECT_BATCH = 50;

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
async function knowledgeBaseTopic(ctx: ServiceContext, scenarioId: string, visitorTexts: string[]): Promise<string | null> {
  const questions = visitorTexts
    .slice(-TOPIC_MESSAGES)
    .reverse()
    .filter((t) => contentWords(t).length);
  const results = await Promise.all(questions.map((q) => retrievePassages(ctx, scenarioId, q, 1)));
  for (const [best] of results) if (best && best.coverage >= MIN_COVERAGE) return best.title;
  return null;
}

/**
 * Analyses the conversation; answers the updated row when something visible changed (else null).
 * With publish (the default) the inbox hears about that change; the chat flow passes false after
 * a reply, to tell the inbox once about both.
 */
export async function analyzeConversation(
  ctx: ServiceContext,
  conversationId: string,
  options: { publish?: boolean } = {},
): Promise<ConversationRow | null> {
  const [conv, undetected] = await Promise.all([
    ctx.db.conversation.findUnique({
      where: { id: conversationId },
      include: { events: { where: { type: "message" }, orderBy: { ord: "desc" }, take: WINDOW } },
    }),
    ctx.db.conversationEvent.findMany({
      where: { conversationId, type: "message", author: "visitor", language: null },
      orderBy: { ord: "desc" },
      take: DETECT_BATCH,
      select: { id: true, content: true },
    }),
  ]);
  if (!conv) return null;
  const messages: AnalysisMessage[] = [...conv.events].reverse().map((e) => ({
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
  const kbTopic = await knowledgeBaseTopic(ctx, conv.scenarioId, visitorTexts);
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

  const updated = await ctx.db.$transaction(async (tx) => {
    let languages: { languageCounts?: Prisma.InputJsonValue; mostFrequentLanguage?: string | null } = {};
    if (detected.size) {
      for (const [lang, ids] of detected) {
        await tx.conversationEvent.updateMany({ where: { id: { in: ids }, language: null }, data: { language: lang } });
      }
      // Counted from the events themselves, so concurrent analyses can't count a message twice.
      const groups = await tx.conversationEvent.groupBy({
        by: ["language"],
        where: { conversationId, type: "message", author: "visitor", language: { not: null } },
        _count: { _all: true },
        _max: { ord: true },
      });
      const counts = groups.map((g) => ({ language: g.language!, count: g._count._all, lastOrd: g._max.ord ?? 0 }));
      languages = {
        languageCounts: Object.fromEntries(counts.map((c) => [c.language, c.count])),
        mostFrequentLanguage: mostFrequentLanguage(counts),
      };
    }
    return tx.conversation.update({
      where: { id: conversationId },
      data: { ...languages, unifiedAnalysis: outcome.analysis as unknown as Prisma.InputJsonValue, title },
    });
  }, CHAT_TX);

  const visibleChange =
    analysisChanged || title !== conv.title || updated.mostFrequentLanguage !== conv.mostFrequentLanguage;
  if (!visibleChange) return null;
  if (options.publish !== false) publishConversationChange(ctx, updated, "analysis");
  return updated;
}
