import { quickchatDialect } from "../errors.ts";
import type { RouteGroup } from "../route.ts";
import { chatbotSettingsRoutes } from "./chatbot-settings.ts";
import { aiActionRoutes } from "./ai-actions.ts";
import { articlesRoutes } from "./articles.ts";
import { conversationRoutes } from "./conversations.ts";
import { knowledgeBaseRoutes } from "./knowledge-base.ts";
import { widgetRoutes } from "./widget.ts";
import { ratingRoutes } from "./rating.ts";
import { legacyChatRoutes } from "./chat.ts";
import { handoffRoutes } from "./handoff.ts";

export const quickchatGroup: RouteGroup = {
  dialect: quickchatDialect,
  routes: [...chatbotSettingsRoutes, ...conversationRoutes, ...widgetRoutes, ...ratingRoutes, ...handoffRoutes, ...aiActionRoutes, ...knowledgeBaseRoutes, ...articlesRoutes, ...legacyChatRoutes],
};
