import type { ServiceContext } from "../services/context.ts";

/**
 * Conversation analysis after visitor messages (language, unified_analysis, title).
 * NOT IMPLEMENTED YET: being written in this change (issue 4, item 6).
 */
export async function analyzeConversation(_ctx: ServiceContext, _conversationId: string): Promise<void> {}
