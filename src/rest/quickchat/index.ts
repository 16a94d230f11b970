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
import { fileUploadRoutes, setupFileUploads } from "./file-upload.ts";
import { importRoutes } from "./imports.ts";
import { youtubeRoutes } from "./youtube.ts";
import { intercomRoutes } from "./intercom.ts";

export const quickchatGroup: RouteGroup = {
  dialect: quickchatDialect,
  setup: setupFileUploads,
  routes: [...chatbotSettingsRoutes, ...conversationRoutes, ...widgetRoutes, ...ratingRoutes, ...handoffRoutes, ...aiActionRoutes, ...knowledgeBaseRoutes, ...articlesRoutes, ...fileUploadRoutes, ...importRoutes, ...youtubeRoutes, ...intercomRoutes, ...legacyChatRoutes],
};
