import { resolveOffsetConnection } from "@pothos/plugin-relay";
import { builder, type GraphQLContext } from "./builder.ts";
import { TeamMemberRef } from "./workspaces.ts";
import { createLead, findLead, leadsPage, updateLead } from "../services/leads.ts";
import type { LeadFilters } from "../services/leads-input.ts";
import { listLeadStages, setLeadStages, STAGE_KINDS, type LeadStageView } from "../services/leads-stages.ts";
import { LEAD_SOURCES, tagsOf, TEMPERATURES, type LeadRow } from "../services/leads-view.ts";

// Leads for operators and CRM scripts: the same service as the Quincer REST routes, so both
// validate, authorize and record (events, audit) alike. Developer keys need leads:read /
// leads:write; a scenario token reaches its own widget's leads with read_all / write_all.

export const LeadTemperatureEnum = builder.enumType("LeadTemperature", { values: TEMPERATURES });
const LeadSourceEnum = builder.enumType("LeadSource", {
  description: "prechat: the widget's pre-chat form; site_key: the site-key create call; typed: an email or phone the visitor wrote; graphql / api: by hand",
  values: LEAD_SOURCES,
});
const LeadStageKindEnum = builder.enumType("LeadStageKind", { values: STAGE_KINDS });

export const LeadStageRef = builder.objectRef<LeadStageView>("LeadStage").implement({
  description: "A stage of the workspace's lead pipeline",
  fields: (t) => ({
    key: t.exposeString("key", { description: "What leads store as their stage" }),
    name: t.exposeString("name"),
    position: t.exposeInt("position"),
    kind: t.field({ type: LeadStageKindEnum, resolve: (s) => s.kind }),
  }),
});

const LeadBantRef = builder.objectRef<LeadRow>("LeadBant").implement({
  description: "Qualification: budget, authority, need, timeline",
  fields: (t) => ({
    budget: t.exposeString("budget", { nullable: true }),
    authority: t.exposeString("authority", { nullable: true }),
    need: t.exposeString("need", { nullable: true }),
    timeline: t.exposeString("timeline", { nullable: true }),
  }),
});

export const LeadRef = builder.objectRef<LeadRow>("Lead").implement({
  description: "A prospect captured from a conversation or entered by hand",
  fields: (t) => ({
    id: t.exposeID("id"),
    widgetId: t.exposeID("scenarioId", { nullable: true, description: "The widget (scenario) the lead came through" }),
    name: t.exposeString("name", { nullable: true }),
    email: t.exposeString("email", { nullable: true }),
    phone: t.exposeString("phone", { nullable: true }),
    company: t.exposeString("company", { nullable: true }),
    stage: t.exposeString("stage", { description: "A LeadStage key" }),
    temperature: t.field({ type: LeadTemperatureEnum, resolve: (l) => l.temperature as (typeof TEMPERATURES)[number] }),
    tags: t.stringList({ resolve: (l) => tagsOf(l.tags) }),
    score: t.exposeInt("score", { description: "0–100" }),
    assignedTo: t.exposeID("assignedMemberId", { nullable: true, description: "The assigned team member's id" }),
    assignedMember: t.field({ type: TeamMemberRef, nullable: true, resolve: (l) => l.assignedMember }),
    bant: t.field({ type: LeadBantRef, resolve: (l) => l }),
    source: t.field({ type: LeadSourceEnum, resolve: (l) => l.source as (typeof LEAD_SOURCES)[number] }),
    conversationIds: t.idList({ resolve: (l) => l.conversations.map((c) => c.conversationId) }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const LeadFilterInput = builder.inputType("LeadFilter", {
  description: "The GET /api/v1/leads filters",
  fields: (t) => ({
    widgetId: t.id(),
    stage: t.string(),
    temperature: t.field({ type: LeadTemperatureEnum }),
    assignedTo: t.id({ description: 'A team member id, or "unassigned"' }),
    updatedSince: t.field({ type: "DateTime", description: "Inclusive; the list is then oldest change first" }),
  }),
});

const LeadBantInput = builder.inputType("LeadBantInput", {
  fields: (t) => ({ budget: t.string(), authority: t.string(), need: t.string(), timeline: t.string() }),
});

const leadFields = (t: PothosInputFieldBuilder) => ({
  name: t.string(),
  email: t.string(),
  phone: t.string({ description: "7–15 digits; +, spaces, dots, dashes, slashes and parentheses allowed" }),
  company: t.string(),
  stage: t.string({ description: "A LeadStage key" }),
  temperature: t.field({ type: LeadTemperatureEnum }),
  tags: t.stringList(),
  score: t.int({ description: "0–100" }),
  assignedTo: t.id({ description: "A team member of the workspace; null unassigns" }),
  bant: t.field({ type: LeadBantInput }),
});
type PothosInputFieldBuilder = Parameters<Parameters<typeof builder.inputType>[1]["fields"]>[0];

const UpdateLeadInput = builder.inputType("UpdateLeadInput", {
  description: "Only the fields given change; null clears a field (unassigns for assignedTo)",
  fields: (t) => leadFields(t),
});

const CreateLeadInput = builder.inputType("CreateLeadInput", {
  description: "At least a name, email, phone or company. Email (or phone) is unique per workspace.",
  fields: (t) => ({
    ...leadFields(t),
    widgetId: t.id({ description: "The widget the lead belongs to (a scenario token: its own by default)" }),
    conversationId: t.id({ description: "A conversation to link the lead to" }),
  }),
});

const LeadStageInput = builder.inputType("LeadStageInput", {
  fields: (t) => ({
    key: t.string({ required: true, description: "1–40 of a–z 0–9 _ -" }),
    name: t.string({ required: true }),
    kind: t.field({ type: LeadStageKindEnum, description: "open (default), won or lost" }),
  }),
});

/** The fields the client sent (null included: it clears), as the REST body would have them. */
function given<T extends Record<string, unknown>>(input: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) out[k] = v;
  return out;
}

async function leadConnection(ctx: GraphQLContext, filter: LeadFilters, args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null }) {
  let total = 0;
  const conn = await resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, async ({ offset, limit }) => {
    const r = await leadsPage(ctx, filter, { offset, limit });
    total = r.count;
    return r.items;
  });
  return { ...conn, totalCount: total };
}

builder.queryFields((t) => ({
  lead: t.field({
    type: LeadRef,
    description: "A lead of the caller's workspace (leads:read, or a read_all token for its widget's leads); otherwise NOT_FOUND",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => findLead(ctx, String(id)),
  }),
  leads: t.connection(
    {
      type: LeadRef,
      description: "The caller's leads, most recently changed first (oldest change first with updatedSince)",
      authScopes: { authenticated: true },
      args: { filter: t.arg({ type: LeadFilterInput }) },
      resolve: (_r, args, ctx) =>
        leadConnection(
          ctx,
          {
            widgetId: args.filter?.widgetId == null ? undefined : String(args.filter.widgetId),
            stage: args.filter?.stage ?? undefined,
            temperature: args.filter?.temperature ?? undefined,
            assignedTo: args.filter?.assignedTo == null ? undefined : String(args.filter.assignedTo),
            updatedSince: args.filter?.updatedSince ?? undefined,
          },
          args,
        ),
    },
    { fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: number }).totalCount }) }) },
  ),
  leadStages: t.field({
    type: [LeadStageRef],
    description: "The workspace's lead pipeline in order (the default one until setLeadStages is used)",
    authScopes: { authenticated: true },
    resolve: (_r, _a, ctx) => listLeadStages(ctx),
  }),
}));

builder.mutationFields((t) => ({
  createLead: t.field({
    type: LeadRef,
    description: "Creates a lead by hand (leads:write, or a write_all token for its own widget); records lead.created",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateLeadInput, required: true }) },
    resolve: (_r, { input }, ctx) => createLead(ctx, given(input)),
  }),
  updateLead: t.field({
    type: LeadRef,
    description: "Changes a lead (as PATCH /api/v1/leads/:id); records lead.updated, and lead.stage_changed when the stage moves",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateLeadInput, required: true }) },
    resolve: (_r, { id, input }, ctx) => updateLead(ctx, String(id), given(input)),
  }),
  setLeadStages: t.field({
    type: [LeadStageRef],
    description:
      "Replaces the workspace's pipeline, in order (developer key with leads:write). A stage that still has leads cannot be left out.",
    authScopes: { authenticated: true },
    args: { stages: t.arg({ type: [LeadStageInput], required: true }) },
    resolve: (_r, { stages }, ctx) => setLeadStages(ctx, stages.map((s) => given(s))),
  }),
}));
