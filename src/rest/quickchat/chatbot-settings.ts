import { ChatbotSettingsPatch, getChatbotSettings, updateChatbotSettings } from "../../services/chatbot-settings.ts";
import type { RouteDef } from "../route.ts";
import { quickchatErrorResponses, quickchatLimit } from "./schemas.ts";

const ChatbotSettings = ChatbotSettingsPatch.required();
const auth = ["scenario_token"] as const;

export const chatbotSettingsRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/v1/api/chatbot_settings",
    summary: "Get chatbot settings",
    auth,
    rateLimit: quickchatLimit("quickchatRead"),
    responses: { 200: { description: "The assistant's settings", schema: ChatbotSettings }, ...quickchatErrorResponses },
    handler: (ctx) => getChatbotSettings(ctx),
  },
  {
    method: "PATCH",
    path: "/v1/api/chatbot_settings",
    summary: "Update chatbot settings (only the fields sent)",
    auth,
    rateLimit: quickchatLimit("quickchatWrite"),
    body: ChatbotSettingsPatch,
    responses: { 200: { description: "The whole updated settings", schema: ChatbotSettings }, ...quickchatErrorResponses },
    handler: (ctx, req) => updateChatbotSettings(ctx, req.body ?? {}),
  },
];
