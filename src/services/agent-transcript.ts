import type { TeamMember } from "../generated/sqlite/client.ts";
import type { Principal } from "../auth/scopes.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation } from "./conversation-access.ts";
import type { ConversationRow } from "./conversation-view.ts";
import { holds, isHeld } from "./takeover.ts";

// What external agents read on the Quincer routes (camelCase JSON): a conversation's transcript
// with its metadata and takeover state, and the state after a takeover or a handback. Members
// appear with their own name and avatar, so an agent's messages show who wrote them.

export interface MemberSummary {
  id: string;
  name: string;
  kind: "human" | "external_agent";
  avatarUrl: string | null;
}

export interface TakeoverView {
  member: MemberSummary | null;
  credentialId: string | null;
  takenOverAt: string | null;
  /** True when the caller (its member, or its credential when unbound) holds the takeover. */
  heldByYou: boolean;
}

export interface TakeoverStateView {
  id: string;
  status: "active" | "human_active";
  assignee: { type: string; member: MemberSummary | null };
  takeover: TakeoverView | null;
}

export interface TranslationView {
  translated: boolean;
  /** What the author wrote, when the visitor got a translation. */
  original?: string;
  /** The conversation's language at the time (what the message was, or would have been, translated into). */
  targetLanguage: string | null;
  reason?: string;
}

export interface AgentMessageView {
  id: string;
  ord: number;
  type: string;
  author: string;
  content: string;
  createdAt: string;
  member?: MemberSummary;
  handoffState?: string;
  translation?: TranslationView;
}

interface EventLike {
  id: string;
  ord: number;
  type: string;
  author: string;
  content: string;
  createdAt: Date;
  memberId: string | null;
  handoffState: string | null;
  messageInsights: unknown;
}

const summary = (m: TeamMember | null | undefined): MemberSummary | null =>
  m ? { id: m.id, name: m.name, kind: m.kind, avatarUrl: m.avatarUrl } : null;

async function member(ctx: ServiceContext, id: string | null): Promise<MemberSummary | null> {
  return id ? summary(await ctx.loaders.member.load(id)) : null;
}

function actorOf(p: Principal | null) {
  return p && p.kind !== "system" ? { memberId: p.memberId, credentialId: p.credentialId } : null;
}

export async function takeoverState(ctx: ServiceContext, c: ConversationRow): Promise<TakeoverStateView> {
  const actor = actorOf(ctx.principal);
  return {
    id: c.id,
    status: c.status,
    assignee: { type: c.assigneeType, member: await member(ctx, c.assigneeMemberId) },
    takeover: isHeld(c)
      ? {
          member: await member(ctx, c.takeoverMemberId),
          credentialId: c.takeoverCredentialId,
          takenOverAt: c.takenOverAt?.toISOString() ?? null,
          heldByYou: actor !== null && holds(c, actor),
        }
      : null,
  };
}

function translationOf(insights: unknown): TranslationView | undefined {
  if (!insights || typeof insights !== "object" || Array.isArray(insights)) return undefined;
  const i = insights as Record<string, unknown>;
  if (typeof i.translated !== "boolean") return undefined;
  const targetLanguage = typeof i.target_language === "string" ? i.target_language : null;
  if (i.translated) return { translated: true, original: String(i.original_content ?? ""), targetLanguage };
  return { translated: false, targetLanguage, reason: typeof i.reason === "string" ? i.reason : undefined };
}

export async function agentMessageView(ctx: ServiceContext, e: EventLike): Promise<AgentMessageView> {
  const view: AgentMessageView = {
    id: e.id,
    ord: e.ord,
    type: e.type,
    author: e.author,
    content: e.content,
    createdAt: e.createdAt.toISOString(),
  };
  // Optional keys only when they say something, so plain messages keep their documented shape.
  const m = await member(ctx, e.memberId);
  if (m) view.member = m;
  if (e.handoffState) view.handoffState = e.handoffState;
  const translation = translationOf(e.messageInsights);
  if (translation) view.translation = translation;
  return view;
}

/** GET /api/v1/conversations/:id: the full transcript, metadata and takeover state (conversations:read). */
export async function getAgentTranscript(ctx: ServiceContext, id: string) {
  const { conversation: conv } = await operatorConversation(ctx, id, "read");
  const events = await ctx.db.conversationEvent.findMany({ where: { conversationId: conv.id }, orderBy: { ord: "asc" } });
  const state = await takeoverState(ctx, conv);
  return {
    id: conv.id,
    widgetId: conv.scenarioId,
    ord: conv.ord,
    status: conv.status,
    title: conv.title,
    source: conv.source,
    terminated: conv.terminated,
    resolutionStatus: conv.resolutionStatus,
    language: conv.mostFrequentLanguage,
    url: conv.url,
    metadata: conv.clientMetadata ?? null,
    visitor: { name: conv.visitorName, email: conv.visitorEmail, phone: conv.visitorPhone },
    assignee: state.assignee,
    takeover: state.takeover,
    handoff: {
      phase: conv.handoffPhase,
      trigger: conv.handoffTrigger,
      offeredAt: conv.handoffOfferedAt?.toISOString() ?? null,
      handedOffAt: conv.handedOffAt?.toISOString() ?? null,
      summary: conv.handoffSummary,
    },
    createdAt: conv.createdAt.toISOString(),
    updatedAt: conv.updatedAt.toISOString(),
    lastMessageAt: conv.lastMessageAt?.toISOString() ?? null,
    messages: await Promise.all(events.map((e) => agentMessageView(ctx, e))),
  };
}
