import { z } from "zod";
import { hashSecret, hintOf, newOpaqueKey } from "../auth/credentials.ts";
import type { DeveloperScope } from "../auth/scopes.ts";
import { forbidden, notFound } from "../errors.ts";
import type { Credential, TeamMember } from "../generated/sqlite/client.ts";
import { requirePrincipal, requireWorkspaceAdmin } from "./access.ts";
import { auditActor, recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { parseInput } from "./validation.ts";
import { nextMemberUserId } from "./workspaces.ts";

// Connecting an external agent (the reference's "Connect OpenClaw"): a team member of kind
// external_agent with its own name and avatar, and a developer key bound to it. Everything the
// agent does with that key (takeovers, replies, handbacks) is then recorded under that member, in
// the events, the visitor's messages and the audit trail, not as an anonymous integration.

/** The external-agent endpoints' scopes (takeover) and the leads & activities scopes (lead). */
export const TAKEOVER_SCOPES = ["conversations:read", "conversations:takeover", "conversations:reply", "conversations:handback"] as const satisfies readonly DeveloperScope[];
export const LEAD_SCOPES = ["leads:read", "leads:write", "tasks:read"] as const satisfies readonly DeveloperScope[];
export const EXTERNAL_AGENT_SCOPES: DeveloperScope[] = [...TAKEOVER_SCOPES, ...LEAD_SCOPES];

const AVATAR_URL_MAX_CHARS = 2048;

export const ConnectExternalAgentInput = z.object({
  workspaceId: z.string().min(1).optional(),
  name: z.string().trim().min(1, "name is required").max(200, "name must be at most 200 characters"),
  avatarUrl: z
    .string()
    .trim()
    .max(AVATAR_URL_MAX_CHARS, `avatarUrl must be at most ${AVATAR_URL_MAX_CHARS} characters`)
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === "https:" || u.protocol === "http:") && u.hostname !== "";
      } catch {
        return false;
      }
    }, "avatarUrl must be an http(s) URL")
    .nullish(),
});

export interface ExternalAgentConnection {
  member: TeamMember;
  credential: Credential;
  /** The developer key: shown once, stored only as a hash. */
  secret: string;
}

export async function connectExternalAgent(ctx: ServiceContext, input: unknown): Promise<ExternalAgentConnection> {
  const args = parseInput(ConnectExternalAgentInput, input);
  const workspaceId = requireWorkspaceAdmin(ctx, args.workspaceId) ?? args.workspaceId;
  if (!workspaceId || !(await ctx.db.workspace.findUnique({ where: { id: workspaceId } }))) throw notFound("Workspace");
  const p = requirePrincipal(ctx.principal);
  if (p.kind !== "system") {
    // As for any key: nobody hands out more than they have.
    const missing = EXTERNAL_AGENT_SCOPES.filter((s) => !p.scopes.has(s));
    if (missing.length) throw forbidden(`Cannot grant scopes the caller lacks: ${missing.join(", ")}`);
  }
  const secret = newOpaqueKey("developer");
  const now = ctx.clock();
  const actor = auditActor(ctx.principal);
  const { member, credential, events } = await ctx.db.$transaction(async (tx) => {
    const userId = await nextMemberUserId(tx, workspaceId);
    const member = await tx.teamMember.create({
      data: { workspaceId, userId, name: args.name, kind: "external_agent", avatarUrl: args.avatarUrl ?? null },
    });
    const credential = await tx.credential.create({
      data: {
        kind: "developer",
        secretHash: hashSecret(secret),
        hint: hintOf(secret),
        workspaceId,
        scenarioId: null,
        memberId: member.id,
        scopes: EXTERNAL_AGENT_SCOPES,
        label: `${args.name} (external agent)`,
        createdAt: now,
      },
    });
    const events = [
      await ctx.events.record(tx, { workspaceId, type: "credential.created", payload: { credentialId: credential.id, kind: credential.kind } }),
      await ctx.events.record(tx, {
        workspaceId,
        type: "external_agent.connected",
        payload: { memberId: member.id, credentialId: credential.id, name: member.name },
      }),
    ];
    await recordAudit(tx, {
      workspaceId,
      memberId: actor.memberId,
      credentialId: actor.credentialId,
      action: "external_agent.connected",
      details: { agentMemberId: member.id, agentCredentialId: credential.id, name: member.name, avatarUrl: member.avatarUrl, scopes: EXTERNAL_AGENT_SCOPES },
    });
    return { member, credential, events };
  });
  ctx.events.publish(events);
  return { member, credential, secret };
}
