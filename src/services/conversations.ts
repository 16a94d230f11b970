import type { ServiceContext } from "./context.ts";
import { notFound } from "../errors.ts";
import { requireDeveloperScope, requireTokenScope } from "./access.ts";
import type { Page, Pagination } from "./pagination.ts";

// The conversations issue extends this area (filters, details, events, live chat). What is here
// serves the foundation's routes: the list with pagination and the external-agent transcript.

type ConversationRow = NonNullable<Awaited<ReturnType<ServiceContext["db"]["conversation"]["findUnique"]>>>;

function conversationJson(c: ConversationRow & { events: { content: string; createdAt: Date }[] }) {
  const last = c.events[0];
  return {
    id: c.id,
    ord: c.ord,
    created_at: c.createdAt.toISOString(),
    last_message_at: (last?.createdAt ?? c.createdAt).toISOString(),
    title: c.title,
    source: c.source,
    terminated: c.terminated,
    last_message_content: last?.content ?? null,
    assignee: { type: c.status === "human_active" ? "human_operator" : "ai_assistant" },
    visitor_name: c.visitorName,
    visitor_email: c.visitorEmail,
  };
}

/** Quickchat list: the token's scenario, newest first. */
export async function listConversations(ctx: ServiceContext, page: Pagination): Promise<Page<ReturnType<typeof conversationJson>>> {
  const { scenarioId } = requireTokenScope(ctx.principal, "read_all");
  const where = { scenarioId };
  const [rows, count] = await Promise.all([
    ctx.db.conversation.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { ord: "desc" }],
      skip: page.offset,
      take: page.limit,
      include: { events: { where: { type: "message" }, orderBy: { ord: "desc" }, take: 1 } },
    }),
    ctx.db.conversation.count({ where }),
  ]);
  return { items: rows.map(conversationJson), offset: page.offset, limit: page.limit, count };
}

/** Quincer: full transcript + metadata of a conversation in the key's workspace. */
export async function getConversationTranscript(ctx: ServiceContext, id: string) {
  const { workspaceId } = requireDeveloperScope(ctx.principal, "conversations:read");
  const conv = await ctx.db.conversation.findFirst({
    where: { id, scenario: { workspaceId } },
    include: { events: { orderBy: { ord: "asc" } } },
  });
  if (!conv) throw notFound("Conversation");
  return {
    id: conv.id,
    widgetId: conv.scenarioId,
    ord: conv.ord,
    status: conv.status,
    title: conv.title,
    source: conv.source,
    terminated: conv.terminated,
    visitor: { name: conv.visitorName, email: conv.visitorEmail },
    createdAt: conv.createdAt.toISOString(),
    updatedAt: conv.updatedAt.toISOString(),
    messages: conv.events.map((e) => ({
      id: e.id,
      ord: e.ord,
      type: e.type,
      author: e.author,
      content: e.content,
      createdAt: e.createdAt.toISOString(),
    })),
  };
}
