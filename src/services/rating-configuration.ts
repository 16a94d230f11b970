import { z } from "zod";
import type { Db } from "../db/client.ts";
import { validationError } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { scenarioAccess } from "./access.ts";
import { parseInput } from "./validation.ts";

/**
 * The feedback questions a widget can ask at the end of a conversation. The reference names the
 * first two; the others are Parley's (README, "Assistant configuration").
 */
export const RATING_QUESTIONS = {
  HELPFUL_THUMBS: "Was the assistant helpful? (thumbs up / down)",
  EXPERIENCE_THUMBS: "How was your experience? (thumbs up / down)",
  SATISFACTION_STARS: "How satisfied are you? (1–5 stars)",
  RESOLVED_YES_NO: "Was your issue resolved? (yes / no)",
  EFFORT_SCALE: "How easy was it to get help? (1 very difficult – 5 very easy)",
  NPS_0_10: "How likely are you to recommend us? (0–10, Net Promoter Score)",
  FREE_TEXT_COMMENT: "Anything else you want to tell us? (free text, optional)",
} as const;
export type RatingQuestionCode = keyof typeof RATING_QUESTIONS;
export const RATING_QUESTION_CODES = Object.keys(RATING_QUESTIONS) as [RatingQuestionCode, ...RatingQuestionCode[]];
export const DEFAULT_QUESTION_CODES: RatingQuestionCode[] = ["HELPFUL_THUMBS", "EXPERIENCE_THUMBS"];

export const RatingConfigurationPatch = z
  .object({
    conv_rating_active: z.boolean(),
    conv_rating_popup_active: z.boolean().meta({ description: "Must equal conv_rating_active after the update" }),
    conv_rating_question_codes: z
      .array(z.enum(RATING_QUESTION_CODES))
      .min(1)
      .superRefine((codes, ctx) => {
        codes.forEach((code, i) => {
          if (codes.indexOf(code) !== i) ctx.addIssue({ code: "custom", path: [i], message: `duplicate question code ${code}` });
        });
      }),
  })
  .partial()
  .strict();

export const RatingConfiguration = z.object({
  conv_rating_active: z.boolean(),
  conv_rating_popup_active: z.boolean(),
  conv_rating_question_codes: z.array(z.enum(RATING_QUESTION_CODES)),
});
export type RatingConfigurationJson = z.infer<typeof RatingConfiguration>;

type Row = NonNullable<Awaited<ReturnType<Db["ratingConfiguration"]["findUnique"]>>>;

export function ratingConfigurationJson(r: Row): RatingConfigurationJson {
  return {
    conv_rating_active: r.active,
    conv_rating_popup_active: r.popupActive,
    conv_rating_question_codes: r.questionCodes as RatingQuestionCode[],
  };
}

/** Scenarios get their rating configuration (defaults) the first time it is asked for. */
export async function loadRatingConfiguration(db: Pick<Db, "ratingConfiguration">, scenarioId: string): Promise<Row> {
  const row = await db.ratingConfiguration.findUnique({ where: { scenarioId } });
  return (
    row ??
    db.ratingConfiguration.upsert({ where: { scenarioId }, create: { scenarioId, questionCodes: DEFAULT_QUESTION_CODES }, update: {} })
  );
}

export async function getRatingConfiguration(ctx: ServiceContext, forScenario?: string): Promise<RatingConfigurationJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  return ratingConfigurationJson(await loadRatingConfiguration(ctx.db, scenarioId));
}

/**
 * Changes only the fields sent; answers the whole object. The popup follows the feature: after the
 * update conv_rating_popup_active must equal conv_rating_active, or nothing is saved.
 */
export async function updateRatingConfiguration(ctx: ServiceContext, input: unknown, forScenario?: string): Promise<RatingConfigurationJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const p = parseInput(RatingConfigurationPatch, input);
  const sent = Object.keys(p);
  const { workspaceId } = (await ctx.loaders.scenario.load(scenarioId))!;
  const { row, event } = await ctx.db.$transaction(async (tx) => {
    const current = await loadRatingConfiguration(tx, scenarioId);
    const active = p.conv_rating_active ?? current.active;
    const popupActive = p.conv_rating_popup_active ?? current.popupActive;
    if (active !== popupActive) {
      const field = p.conv_rating_popup_active !== undefined ? "conv_rating_popup_active" : "conv_rating_active";
      throw validationError(
        `${field}: conv_rating_popup_active must equal conv_rating_active (this update would make them ${popupActive} and ${active}); send both together`,
        field,
      );
    }
    const row = await tx.ratingConfiguration.update({
      where: { scenarioId },
      data: { active, popupActive, questionCodes: p.conv_rating_question_codes },
    });
    const event = sent.length
      ? await ctx.events.record(tx, { workspaceId, scenarioId, type: "rating_configuration.updated", payload: { scenarioId, fields: sent } })
      : null;
    return { row, event };
  });
  if (event) ctx.events.publish([event]);
  return ratingConfigurationJson(row);
}
