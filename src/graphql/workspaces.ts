import { builder } from "./builder.ts";
import { createScenario, createTeamMember, currentWorkspace } from "../services/workspaces.ts";
import { visibleScenario } from "../services/access.ts";

export const MemberKindEnum = builder.enumType("MemberKind", { values: ["human", "external_agent"] as const });

builder.prismaObject("Workspace", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    scenarios: t.relatedConnection("scenarios", {
      cursor: "id",
      totalCount: true,
      query: { orderBy: [{ createdAt: "asc" }, { id: "asc" }] },
    }),
    members: t.relatedConnection("members", {
      cursor: "id",
      totalCount: true,
      query: { orderBy: [{ createdAt: "asc" }, { id: "asc" }] },
    }),
  }),
});

builder.prismaObject("Scenario", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    workspace: t.relation("workspace"),
  }),
});

export const TeamMemberRef = builder.prismaObject("TeamMember", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    email: t.exposeString("email", { nullable: true }),
    kind: t.expose("kind", { type: MemberKindEnum }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.queryFields((t) => ({
  workspace: t.prismaField({
    type: "Workspace",
    description: "The caller's workspace",
    authScopes: { authenticated: true },
    resolve: async (query, _root, _args, ctx) => {
      const ws = await currentWorkspace(ctx);
      return ctx.db.workspace.findUniqueOrThrow({ ...query, where: { id: ws.id } });
    },
  }),
  scenario: t.prismaField({
    type: "Scenario",
    description: "A scenario the caller may see; another workspace's id is NOT_FOUND",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const s = await visibleScenario(ctx, String(args.id));
      return ctx.db.scenario.findUniqueOrThrow({ ...query, where: { id: s.id } });
    },
  }),
}));

const CreateScenarioInput = builder.inputType("CreateScenarioInput", {
  fields: (t) => ({ name: t.string({ required: true }) }),
});
const CreateTeamMemberInput = builder.inputType("CreateTeamMemberInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    email: t.string(),
    kind: t.field({ type: MemberKindEnum }),
  }),
});

builder.mutationFields((t) => ({
  createScenario: t.prismaField({
    type: "Scenario",
    description: "Creates a scenario (an assistant and its widget) in the caller's workspace. Needs workspace:admin.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateScenarioInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const s = await createScenario(ctx, input);
      return ctx.db.scenario.findUniqueOrThrow({ ...query, where: { id: s.id } });
    },
  }),
  createTeamMember: t.prismaField({
    type: "TeamMember",
    description: "Adds a human operator or an external agent to the workspace. Needs workspace:admin.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateTeamMemberInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const m = await createTeamMember(ctx, { ...input, email: input.email ?? undefined, kind: input.kind ?? undefined });
      return ctx.db.teamMember.findUniqueOrThrow({ ...query, where: { id: m.id } });
    },
  }),
}));
