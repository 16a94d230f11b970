import type { InboxReason } from "../events/live.ts";
import type { Prisma } from "../generated/sqlite/client.ts";
import { notFound, validationError } from "../errors.ts";
import { auditActor, recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation } from "./conversation-access.ts";
import { ASSIGNEE_TYPES } from "./conversations.ts";
import { CHAT_TX, publishConversationChange } from "./conversation-log.ts";
import type { ConversationRow } from "./conversation-view.ts";

// What operators do to a conversation from the inbox. Each action needs write access (a write_all
// token of the scenario, or a developer key with conversations:write). A change is one transaction
// with its domain event; inbox subscribers hear of it after commit. An action that changes nothing
// (resolving a resolved conversation) records nothing and tells no one.

interface Change {
  data: Prisma.ConversationUpdateInput;
  /** True when the conversation already is as the action would leave it. */
  unchanged: (c: ConversationRow) => boolean;
  reason: InboxReason;
  type: string;
  payload?: Record<string, unknown>;
  /** Actions that go on the audit trail (who assigned whom), with what to record. */
  audit?: { action: string; details: (before: ConversationRow) => Record<string, unknown> };
}

async function apply(ctx: ServiceContext, conversationId: string, change: Change | ((c: ConversationRow) => Promise<Change> | Change)): Promise<ConversationRow> {
  const { conversation: before, workspaceId } = await operatorConversation(ctx, conversationId, "write");
  const c = typeof change === "function" ? await change(before) : change;
  const result = await ctx.db.$transaction(async (tx) => {
    // Decided on the row as it is inside the transaction, not as the access check saw it.
    const current = await tx.conversation.findUniqueOrThrow({ where: { id: before.id } });
    if (c.unchanged(current)) return { conversation: current, event: null };
    const conversation = await tx.conversation.update({ where: { id: before.id }, data: c.data });
    const event = await ctx.events.record(tx, {
      workspaceId,
      scenarioId: conversation.scenarioId,
      type: c.type,
      payload: { conversationId: conversation.id, ...c.payload },
    });
    if (c.audit) {
      await recordAudit(tx, {
        workspaceId,
        scenarioId: conversation.scenarioId,
        conversationId: conversation.id,
        ...auditActor(ctx.principal),
        action: c.audit.action,
        details: c.audit.details(current),
      });
    }
    return { conversation, event };
  }, CHAT_TX);
  if (result.event) {
    publishConversationChange(ctx, result.conversation, c.reason);
    ctx.events.publish([result.event]);
  }
  return result.conversation;
}

export function resolveConversation(ctx: ServiceContext, conversationId: string) {
  return apply(ctx, conversationId, {
    data: { resolutionStatus: "resolved" },
    unchanged: (c) => c.resolutionStatus === "resolved",
    reason: "resolution",
    type: "conversation.resolved",
    payload: { resolutionStatus: "resolved" },
  });
}

/** Back to open; a terminated conversation is also no longer terminated (as when a visitor writes again). */
export function reopenConversation(ctx: ServiceContext, conversationId: string) {
  return apply(ctx, conversationId, {
    data: { resolutionStatus: "open", terminated: false },
    unchanged: (c) => c.resolutionStatus === "open" && !c.terminated,
    reason: "resolution",
    type: "conversation.reopened",
    payload: { resolutionStatus: "open" },
  });
}

export function markConversationRead(ctx: ServiceContext, conversationId: string) {
  return apply(ctx, conversationId, {
    data: { hasUnreadMessages: false },
    unchanged: (c) => !c.hasUnreadMessages,
    reason: "read",
    type: "conversation.read",
  });
}

/** Ends the conversation for the visitor; a visitor message later reopens it. */
export function terminateConversation(ctx: ServiceContext, conversationId: string) {
  return apply(ctx, conversationId, {
    data: { terminated: true },
    unchanged: (c) => c.terminated,
    reason: "terminated",
    type: "conversation.terminated",
  });
}

export type AssigneeType = (typeof ASSIGNEE_TYPES)[number];

/**
 * Assigns the conversation to a member of the conversation's workspace (assignee type
 * human_operator), or, with no member, to nobody (unassigned, the default) or back to the assistant
 * (ai_assistant). Assignment says who is responsible; it does not silence the assistant (taking a
 * conversation over does). A member of another workspace is NOT_FOUND.
 */
export function assignConversation(ctx: ServiceContext, conversationId: string, input: { memberId: string | null; type?: AssigneeType | null }) {
  return apply(ctx, conversationId, async (conversation) => {
    const type = input.type ?? (input.memberId ? "human_operator" : "unassigned");
    if (!ASSIGNEE_TYPES.includes(type)) throw validationError(`type: must be one of ${ASSIGNEE_TYPES.join(", ")}`, "type");
    if (input.memberId && type !== "human_operator") throw validationError("type: a conversation assigned to a member has type human_operator", "type");
    if (!input.memberId && type === "human_operator") throw validationError("memberId: assigning to a human operator needs the member", "memberId");
    let memberId: string | null = null;
    if (input.memberId) {
      const member = await ctx.loaders.member.load(input.memberId);
      const scenario = await ctx.loaders.scenario.load(conversation.scenarioId);
      if (!member || !scenario || member.workspaceId !== scenario.workspaceId) throw notFound("Team member");
      memberId = member.id;
    }
    return {
      data: { assigneeType: type, assigneeMember: memberId ? { connect: { id: memberId } } : { disconnect: true } },
      unchanged: (c: ConversationRow) => c.assigneeType === type && c.assigneeMemberId === memberId,
      reason: "assignee",
      type: "conversation.assigned",
      payload: { assigneeType: type, memberId },
      audit: {
        action: "conversation.assigned",
        details: (before: ConversationRow) => ({
          assigneeType: type,
          assigneeMemberId: memberId,
          previousAssigneeType: before.assigneeType,
          previousAssigneeMemberId: before.assigneeMemberId,
        }),
      },
    };
  });
}
