import { sql, sqlList } from "../db/sql.ts";
import type { EventView } from "../events/live.ts";
import type { Passage } from "../ai/responder.ts";
import { conflict } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { visitorConversation } from "./conversation-access.ts";
import { HISTORY, loadConversationWindow, type ConversationWindow } from "./conversation-log.ts";
import type { ConversationRow, EventRow } from "./conversation-view.ts";
import { cachedHandoffConfiguration } from "./handoff-cache.ts";
import { loadHandoffConfiguration, type HandoffConfigurationJson } from "./handoff-configuration.ts";
import { acceptHandoff, declineHandoff, llmOf, offerHandoff, workspaceOfConversation, type HandoffStep } from "./handoff-steps.ts";
import {
  isGenericActive,
  judgeGuidelines,
  llmGuidelines,
  mentionsKeyword,
  readOfferAnswer,
  soundsFrustrated,
  type HandoffTrigger,
  type TranscriptLine,
} from "./handoff-triggers.ts";

// The automatic human handoff in the chat flow (reference 001, "Handoff Configuration"). After
// each visitor message, with the scenario's handoff active: an open offer is settled by the
// visitor's answer (yes → human operators; anything else → the assistant goes on); otherwise the
// triggers are checked (keywords, frustration, a file, the LLM-judged guidelines) and, when one
// fires, the assistant asks question_message instead of answering; an answer the responder could
// not give (lack_of_knowledge) is followed by the question. With handoff off (the cached
// configuration says so) a message costs nothing more.

/** After a declined offer, the rules offer again only after this many more visitor messages (keywords always do). */
export const REOFFER_AFTER = 3;

/** What answer() gives back (chat.ts). */
export interface Answered {
  event: EventView;
  row: EventRow;
  conversation: ConversationRow;
  searched: { question: string; passages: Passage[] };
}

export interface Turn {
  answered: Answered | null;
  /** The conversation and its messages after the turn, for the analysis. */
  window: ConversationWindow;
  /** The conversation as the turn left it, when it wrote anything. */
  conversation: ConversationRow | null;
  /** What an inline caller shows the visitor: the last message the assistant posted. */
  event: EventView | null;
}

/**
 * The active handoff configuration of a scenario, or null when handoff is off. Cached: an inactive
 * scenario costs one lane statement per TTL, an active one the full document.
 */
export function activeHandoffConfiguration(ctx: Pick<ServiceContext, "db" | "sql">, scenarioId: string): Promise<HandoffConfigurationJson | null> {
  return cachedHandoffConfiguration(scenarioId, async (id) => {
    const [row] = await ctx.sql.all<{ isActive: unknown }>(sql`SELECT "isActive" FROM "HandoffConfiguration" WHERE "scenarioId" = ${id}`);
    if (!row || !row.isActive) return null;
    return loadHandoffConfiguration(ctx.db, id);
  });
}

const withMessages = (w: ConversationWindow, conversation: ConversationRow, added: EventRow[]): ConversationWindow => ({
  conversation,
  messages: [...w.messages, ...added].slice(-HISTORY),
});

const transcriptOf = (w: ConversationWindow): TranscriptLine[] =>
  w.messages.filter((m) => !m.isWelcome).map((m) => ({ author: m.author, content: m.content }));

/**
 * One turn of the assistant: the handoff flow around `reply` (answer() of the chat flow). Answers
 * what the chat flow needs next: the reply, the window for the analysis, the latest row.
 */
export async function handoffTurn(
  ctx: ServiceContext,
  window: ConversationWindow,
  knownWorkspaceId: string | undefined,
  reply: (window: ConversationWindow) => Promise<Answered | null>,
): Promise<Turn> {
  const plain = async (w: ConversationWindow, wrote: ConversationRow | null): Promise<Turn> => {
    const answered = await reply(w);
    return {
      answered,
      window: answered ? withMessages(w, answered.conversation, [answered.row]) : w,
      conversation: answered?.conversation ?? wrote,
      event: answered?.event ?? null,
    };
  };
  const conv = window.conversation;
  if (conv.status === "human_active") return plain(window, null);
  const lastAnswer = window.messages.findLastIndex((e) => e.author !== "visitor");
  const unanswered = window.messages.slice(lastAnswer + 1);
  if (!unanswered.length) return plain(window, null);
  const config = await activeHandoffConfiguration(ctx, conv.scenarioId);
  if (!config) return plain(window, null);

  const workspaceId = () => workspaceOfConversation(ctx, conv, knownWorkspaceId);
  const visitorIds = unanswered.map((e) => e.id);
  const step = (w: ConversationWindow, s: HandoffStep): Turn => ({
    answered: null,
    window: withMessages(w, s.conversation, s.events),
    conversation: s.conversation,
    event: s.views[s.views.length - 1] ?? null,
  });

  let current = window;
  let mayOffer = true;
  if (offerOpen(conv, window.messages)) {
    const answer = readOfferAnswer(unanswered[0]!.content, config.settings.keywords);
    if (answer === "yes") {
      const accepted = await acceptHandoff(ctx, {
        conversation: conv,
        config,
        workspaceId: await workspaceId(),
        visitorEventIds: visitorIds.slice(0, 1),
        transcript: transcriptOf(window),
      });
      return accepted ? step(window, accepted) : plain(window, null);
    }
    // No, or something else: the assistant answers it, without offering again in the same breath.
    const declined = await declineHandoff(ctx, {
      conversation: conv,
      workspaceId: await workspaceId(),
      visitorEventIds: visitorIds.slice(0, 1),
      explicit: answer === "no",
    });
    if (declined) current = { conversation: declined, messages: window.messages };
    mayOffer = false;
  }

  const texts = unanswered.map((e) => e.content);
  const before = mayOffer ? await triggerBeforeReply(ctx, config, current, texts, visitorIds) : null;
  if (before) {
    const afterOrd = unanswered[unanswered.length - 1]!.ord;
    const offered = await offerHandoff(ctx, { conversation: current.conversation, config, trigger: before, workspaceId: await workspaceId(), afterOrd });
    if (offered) return step(current, offered);
  }

  const turn = await plain(current, current === window ? null : current.conversation);
  const answered = turn.answered;
  if (
    mayOffer &&
    answered &&
    isGenericActive(config, "lack_of_knowledge") &&
    (answered.row.messageInsights as { answered?: unknown } | null)?.answered === false &&
    rulesMayOffer(current.conversation, current.messages)
  ) {
    const offered = await offerHandoff(ctx, {
      conversation: answered.conversation,
      config,
      trigger: "lack_of_knowledge",
      workspaceId: await workspaceId(),
      afterOrd: answered.row.ord,
    });
    if (offered) return { ...step(turn.window, offered), answered };
  }
  return turn;
}

/**
 * The visitor's next message answers the offer only while the question is the assistant's last
 * word: after an agent took over and handed back, an old offer is moot.
 */
function offerOpen(c: ConversationRow, messages: EventRow[]): boolean {
  if (c.handoffPhase !== "offered" || c.status === "human_active") return false;
  const last = messages.findLast((e) => e.author !== "visitor");
  return last?.handoffState === "offered";
}

/** After a declined offer, wait for REOFFER_AFTER more visitor messages. */
function rulesMayOffer(c: ConversationRow, messages: EventRow[]): boolean {
  if (c.handoffPhase !== "declined" || !c.handoffOfferedAt) return true;
  const since = c.handoffOfferedAt.getTime();
  return messages.filter((m) => m.author === "visitor" && m.createdAt.getTime() > since).length >= REOFFER_AFTER;
}

/** The trigger that makes the assistant offer a handoff instead of answering, if any. */
async function triggerBeforeReply(
  ctx: ServiceContext,
  config: HandoffConfigurationJson,
  w: ConversationWindow,
  texts: string[],
  visitorIds: string[],
): Promise<HandoffTrigger | null> {
  // The visitor asking for a person always counts, even right after declining an offer.
  if (texts.some((t) => mentionsKeyword(config.settings.keywords, t))) return "keyword";
  if (!rulesMayOffer(w.conversation, w.messages)) return null;
  if (isGenericActive(config, "user_frustration")) {
    const allVisitor = w.messages.filter((m) => m.author === "visitor" && m.content.trim()).map((m) => m.content);
    if (soundsFrustrated(texts, allVisitor)) return "user_frustration";
  }
  if (isGenericActive(config, "media_message")) {
    // The window leaves attachments out (the responder never reads them): one indexed look-up.
    const [file] = await ctx.sql.all(sql`SELECT "id" FROM "MessageAttachment" WHERE "eventId" IN (${sqlList(visitorIds)}) LIMIT 1`);
    if (file) return "media_message";
  }
  const llm = llmOf(ctx);
  if (llm) return judgeGuidelines(llm, llmGuidelines(config), transcriptOf(w), ctx.log);
  return null;
}

/**
 * The visitor's click on the offer (GraphQL respondToHandoff): accept hands the conversation to
 * human operators as a "yes" would; decline lets the assistant go on. CONFLICT when no offer is open.
 */
export async function respondToHandoff(ctx: ServiceContext, visitorToken: string, accept: boolean): Promise<ConversationRow> {
  const { conversation, workspaceId } = await visitorConversation(ctx, visitorToken);
  const noOffer = () => conflict("No handoff offer is waiting for an answer in this conversation");
  if (conversation.handoffPhase !== "offered" || conversation.status === "human_active") throw noOffer();
  const window = (await loadConversationWindow(ctx, conversation.id)) ?? { conversation, messages: [] };
  if (!offerOpen(window.conversation, window.messages)) throw noOffer();
  if (!accept) {
    const declined = await declineHandoff(ctx, { conversation, workspaceId, visitorEventIds: [], explicit: true });
    if (!declined) throw noOffer();
    return declined;
  }
  // Honoured even if handoff was switched off since the offer: the visitor was asked.
  const config = (await activeHandoffConfiguration(ctx, conversation.scenarioId)) ?? (await loadHandoffConfiguration(ctx.db, conversation.scenarioId));
  const accepted = await acceptHandoff(ctx, { conversation, config, workspaceId, visitorEventIds: [], transcript: transcriptOf(window) });
  if (!accepted) throw noOffer();
  return accepted.conversation;
}
