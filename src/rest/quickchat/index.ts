import { quickchatDialect } from "../errors.ts";
import type { RouteGroup } from "../route.ts";
import { chatbotSettingsRoutes } from "./chatbot-settings.ts";
import { conversationRoutes } from "./conversations.ts";

export const quickchatGroup: RouteGroup = {
  dialect: quickchatDialect,
  routes: [...chatbotSettingsRoutes, ...conversationRoutes],
};
