import type { Lead } from "../generated/sqlite/client.ts";
import type { ServiceContext } from "./context.ts";
import type { QualificationMessage } from "./qualification.ts";

// What a task knows about its lead when it runs: the lead's conversations (most recent first),
// their topics and messages, and the assistant (scenario) the lead talked to.

/** Messages a task reads, from the lead's most recent conversations. */
const MESSAGES = 60;
const CONVERSATIONS = 5;

export interface LeadConversationSummary {
  id: string;
  scenarioId: string;
  title: string;
  topic: string | null;
  lastMessageAt: Date | null;
}

export interface LeadContext {
  lead: Lead;
  /** Most recent first. */
  conversations: LeadConversationSummary[];
  /** Oldest first, across the most recent conversations. */
  messages: QualificationMessage[];
  /** The assistant's (scenario's) name: the lead's widget, else its latest conversation's. */
  scenarioName: string | null;
}

/** A conversation's topic: the analysis's, else a real title (not the placeholder "Conversation 12"). */
export function topicOf(c: { title: string; unifiedAnalysis: unknown }): string | null {
  const analysis = c.unifiedAnalysis as { topic?: unknown } | null;
  if (analysis && typeof analysis.topic === "string" && analysis.topic.trim()) return analysis.topic.trim();
  const title = c.title.trim();
  return title && !/^Conversation \d+$/.test(title) ? title : null;
}

export async function leadContext(ctx: ServiceContext, lead: Lead): Promise<LeadContext> {
  const links = await ctx.db.leadConversation.findMany({ where: { leadId: lead.id }, select: { conversationId: true } });
  const rows = links.length
    ? await ctx.db.conversation.findMany({
        where: { id: { in: links.map((l) => l.conversationId) } },
        select: { id: true, scenarioId: true, title: true, unifiedAnalysis: true, lastMessageAt: true, createdAt: true },
      })
    : [];
  const at = (r: { lastMessageAt: Date | null; createdAt: Date }) => (r.lastMessageAt ?? r.createdAt).getTime();
  rows.sort((a, b) => at(b) - at(a));
  const conversations = rows.map((r) => ({ id: r.id, scenarioId: r.scenarioId, title: r.title, topic: topicOf(r), lastMessageAt: r.lastMessageAt }));
  const recent = rows.slice(0, CONVERSATIONS).map((r) => r.id);
  const events = recent.length
    ? await ctx.db.conversationEvent.findMany({
        where: { conversationId: { in: recent }, type: "message", isWelcome: false },
        orderBy: [{ createdAt: "desc" }, { ord: "desc" }],
        take: MESSAGES,
        select: { author: true, content: true },
      })
    : [];
  const scenarioId = lead.scenarioId ?? conversations[0]?.scenarioId ?? null;
  const scenario = scenarioId ? await ctx.loaders.scenario.load(scenarioId) : null;
  return {
    lead,
    conversations,
    messages: events.reverse().map((e) => ({ author: e.author, content: e.content })),
    scenarioName: scenario?.name ?? null,
  };
}
