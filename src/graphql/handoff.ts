import { builder } from "./builder.ts";
import { snakeCase } from "./case.ts";
import { TeamMemberRef } from "./workspaces.ts";
import {
  GENERIC_GUIDELINE_NAMES,
  getHandoffConfiguration,
  isWithinWorkingHours,
  routingProfileMembers,
  updateHandoffConfiguration,
  type HandoffConfigurationJson,
} from "../services/handoff-configuration.ts";

// The handoff configuration for operators: the same document as GET/PUT
// /v1/api/human_handoff/configuration, in camelCase, through the same service and validation.

type Config = HandoffConfigurationJson;
type Settings = Config["settings"];

builder.prismaObjectFields("TeamMember", (t) => ({
  userId: t.exposeInt("userId", {
    nullable: true,
    description: "The member's integer id in the Quickchat dialect (routing profiles' user_ids)",
  }),
}));

const GuidelineName = builder.enumType("HandoffGuidelineName", { values: GENERIC_GUIDELINE_NAMES });

const SettingsRef = builder.objectRef<Settings>("HandoffSettings").implement({
  fields: (t) => ({
    isActive: t.exposeBoolean("is_active"),
    keywords: t.exposeStringList("keywords", { description: "Phrases with which a visitor asks for a person" }),
    aiSummaryActive: t.exposeBoolean("ai_summary_active"),
    topicBasedRoutingActive: t.exposeBoolean("topic_based_routing_active", { description: "Read-only: true when a routing profile is active" }),
    questionMessage: t.exposeString("question_message"),
    confirmationMessage: t.exposeString("confirmation_message"),
    confirmationOutsideWorkingHoursMessage: t.exposeString("confirmation_outside_working_hours_message"),
    workingHoursActive: t.exposeBoolean("working_hours_active"),
    timezone: t.exposeString("timezone", { description: "IANA time zone of the availability slots" }),
    sendEmailNotification: t.exposeBoolean("send_email_notification"),
    emails: t.exposeStringList("emails", { description: "Notified when no routing profile matches" }),
  }),
});

const SlotRef = builder.objectRef<Config["availability"][number]>("HandoffAvailabilitySlot").implement({
  fields: (t) => ({
    id: t.exposeInt("id"),
    daySpan: t.exposeString("day_span", { description: 'A day or a day range: "monday", "monday-friday"' }),
    startTime: t.exposeString("start_time", { description: '"HH:MM"' }),
    endTime: t.exposeString("end_time", { description: '"HH:MM"' }),
  }),
});

const GenericRef = builder.objectRef<Config["generic_guidelines"][number]>("HandoffGenericGuideline").implement({
  fields: (t) => ({
    name: t.field({ type: GuidelineName, resolve: (g) => g.name }),
    description: t.exposeString("description"),
    isActive: t.exposeBoolean("is_active"),
  }),
});

const CustomRef = builder.objectRef<Config["custom_guidelines"][number]>("HandoffCustomGuideline").implement({
  fields: (t) => ({
    id: t.exposeInt("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description", { description: "When handoff should be offered" }),
    isActive: t.exposeBoolean("is_active"),
  }),
});

const RoutingRef = builder.objectRef<Config["routing_profiles"][number]>("HandoffRoutingProfile").implement({
  description: "Topic-based routing: a handoff on this topic notifies these members",
  fields: (t) => ({
    id: t.exposeInt("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    isActive: t.exposeBoolean("is_active"),
    userIds: t.exposeIntList("user_ids"),
    members: t.field({ type: [TeamMemberRef], resolve: (p, _a, ctx) => routingProfileMembers(ctx.db, p.id) }),
  }),
});

const ConfigRef = builder.objectRef<Config>("HandoffConfiguration").implement({
  description: "When and how conversations go from the assistant to people (Quickchat Handoff Configuration)",
  fields: (t) => ({
    settings: t.field({ type: SettingsRef, resolve: (c) => c.settings }),
    availability: t.field({ type: [SlotRef], resolve: (c) => c.availability }),
    genericGuidelines: t.field({ type: [GenericRef], resolve: (c) => c.generic_guidelines }),
    customGuidelines: t.field({ type: [CustomRef], resolve: (c) => c.custom_guidelines }),
    routingProfiles: t.field({ type: [RoutingRef], resolve: (c) => c.routing_profiles }),
    withinWorkingHours: t.boolean({
      description: "Whether a handoff now would be inside working hours (always true when working hours are off)",
      resolve: (c, _a, ctx) => isWithinWorkingHours(c, ctx.clock()),
    }),
  }),
});

builder.prismaObjectFields("Scenario", (t) => ({
  handoffConfiguration: t.field({
    type: ConfigRef,
    description: "Needs assistant:read (developer key) or read_all (this scenario's token)",
    resolve: (s, _a, ctx) => getHandoffConfiguration(ctx, s.id),
  }),
}));

const SettingsInput = builder.inputType("HandoffSettingsInput", {
  description: "Fields left out stay as they are",
  fields: (t) => ({
    isActive: t.boolean(),
    keywords: t.stringList({ description: "≤ 50 phrases of ≤ 100 characters, no duplicates" }),
    aiSummaryActive: t.boolean(),
    questionMessage: t.string({ description: "1–500 characters" }),
    confirmationMessage: t.string({ description: "1–500 characters" }),
    confirmationOutsideWorkingHoursMessage: t.string({ description: "1–500 characters" }),
    workingHoursActive: t.boolean({ description: "Needs at least one availability slot" }),
    timezone: t.string({ description: 'IANA time zone, e.g. "Europe/London"' }),
    sendEmailNotification: t.boolean(),
    emails: t.stringList({ description: "≤ 50 addresses" }),
  }),
});

const SlotInput = builder.inputType("HandoffAvailabilitySlotInput", {
  fields: (t) => ({
    id: t.int({ description: "An existing slot's id; none creates a slot" }),
    daySpan: t.string({ required: true, description: '"monday" or "monday-friday"' }),
    startTime: t.string({ required: true, description: '"HH:MM"' }),
    endTime: t.string({ required: true, description: '"HH:MM", later than startTime' }),
  }),
});

const GenericInput = builder.inputType("HandoffGenericGuidelineInput", {
  fields: (t) => ({
    name: t.field({ type: GuidelineName, required: true }),
    description: t.string({ description: "1–2000 characters" }),
    isActive: t.boolean(),
  }),
});

const CustomInput = builder.inputType("HandoffCustomGuidelineInput", {
  fields: (t) => ({
    id: t.int({ description: "An existing guideline's id; none creates one" }),
    name: t.string({ required: true, description: "1–100 characters" }),
    description: t.string({ required: true, description: "1–2000 characters" }),
    isActive: t.boolean({ description: "Default true" }),
  }),
});

const RoutingInput = builder.inputType("HandoffRoutingProfileInput", {
  fields: (t) => ({
    id: t.int({ description: "An existing profile's id; none creates one" }),
    name: t.string({ required: true, description: "1–100 characters" }),
    description: t.string({ required: true, description: "1–2000 characters" }),
    isActive: t.boolean({ description: "Default true" }),
    userIds: t.intList({ required: true, description: "TeamMember.userId of members of this workspace" }),
  }),
});

const ConfigInput = builder.inputType("HandoffConfigurationInput", {
  description:
    "The whole configuration, as handoffConfiguration answers it. A section left out stays as it is; a list sent replaces the stored one " +
    "(items with an id are updated, without one created, stored items left out deleted; generic guidelines are matched by name).",
  fields: (t) => ({
    settings: t.field({ type: SettingsInput }),
    availability: t.field({ type: [SlotInput] }),
    genericGuidelines: t.field({ type: [GenericInput] }),
    customGuidelines: t.field({ type: [CustomInput] }),
    routingProfiles: t.field({ type: [RoutingInput] }),
  }),
});

/** camelCase input → the service's snake_case document; absent (undefined) fields stay absent. */
function snakeDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeDeep);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [snakeCase(k), snakeDeep(v)]));
}

builder.mutationFields((t) => ({
  updateHandoffConfiguration: t.field({
    type: ConfigRef,
    description: "Replaces the handoff configuration (see HandoffConfigurationInput). Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      input: t.arg({ type: ConfigInput, required: true }),
    },
    resolve: (_root, { scenarioId, input }, ctx) => updateHandoffConfiguration(ctx, snakeDeep(input), String(scenarioId)),
  }),
}));
