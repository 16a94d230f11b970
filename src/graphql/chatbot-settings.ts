import { builder } from "./builder.ts";
import { snakeKeys } from "./case.ts";
import { getChatbotSettings, updateChatbotSettings, type ChatbotSettingsJson } from "../services/chatbot-settings.ts";

const ChatbotSettingsRef = builder.objectRef<ChatbotSettingsJson>("ChatbotSettings").implement({
  description: "The assistant's persona and texts (Quickchat Chatbot Settings)",
  fields: (t) => ({
    personality: t.int({ description: "0–7, 9–13", resolve: (s) => s.personality }),
    profession: t.string({ resolve: (s) => s.profession }),
    creativityLevel: t.int({ description: "0–2", resolve: (s) => s.creativity_level }),
    replyLength: t.int({ description: "0–2", resolve: (s) => s.reply_length }),
    greeting: t.string({ description: "HTML", resolve: (s) => s.greeting }),
    greeting2: t.string({ resolve: (s) => s.greeting2 }),
    header: t.string({ resolve: (s) => s.header }),
    header2: t.string({ resolve: (s) => s.header2 }),
    languageChosen: t.string({ description: "Comma-separated language codes", resolve: (s) => s.language_chosen }),
    oneWordDescription: t.string({ resolve: (s) => s.one_word_description }),
    shortDescription: t.string({ resolve: (s) => s.short_description }),
    aiCommands: t.stringList({ resolve: (s) => s.ai_commands }),
  }),
});

builder.prismaObjectFields("Scenario", (t) => ({
  chatbotSettings: t.field({
    type: ChatbotSettingsRef,
    description: "Needs assistant:read (developer key) or read_all (this scenario's token)",
    resolve: (s, _a, ctx) => getChatbotSettings(ctx, s.id),
  }),
}));

// Every field optional: only the fields sent change. Values are checked by the service (README limits).
const UpdateChatbotSettingsInput = builder.inputType("UpdateChatbotSettingsInput", {
  fields: (t) => ({
    personality: t.int({ description: "0–7, 9–13" }),
    profession: t.string({ description: "helpful_assistant, customer_support_representative, shopping_assistant, field_expert or interviewer" }),
    creativityLevel: t.int({ description: "0–2" }),
    replyLength: t.int({ description: "0–2" }),
    greeting: t.string({ description: "HTML, ≤ 1000 characters" }),
    greeting2: t.string({ description: "≤ 1000 characters" }),
    header: t.string({ description: "≤ 200 characters" }),
    header2: t.string({ description: "≤ 200 characters" }),
    languageChosen: t.string({ description: "Comma-separated language codes (en,de,…)" }),
    oneWordDescription: t.string({ description: "≤ 200 characters" }),
    shortDescription: t.string({ description: "≤ 2000 characters" }),
    aiCommands: t.stringList({ description: "Each item ≤ 500 characters" }),
  }),
});

builder.mutationFields((t) => ({
  updateChatbotSettings: t.field({
    type: ChatbotSettingsRef,
    description: "Changes only the fields given; answers the whole settings. Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateChatbotSettingsInput, required: true }),
    },
    resolve: (_root, { scenarioId, input }, ctx) => updateChatbotSettings(ctx, snakeKeys(input), String(scenarioId)),
  }),
}));
