import { z } from "zod";
import type { Db } from "../db/client.ts";
import { forbidden, validationError } from "../errors.ts";
import { requirePrincipal } from "./access.ts";
import { auditActor, recordAudit } from "./audit.ts";
import type { ServiceContext } from "./context.ts";
import { leadAccess } from "./leads-access.ts";
import { parseInput } from "./validation.ts";

// A workspace's lead pipeline. Stages are created lazily: a workspace that never set its own has
// no LeadStage rows and the default pipeline below, so creating a workspace (or capturing its
// first lead on the chat path) writes nothing extra. setLeadStages replaces the whole list.

export const STAGE_KINDS = ["open", "won", "lost"] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

export interface LeadStageView {
  key: string;
  name: string;
  position: number;
  kind: StageKind;
}

export const DEFAULT_STAGES: readonly LeadStageView[] = [
  { key: "new", name: "New", position: 0, kind: "open" },
  { key: "contacted", name: "Contacted", position: 1, kind: "open" },
  { key: "qualified", name: "Qualified", position: 2, kind: "open" },
  { key: "proposal", name: "Proposal", position: 3, kind: "open" },
  { key: "won", name: "Won", position: 4, kind: "won" },
  { key: "lost", name: "Lost", position: 5, kind: "lost" },
];

export const MAX_STAGES = 20;

type StagesDb = Pick<Db, "leadStage">;

/** The workspace's pipeline in order: its own stages, or the defaults when it has none. */
export async function leadStagesOf(db: StagesDb, workspaceId: string): Promise<LeadStageView[]> {
  const rows = await db.leadStage.findMany({ where: { workspaceId }, orderBy: { position: "asc" } });
  if (!rows.length) return DEFAULT_STAGES.map((s) => ({ ...s }));
  return rows.map((r) => ({ key: r.key, name: r.name, position: r.position, kind: r.kind as StageKind }));
}

/** Where new leads start: the first open stage. */
export const initialStage = (stages: readonly LeadStageView[]) => (stages.find((s) => s.kind === "open") ?? stages[0]!).key;

export function requireKnownStage(stages: readonly LeadStageView[], key: string, field = "stage"): LeadStageView {
  const stage = stages.find((s) => s.key === key);
  if (!stage) throw validationError(`Unknown stage: ${key} (stages: ${stages.map((s) => s.key).join(", ")})`, field);
  return stage;
}

const StageInput = z.object({
  key: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "must be 1–40 lower-case letters, digits, '_' or '-'"),
  name: z.string().trim().min(1, "must not be blank").max(100, "must be at most 100 characters"),
  kind: z.enum(STAGE_KINDS).default("open"),
});

export const SetLeadStagesInput = z
  .array(StageInput)
  .min(1, "at least one stage is required")
  .max(MAX_STAGES, `at most ${MAX_STAGES} stages`)
  .superRefine((stages, c) => {
    const seen = new Set<string>();
    for (const [i, s] of stages.entries()) {
      if (seen.has(s.key)) c.addIssue({ code: "custom", path: [i, "key"], message: `duplicate stage key: ${s.key}` });
      seen.add(s.key);
    }
    if (!stages.some((s) => s.kind === "open")) c.addIssue({ code: "custom", message: "at least one stage must be open (new leads start there)" });
  });

/**
 * Replaces the workspace's pipeline (order = position). A stage that still has leads can't be
 * dropped: they'd be left in a stage nobody can filter, report or move them from.
 */
export async function setLeadStages(ctx: ServiceContext, input: unknown): Promise<LeadStageView[]> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind !== "developer") throw forbidden("The lead pipeline belongs to the workspace: use a developer key with leads:write");
  if (!p.scopes.has("leads:write")) throw forbidden("Insufficient scope. Required: leads:write");
  const { stages } = parseInput(z.object({ stages: SetLeadStagesInput }), { stages: input });
  const workspaceId = p.workspaceId;
  const keys = stages.map((s) => s.key);
  const actor = auditActor(p);
  const now = ctx.clock();
  const { result, event } = await ctx.db.$transaction(async (tx) => {
    const previous = await leadStagesOf(tx, workspaceId);
    const stranded = await tx.lead.groupBy({ by: ["stage"], where: { workspaceId, stage: { notIn: keys } }, _count: { _all: true } });
    if (stranded.length) {
      const [first] = stranded;
      throw validationError(`Stage ${first!.stage} still has ${first!._count._all} lead(s): move them to another stage first`, "stages");
    }
    await tx.leadStage.deleteMany({ where: { workspaceId } });
    await tx.leadStage.createMany({
      data: stages.map((s, position) => ({ workspaceId, key: s.key, name: s.name, kind: s.kind, position, createdAt: now, updatedAt: now })),
    });
    const result = stages.map((s, position) => ({ key: s.key, name: s.name, kind: s.kind, position }));
    await recordAudit(tx, {
      workspaceId,
      ...actor,
      action: "lead_stages.updated",
      details: { previous: previous.map((s) => s.key), stages: result },
    });
    const event = await ctx.events.record(tx, { workspaceId, type: "lead_stages.updated", payload: { stages: result } });
    return { result, event };
  });
  ctx.events.publish([event]);
  return result;
}

/** The caller's workspace pipeline (any lead reader). */
export async function listLeadStages(ctx: ServiceContext): Promise<LeadStageView[]> {
  return leadStagesOf(ctx.db, leadAccess(ctx, "read").workspaceId);
}
