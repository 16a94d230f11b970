import type { FastifyRequest } from "fastify";
import { builder, type GraphQLContext } from "./builder.ts";
import { snakeKeys } from "./case.ts";
import { publicBaseUrl } from "../rest/files.ts";
import {
  getWidgetConfiguration,
  updateWidgetConfiguration,
  WIDGET_LOCATIONS,
  WIDGET_SIZES,
  type WidgetConfigurationJson,
} from "../services/widget-configuration.ts";
import {
  getRatingConfiguration,
  RATING_QUESTIONS,
  updateRatingConfiguration,
  type RatingConfigurationJson,
} from "../services/rating-configuration.ts";

/**
 * Image URLs are absolute under the host the caller used. Over HTTP Yoga hands us the Fastify
 * request in the context; graphql-ws operations have none, and get paths relative to the server.
 */
function publicBase(ctx: GraphQLContext): string {
  const req = (ctx as GraphQLContext & { req?: FastifyRequest }).req;
  return req ? publicBaseUrl(req) : "";
}

const enumValues = (values: readonly string[]) =>
  Object.fromEntries(values.map((v) => [v.replace(/-/g, "_").toUpperCase(), { value: v }]));

const WidgetSize = builder.enumType("WidgetSize", { values: enumValues(WIDGET_SIZES) });
const WidgetLocation = builder.enumType("WidgetLocation", { values: enumValues(WIDGET_LOCATIONS) });
export const RatingQuestionCode = builder.enumType("RatingQuestionCode", {
  description: "Feedback questions the widget can ask at the end of a conversation",
  values: Object.fromEntries(Object.entries(RATING_QUESTIONS).map(([code, description]) => [code, { value: code, description }])),
});

type W = WidgetConfigurationJson;
const WidgetConfigurationRef = builder.objectRef<W>("WidgetConfiguration").implement({
  description: "How the website widget (and the embed) looks and behaves (Quickchat Widget Configuration)",
  fields: (t) => ({
    welcomeMessage: t.string({ description: "HTML", resolve: (w) => w.welcome_message }),
    welcomeMessage2: t.string({ resolve: (w) => w.welcome_message2 }),
    header: t.string({ resolve: (w) => w.header }),
    subtitle: t.string({ resolve: (w) => w.subtitle }),
    inputPlaceholder: t.string({ resolve: (w) => w.input_placeholder }),
    backgroundDisclaimerText: t.string({ nullable: true, resolve: (w) => w.background_disclaimer_text }),
    primaryColor: t.string({ description: 'CSS "rgb(r, g, b)"', resolve: (w) => w.primary_color }),
    headerColor: t.string({ description: 'CSS "rgb(r, g, b)"', resolve: (w) => w.header_color }),
    headerTextColor: t.boolean({ description: "true: light text (for dark headers)", resolve: (w) => w.header_text_color }),
    size: t.field({ type: WidgetSize, resolve: (w) => w.size }),
    location: t.field({ type: WidgetLocation, resolve: (w) => w.location }),
    windowHeight: t.int({ resolve: (w) => w.window_height }),
    windowWidth: t.int({ resolve: (w) => w.window_width }),
    avatarImage: t.string({ nullable: true, description: "URL Parley serves the image at; null when none", resolve: (w) => w.avatar_image || null }),
    bubbleIconImage: t.string({ nullable: true, description: "URL Parley serves the image at; null when none", resolve: (w) => w.bubble_icon_image || null }),
    popupActive: t.boolean({ resolve: (w) => w.popup_active }),
    windowAutoOpen: t.boolean({ resolve: (w) => w.window_auto_open }),
    headerCollapse: t.boolean({ resolve: (w) => w.header_collapse }),
    typing: t.boolean({ resolve: (w) => w.typing }),
    streamingActive: t.boolean({ resolve: (w) => w.streaming_active }),
    voiceActive: t.boolean({ resolve: (w) => w.voice_active }),
    linkTrackingActive: t.boolean({ resolve: (w) => w.link_tracking_active }),
    whiteLabel: t.boolean({ resolve: (w) => w.white_label }),
    prechatActive: t.boolean({ resolve: (w) => w.prechat_active }),
    prechatHeaderText: t.string({ nullable: true, resolve: (w) => w.prechat_header_text }),
    prechatButtonText: t.string({ nullable: true, resolve: (w) => w.prechat_button_text }),
    prechatMessageText: t.string({ nullable: true, resolve: (w) => w.prechat_message_text }),
  }),
});

const RatingConfigurationRef = builder.objectRef<RatingConfigurationJson>("RatingConfiguration").implement({
  description: "Visitor feedback at the end of conversations (Quickchat Conversation Rating)",
  fields: (t) => ({
    convRatingActive: t.boolean({ resolve: (r) => r.conv_rating_active }),
    convRatingPopupActive: t.boolean({ description: "Always equals convRatingActive", resolve: (r) => r.conv_rating_popup_active }),
    convRatingQuestionCodes: t.field({ type: [RatingQuestionCode], resolve: (r) => r.conv_rating_question_codes }),
  }),
});

builder.prismaObjectFields("Scenario", (t) => ({
  widgetConfiguration: t.field({
    type: WidgetConfigurationRef,
    description: "Needs assistant:read (developer key) or read_all (this scenario's token)",
    resolve: (s, _a, ctx) => getWidgetConfiguration(ctx, publicBase(ctx), s.id),
  }),
  ratingConfiguration: t.field({
    type: RatingConfigurationRef,
    description: "Needs assistant:read (developer key) or read_all (this scenario's token)",
    resolve: (s, _a, ctx) => getRatingConfiguration(ctx, s.id),
  }),
}));

// Every field optional: only the fields sent change. Limits are the REST ones (README).
const UpdateWidgetConfigurationInput = builder.inputType("UpdateWidgetConfigurationInput", {
  fields: (t) => ({
    welcomeMessage: t.string(),
    welcomeMessage2: t.string(),
    header: t.string(),
    subtitle: t.string(),
    inputPlaceholder: t.string(),
    backgroundDisclaimerText: t.string(),
    primaryColor: t.string({ description: 'CSS "rgb(r, g, b)", components 0–255' }),
    headerColor: t.string({ description: 'CSS "rgb(r, g, b)", components 0–255' }),
    headerTextColor: t.boolean(),
    size: t.field({ type: WidgetSize }),
    location: t.field({ type: WidgetLocation }),
    windowHeight: t.int({ description: "400–1000" }),
    windowWidth: t.int({ description: "250–1920" }),
    avatarImage: t.string({ description: '"data:image/…;base64,…" (PNG, JPEG, GIF, WebP; ≤ 1 MiB); "" or null removes it' }),
    bubbleIconImage: t.string({ description: '"data:image/…;base64,…" (PNG, JPEG, GIF, WebP; ≤ 1 MiB); "" or null removes it' }),
    popupActive: t.boolean(),
    windowAutoOpen: t.boolean(),
    headerCollapse: t.boolean(),
    typing: t.boolean(),
    streamingActive: t.boolean(),
    voiceActive: t.boolean(),
    linkTrackingActive: t.boolean(),
    whiteLabel: t.boolean(),
    prechatActive: t.boolean(),
    prechatHeaderText: t.string(),
    prechatButtonText: t.string(),
    prechatMessageText: t.string(),
  }),
});

const UpdateRatingConfigurationInput = builder.inputType("UpdateRatingConfigurationInput", {
  fields: (t) => ({
    convRatingActive: t.boolean(),
    convRatingPopupActive: t.boolean({ description: "Must equal convRatingActive after the update" }),
    convRatingQuestionCodes: t.field({ type: [RatingQuestionCode], description: "Non-empty, no duplicates" }),
  }),
});

builder.mutationFields((t) => ({
  updateWidgetConfiguration: t.field({
    type: WidgetConfigurationRef,
    description: "Changes only the fields given (null clears a nullable text or removes an image). Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateWidgetConfigurationInput, required: true }),
    },
    resolve: (_root, { scenarioId, input }, ctx) =>
      updateWidgetConfiguration(ctx, snakeKeys(input), publicBase(ctx), String(scenarioId)),
  }),
  updateRatingConfiguration: t.field({
    type: RatingConfigurationRef,
    description: "Changes only the fields given. Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateRatingConfigurationInput, required: true }),
    },
    resolve: (_root, { scenarioId, input }, ctx) => updateRatingConfiguration(ctx, snakeKeys(input), String(scenarioId)),
  }),
}));
