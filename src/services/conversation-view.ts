import type { Conversation, ConversationEvent, MessageAttachment } from "../generated/sqlite/client.ts";
import type { ConversationView, EventView, SourceView, UnifiedAnalysis } from "../events/live.ts";

export type ConversationRow = Conversation;
export type EventRow = ConversationEvent & { attachments: MessageAttachment[] };

const iso = (d: Date | string | null | undefined) => (d == null ? null : typeof d === "string" ? d : d.toISOString());
const object = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

export function eventView(e: EventRow): EventView {
  return {
    id: e.id,
    conversation_id: e.conversationId,
    ord: e.ord,
    type: e.type as EventView["type"],
    created_at: iso(e.createdAt)!,
    content: e.content,
    author: e.author,
    member_id: e.memberId,
    handoff_state: e.handoffState,
    message_insights: object(e.messageInsights),
    feedback: object(e.feedback),
    client_metadata: object(e.clientMetadata),
    sources_generated: Array.isArray(e.sourcesGenerated) ? (e.sourcesGenerated as unknown as SourceView[]) : [],
    is_welcome: e.isWelcome,
    language: e.language,
    attachments: e.attachments.map((a) => ({ id: a.id, filename: a.filename, content_type: a.contentType, size: a.size })),
  };
}

export function conversationView(c: ConversationRow): ConversationView {
  return {
    id: c.id,
    scenario_id: c.scenarioId,
    ord: c.ord,
    created_at: iso(c.createdAt)!,
    last_message_at: iso(c.lastMessageAt ?? c.createdAt)!,
    title: c.title,
    source: c.source,
    status: c.status,
    terminated: c.terminated,
    resolution_status: c.resolutionStatus as ConversationView["resolution_status"],
    has_unread_messages: c.hasUnreadMessages,
    supports_inbox_control: c.supportsInboxControl,
    last_message_content: c.lastMessageContent,
    most_frequent_language: c.mostFrequentLanguage,
    assignee: { type: c.assigneeType as ConversationView["assignee"]["type"], member_id: c.assigneeMemberId },
    url: c.url,
    client_metadata: object(c.clientMetadata),
    last_visitor_message_at: iso(c.lastVisitorMessageAt),
    unified_analysis: object(c.unifiedAnalysis) as UnifiedAnalysis | null,
    visitor_name: c.visitorName,
    visitor_email: c.visitorEmail,
    visitor_phone_number: c.visitorPhone,
    visitor_label: c.visitorLabel,
    rating: object(c.rating),
    event_count: c.eventCount,
  };
}
