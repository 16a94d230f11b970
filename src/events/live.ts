// What live subscribers receive. Plain JSON (dates as ISO strings), so payloads survive a trip
// through Redis unchanged, and every transport renders from the same views.

export interface AttachmentView {
  id: number;
  filename: string;
  content_type: string;
  size: number;
}

/** A conversation event as every transport shows it (Quickchat's event `data`, plus ids). */
export interface EventView {
  id: string;
  conversation_id: string;
  ord: number;
  type: "message" | "tracked_link" | "log";
  created_at: string;
  content: string;
  author: "ai_assistant" | "visitor" | "human_operator";
  member_id: string | null;
  handoff_state: string | null;
  message_insights: Record<string, unknown> | null;
  feedback: Record<string, unknown> | null;
  client_metadata: Record<string, unknown> | null;
  sources_generated: SourceView[];
  is_welcome: boolean;
  language: string | null;
  attachments: AttachmentView[];
}

export interface SourceView {
  article_id: number;
  title: string;
  url: string | null;
}

export interface UnifiedAnalysis {
  sentiment: "positive" | "neutral" | "negative";
  resolution_status: "open" | "resolved";
  topic: string | null;
  is_flagged: boolean;
  flag_reason: string | null;
}

/** A conversation as every transport shows it (Quickchat's detail JSON, plus Parley's fields). */
export interface ConversationView {
  id: string;
  scenario_id: string;
  ord: number;
  created_at: string;
  last_message_at: string;
  title: string;
  source: string;
  status: "active" | "human_active";
  terminated: boolean;
  resolution_status: "open" | "resolved";
  has_unread_messages: boolean;
  supports_inbox_control: boolean;
  last_message_content: string | null;
  most_frequent_language: string | null;
  assignee: { type: "ai_assistant" | "human_operator" | "unassigned"; member_id: string | null };
  url: string | null;
  client_metadata: Record<string, unknown> | null;
  last_visitor_message_at: string | null;
  unified_analysis: UnifiedAnalysis | null;
  visitor_name: string | null;
  visitor_email: string | null;
  visitor_phone_number: string | null;
  visitor_label: string | null;
  rating: Record<string, unknown> | null;
  event_count: number;
}

export type LiveConversationMessage =
  | { kind: "event"; event: EventView }
  | {
      kind: "chunk";
      conversation_id: string;
      /** Identifies one streamed reply; the final message event carries it in message_insights.stream_id. */
      stream_id: string;
      index: number;
      delta: string;
    }
  | {
      kind: "typing";
      conversation_id: string;
      author: "visitor" | "human_operator";
      member_id: string | null;
      name: string | null;
      is_typing: boolean;
      at: string;
    };

export type InboxReason =
  | "created"
  | "message"
  | "status"
  | "assignee"
  | "resolution"
  | "read"
  | "terminated"
  | "rating"
  | "analysis"
  | "metadata";

export interface LiveInboxUpdate {
  reason: InboxReason;
  conversation: ConversationView;
}
