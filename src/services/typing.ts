import type { LiveConversationMessage } from "../events/live.ts";
import { badRequest, unauthenticated } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation, visitorConversation } from "./conversation-access.ts";
import { conversationMessages, type LiveAccess } from "./live-replay.ts";
import type { Policy } from "./rate-limit.ts";

// Typing indicators: ephemeral (published, never stored). A visitor types as its widget key plus
// visitor token; an operator needs write access to the conversation (it could answer), and types
// under the name of the member its credential is bound to, when it is bound.

export type TypingIndicator = Extract<LiveConversationMessage, { kind: "typing" }>;

/**
 * Widgets send "typing" on keystrokes, usually throttled to one every few seconds; two a second
 * per person and conversation is plenty, and keeps a public key from flooding subscribers.
 */
export const TYPING_POLICY: Policy = { name: "typing", points: 60, windowSeconds: 60 };

export async function setTyping(
  ctx: ServiceContext,
  conversationId: string,
  isTyping: boolean,
  visitorToken?: string | null,
): Promise<TypingIndicator> {
  if (typeof isTyping !== "boolean") throw badRequest("isTyping must be a boolean");
  const p = ctx.principal;
  let indicator: TypingIndicator;
  const at = ctx.clock().toISOString();
  if (p?.kind === "widget") {
    if (!visitorToken) throw unauthenticated("Missing visitor token");
    const { conversation } = await visitorConversation(ctx, visitorToken, conversationId);
    indicator = { kind: "typing", conversation_id: conversation.id, author: "visitor", member_id: null, name: conversation.visitorName, is_typing: isTyping, at };
  } else {
    const { conversation } = await operatorConversation(ctx, conversationId, "write");
    const memberId = p && p.kind !== "system" ? p.memberId : null;
    const member = memberId ? await ctx.loaders.member.load(memberId) : null;
    indicator = {
      kind: "typing",
      conversation_id: conversation.id,
      author: "human_operator",
      member_id: member?.id ?? null,
      name: member?.name ?? null,
      is_typing: isTyping,
      at,
    };
  }
  const who = p && p.kind !== "system" ? p.credentialId : "system";
  await ctx.rateLimits.consume(
    TYPING_POLICY,
    `${indicator.conversation_id}:${who}:${indicator.author}`,
    () => "Too many typing updates. Please slow down.",
  );
  ctx.events.publishConversation(indicator.conversation_id, indicator);
  return indicator;
}

/** The other side's typing: a visitor sees operators typing; operators see the visitor and each other. */
export function typingIndicators(ctx: ServiceContext, conversationId: string, visitorToken?: string | null): Promise<AsyncIterableIterator<TypingIndicator>> {
  return conversationMessages(ctx, conversationId, visitorToken, "typing", (m, access: LiveAccess) =>
    access.viewer === "operator" || m.author !== "visitor",
  );
}
