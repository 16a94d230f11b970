import { forgetChatSettings } from "./chat-settings.ts";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { validationError } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { scenarioAccess } from "./access.ts";
import { deleteFiles, fileIdFromUrl, fileUrl, IMAGE_TYPES, sniffImageType, storeFile, type ImageType } from "./files.ts";
import { parseInput } from "./validation.ts";

export const WIDGET_SIZES = ["small", "medium", "large"] as const;
export const WIDGET_LOCATIONS = ["bottom-right", "bottom-left", "top-right", "top-left"] as const;
/** Decoded size limit of avatar_image and bubble_icon_image. */
export const MAX_IMAGE_BYTES = 1024 * 1024;
/** Characters a data URL of MAX_IMAGE_BYTES needs, with room for its media type and parameters. */
const MAX_DATA_URL_CHARS = Math.ceil(MAX_IMAGE_BYTES / 3) * 4 + 200;

/** Limits of the free-text fields (the reference gives none; these are Parley's, see README). */
export const WIDGET_TEXT_LIMITS = {
  welcome_message: 1000,
  welcome_message2: 1000,
  header: 200,
  subtitle: 200,
  input_placeholder: 200,
  background_disclaimer_text: 1000,
  prechat_header_text: 200,
  prechat_button_text: 100,
  prechat_message_text: 2000,
} as const;
const text = (field: keyof typeof WIDGET_TEXT_LIMITS) => z.string().max(WIDGET_TEXT_LIMITS[field]);

const RGB = /^\s*rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)\s*$/i;
/** A CSS rgb(r, g, b) colour with integer components 0–255; stored normalised as "rgb(r, g, b)". */
const Colour = z
  .string()
  .max(100)
  .transform((value, ctx) => {
    const m = RGB.exec(value);
    const parts = m ? [m[1], m[2], m[3]].map(Number) : [];
    if (!m || parts.some((n) => n > 255)) {
      ctx.addIssue({ code: "custom", message: 'must be a CSS colour "rgb(r, g, b)" with integer components 0–255' });
      return z.NEVER;
    }
    return `rgb(${parts.join(", ")})`;
  })
  .meta({ description: 'CSS "rgb(r, g, b)", components integers 0–255', example: "rgb(0, 122, 255)" });

export type ImageChange = { remove: true } | { bytes: Uint8Array; contentType: ImageType } | { keepUrl: string };

const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*),/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CLAIMABLE = new Set<string>([...IMAGE_TYPES, "image/jpg"]);

/**
 * An image field on PATCH: a base64 data URL (the bytes decide the type; a data URL claiming
 * image/png that holds a GIF is stored as a GIF), "" or null to remove the image, or the URL GET
 * answered (so a read-modify-write round trip keeps the image).
 */
const ImageInput = z
  .string()
  .nullable()
  .transform((value, ctx): ImageChange => {
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    if (value === null || value === "") return { remove: true };
    const m = DATA_URL.exec(value.slice(0, 300));
    if (!m) {
      if ((/^https?:\/\//i.test(value) || value.startsWith("/files/")) && fileIdFromUrl(value)) return { keepUrl: value };
      return fail('must be a base64 data URL ("data:image/png;base64,…"), "" or null to remove the image');
    }
    const mediaType = m[1]!.trim().toLowerCase();
    const params = m[2]!.split(";").map((p) => p.trim().toLowerCase());
    if (!CLAIMABLE.has(mediaType)) return fail("must be a PNG, JPEG, GIF or WebP image");
    if (params[params.length - 1] !== "base64") return fail('must be base64-encoded ("data:image/png;base64,…")');
    const payload = value.slice(m[0].length);
    if (payload.length > MAX_DATA_URL_CHARS) return fail("must be at most 1 MiB (1048576 bytes) decoded");
    if (payload.length === 0) return fail("is empty");
    if (payload.length % 4 !== 0 || !BASE64.test(payload)) return fail("is not valid base64");
    const bytes = new Uint8Array(Buffer.from(payload, "base64"));
    if (bytes.byteLength > MAX_IMAGE_BYTES) return fail("must be at most 1 MiB (1048576 bytes) decoded");
    const contentType = sniffImageType(bytes);
    if (!contentType) return fail("must be a PNG, JPEG, GIF or WebP image (checked by its content)");
    return { bytes, contentType };
  })
  .meta({ description: 'Upload: "data:image/png;base64,…" (PNG, JPEG, GIF or WebP, ≤ 1 MiB decoded); "" or null removes the image' });

export const WidgetConfigurationPatch = z
  .object({
    welcome_message: text("welcome_message"),
    welcome_message2: text("welcome_message2"),
    header: text("header"),
    subtitle: text("subtitle"),
    popup_active: z.boolean(),
    input_placeholder: text("input_placeholder"),
    primary_color: Colour,
    voice_active: z.boolean(),
    header_color: Colour,
    header_collapse: z.boolean(),
    header_text_color: z.boolean(),
    typing: z.boolean(),
    window_auto_open: z.boolean(),
    white_label: z.boolean(),
    prechat_active: z.boolean(),
    prechat_header_text: text("prechat_header_text").nullable(),
    prechat_button_text: text("prechat_button_text").nullable(),
    prechat_message_text: text("prechat_message_text").nullable(),
    background_disclaimer_text: text("background_disclaimer_text").nullable(),
    streaming_active: z.boolean(),
    link_tracking_active: z.boolean(),
    window_height: z.number().int().min(400).max(1000),
    window_width: z.number().int().min(250).max(1920),
    size: z.enum(WIDGET_SIZES),
    location: z.enum(WIDGET_LOCATIONS),
    avatar_image: ImageInput,
    bubble_icon_image: ImageInput,
  })
  .partial()
  .strict();

/** The answer of GET and PATCH (OpenAPI). */
export const WidgetConfiguration = z.object({
  welcome_message: z.string(),
  welcome_message2: z.string(),
  header: z.string(),
  subtitle: z.string(),
  popup_active: z.boolean(),
  input_placeholder: z.string(),
  primary_color: z.string(),
  voice_active: z.boolean(),
  header_color: z.string(),
  header_collapse: z.boolean(),
  header_text_color: z.boolean(),
  typing: z.boolean(),
  window_auto_open: z.boolean(),
  white_label: z.boolean(),
  prechat_active: z.boolean(),
  prechat_header_text: z.string().nullable(),
  prechat_button_text: z.string().nullable(),
  prechat_message_text: z.string().nullable(),
  background_disclaimer_text: z.string().nullable(),
  streaming_active: z.boolean(),
  link_tracking_active: z.boolean(),
  window_height: z.number().int(),
  window_width: z.number().int(),
  size: z.enum(WIDGET_SIZES),
  location: z.enum(WIDGET_LOCATIONS),
  avatar_image: z.string().meta({ description: 'Absolute URL Parley serves the image at, "" when none' }),
  bubble_icon_image: z.string().meta({ description: 'Absolute URL Parley serves the image at, "" when none' }),
});
export type WidgetConfigurationJson = z.infer<typeof WidgetConfiguration>;

type Row = NonNullable<Awaited<ReturnType<Db["widgetConfiguration"]["findUnique"]>>>;

export function widgetConfigurationJson(w: Row, publicBase: string): WidgetConfigurationJson {
  return {
    welcome_message: w.welcomeMessage,
    welcome_message2: w.welcomeMessage2,
    header: w.header,
    subtitle: w.subtitle,
    popup_active: w.popupActive,
    input_placeholder: w.inputPlaceholder,
    primary_color: w.primaryColor,
    voice_active: w.voiceActive,
    header_color: w.headerColor,
    header_collapse: w.headerCollapse,
    header_text_color: w.headerTextColor,
    typing: w.typing,
    window_auto_open: w.windowAutoOpen,
    white_label: w.whiteLabel,
    prechat_active: w.prechatActive,
    prechat_header_text: w.prechatHeaderText,
    prechat_button_text: w.prechatButtonText,
    prechat_message_text: w.prechatMessageText,
    background_disclaimer_text: w.backgroundDisclaimerText,
    streaming_active: w.streamingActive,
    link_tracking_active: w.linkTrackingActive,
    window_height: w.windowHeight,
    window_width: w.windowWidth,
    size: w.size as WidgetConfigurationJson["size"],
    location: w.location as WidgetConfigurationJson["location"],
    avatar_image: w.avatarFileId ? fileUrl(publicBase, w.avatarFileId) : "",
    bubble_icon_image: w.bubbleIconFileId ? fileUrl(publicBase, w.bubbleIconFileId) : "",
  };
}

/** Scenarios get their widget configuration (all defaults) the first time it is asked for. */
async function loadWidgetConfiguration(db: Pick<Db, "widgetConfiguration">, scenarioId: string): Promise<Row> {
  const row = await db.widgetConfiguration.findUnique({ where: { scenarioId } });
  return row ?? db.widgetConfiguration.upsert({ where: { scenarioId }, create: { scenarioId }, update: {} });
}

/**
 * The scenario's row (created with defaults when missing), locked for the rest of the transaction:
 * touching updatedAt is a write, so a concurrent PATCH waits here until this one commits and then
 * reads the image file ids it stored, deleting those it replaces; no stored file is left orphaned.
 * (PostgreSQL: the upsert's row lock; SQLite: the write lock on the database.)
 */
function lockWidgetConfiguration(tx: Pick<Db, "widgetConfiguration">, scenarioId: string, now: Date): Promise<Row> {
  return tx.widgetConfiguration.upsert({ where: { scenarioId }, create: { scenarioId }, update: { updatedAt: now } });
}

/**
 * @param publicBase the server's public scheme://host, which the transport derives from the
 *   request; image fields are answered as absolute URLs under it.
 */
export async function getWidgetConfiguration(ctx: ServiceContext, publicBase: string, forScenario?: string) {
  const scenarioId = await scenarioAccess(ctx, forScenario, "read");
  return widgetConfigurationJson(await loadWidgetConfiguration(ctx.db, scenarioId), publicBase);
}

const IMAGE_FIELDS = [
  ["avatar_image", "avatarFileId"],
  ["bubble_icon_image", "bubbleIconFileId"],
] as const;

/** Changes only the fields sent (images are stored as files, replaced ones deleted); answers the whole object. */
export async function updateWidgetConfiguration(
  ctx: ServiceContext,
  input: unknown,
  publicBase: string,
  forScenario?: string,
): Promise<WidgetConfigurationJson> {
  const scenarioId = await scenarioAccess(ctx, forScenario, "write");
  const p = parseInput(WidgetConfigurationPatch, input);
  const sent = Object.keys(p);
  const { workspaceId } = (await ctx.loaders.scenario.load(scenarioId))!;
  const { row, event } = await ctx.db.$transaction(async (tx) => {
    const current = await lockWidgetConfiguration(tx, scenarioId, ctx.clock());
    const files: { avatarFileId?: string | null; bubbleIconFileId?: string | null } = {};
    const replaced: (string | null)[] = [];
    for (const [field, column] of IMAGE_FIELDS) {
      const change = p[field];
      if (!change) continue;
      if ("keepUrl" in change) {
        // Only the URL of the image already set means "unchanged"; any other URL is not an upload.
        if (!current[column] || fileIdFromUrl(change.keepUrl) !== current[column]) {
          throw validationError(`${field}: must be a base64 data URL ("data:image/png;base64,…"), "" or null to remove the image`, field);
        }
        continue;
      }
      files[column] = "remove" in change ? null : (await storeFile(tx, scenarioId, change.bytes)).id;
      replaced.push(current[column]);
    }
    const row = await tx.widgetConfiguration.update({
      where: { scenarioId },
      data: {
        welcomeMessage: p.welcome_message,
        welcomeMessage2: p.welcome_message2,
        header: p.header,
        subtitle: p.subtitle,
        popupActive: p.popup_active,
        inputPlaceholder: p.input_placeholder,
        primaryColor: p.primary_color,
        voiceActive: p.voice_active,
        headerColor: p.header_color,
        headerCollapse: p.header_collapse,
        headerTextColor: p.header_text_color,
        typing: p.typing,
        windowAutoOpen: p.window_auto_open,
        whiteLabel: p.white_label,
        prechatActive: p.prechat_active,
        prechatHeaderText: p.prechat_header_text,
        prechatButtonText: p.prechat_button_text,
        prechatMessageText: p.prechat_message_text,
        backgroundDisclaimerText: p.background_disclaimer_text,
        streamingActive: p.streaming_active,
        linkTrackingActive: p.link_tracking_active,
        windowHeight: p.window_height,
        windowWidth: p.window_width,
        size: p.size,
        location: p.location,
        ...files,
      },
    });
    await deleteFiles(tx, scenarioId, replaced);
    const event = sent.length
      ? await ctx.events.record(tx, {
          workspaceId,
          scenarioId,
          type: "widget_configuration.updated",
          payload: { scenarioId, fields: sent },
        })
      : null;
    return { row, event };
  });
  forgetChatSettings(scenarioId);
  if (event) ctx.events.publish([event]);
  return widgetConfigurationJson(row, publicBase);
}
