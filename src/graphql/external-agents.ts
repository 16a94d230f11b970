import { builder } from "./builder.ts";
import { ConversationEventRef } from "./conversations.ts";
import { connectExternalAgent, type ExternalAgentConnection } from "../services/external-agents.ts";

// Connecting an external agent (OpenClaw): its member, its key (shown once) and where its skill is.

export const OPENCLAW_SKILL_PATH = "/api/v1/integrations/openclaw/skill";

builder.prismaObjectFields("TeamMember", (t) => ({
  avatarUrl: t.exposeString("avatarUrl", { nullable: true, description: "Shown beside the member's messages (external agents have their own)" }),
}));

builder.objectField(ConversationEventRef, "authorAvatarUrl", (t) =>
  t.string({
    nullable: true,
    description: "The avatar of the operator or agent who wrote a human_operator message",
    resolve: async (e, _a, ctx) => (e.member_id ? ((await ctx.loaders.member.load(e.member_id))?.avatarUrl ?? null) : null),
  }),
);

const ExternalAgentConnectionRef = builder.objectRef<ExternalAgentConnection>("ExternalAgentConnection").implement({
  fields: (t) => ({
    secret: t.exposeString("secret", {
      description: "The agent's developer key (cw_dev_), bound to its member. Store it now (QUINCER_API_KEY for OpenClaw): it is never shown again.",
    }),
    member: t.prismaField({
      type: "TeamMember",
      resolve: (query, c, _a, ctx) => ctx.db.teamMember.findUniqueOrThrow({ ...query, where: { id: c.member.id } }),
    }),
    credential: t.prismaField({
      type: "Credential",
      resolve: (query, c, _a, ctx) => ctx.db.credential.findUniqueOrThrow({ ...query, where: { id: c.credential.id } }),
    }),
    skillPath: t.string({
      description: "GET it on this server with the key for the agent's SKILL.md",
      resolve: () => OPENCLAW_SKILL_PATH,
    }),
  }),
});

builder.mutationField("connectExternalAgent", (t) =>
  t.field({
    type: ExternalAgentConnectionRef,
    description:
      "Connects an external agent (e.g. OpenClaw): a team member of kind external_agent with this name and avatar, and a developer key " +
      "bound to it with the takeover scopes (conversations:read, conversations:takeover, conversations:reply, conversations:handback) and " +
      "the lead scopes (leads:read, leads:write, tasks:read). Its actions then appear under that member. Needs workspace:admin (and the " +
      "scopes it grants).",
    authScopes: { authenticated: true },
    args: {
      name: t.arg.string({ required: true, description: "The member's display name, e.g. OpenClaw (at most 200 characters)" }),
      avatarUrl: t.arg.string({ description: "An http(s) URL of the agent's avatar" }),
    },
    resolve: (_r, args, ctx) => connectExternalAgent(ctx, { name: args.name, avatarUrl: args.avatarUrl }),
  }),
);
