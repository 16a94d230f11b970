import { RE2JS } from "re2js";
import { createHash } from "node:crypto";
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { z } from "zod";
import { Prisma } from "../generated/sqlite/client.ts";
import { notFound, validationError } from "../errors.ts";
import { scenarioAccess } from "./access.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation } from "./conversation-access.ts";
import { CHAT_TX, publishConversationChange } from "./conversation-log.ts";
import { parseInput } from "./validation.ts";

// Conversation metadata is the conversation's client_metadata (the details route shows the same
// object). A write merges: each top-level key sent replaces the stored one, keys not sent stay,
// and a key sent as null is removed (JSON Merge Patch at the top level), so "create or update"
// never needs a read first and a client can still delete a key. Nested objects are replaced whole.
// The merged result must satisfy the scenario's JSON schema, when one is set.

/** Serialized size limit of a conversation's metadata (UTF-8 bytes). */
export const MAX_METADATA_BYTES = 16 * 1024;
/** Serialized size limit of a metadata JSON schema. */
export const MAX_SCHEMA_BYTES = 64 * 1024;

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

const SetMetadataInput = z.object(
  { metadata: z.record(z.string(), z.unknown(), { error: (iss) => (iss.input === undefined ? "is required" : "must be an object") }) },
  { error: 'the body must be a JSON object: {"metadata": {…}}' },
);

// --- schemas -----------------------------------------------------------------------------------

// Unknown keywords and formats are errors (a typo like "requird" would otherwise check nothing);
// type/tuple/required strictness is off, as those flag valid schemas.
/**
 * `pattern` and `patternProperties` run on RE2 (linear time), not the backtracking JavaScript
 * engine: schemas come from scenario admins, and a pathological pattern must not stall the server.
 * Patterns RE2 cannot run (backreferences, lookaround) make the schema invalid.
 */
function safeRegExp(pattern: string, _flags: string) {
  const re = RE2JS.compile(pattern);
  return { test: (s: string) => re.test(s) };
}
safeRegExp.code = 'require("re2js").RE2JS';

const AJV_OPTIONS: Options = {
  code: { regExp: safeRegExp },
  strictSchema: true,
  strictNumbers: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allErrors: false,
  logger: false,
};
/** An annotation common in schemas copied from OpenAPI documents (ajv knows `nullable`); it checks nothing. */
const ANNOTATIONS = ["example"];

function newAjv(schema: JsonObject) {
  const draft = typeof schema.$schema === "string" ? schema.$schema : "";
  const ajv = draft.includes("2020-12") ? new Ajv2020(AJV_OPTIONS) : draft.includes("2019-09") ? new Ajv2019(AJV_OPTIONS) : new Ajv(AJV_OPTIONS);
  addFormats.default(ajv);
  for (const keyword of ANNOTATIONS) ajv.addKeyword({ keyword, schemaType: ["string", "number", "boolean", "object", "array", "null"] });
  return ajv;
}

// Compiled validators by schema content. Each compile gets its own Ajv instance (a schema's $id
// may repeat across scenarios); the map is bounded, oldest out first.
const validators = new Map<string, ValidateFunction>();
const MAX_VALIDATORS = 256;

function compiled(schema: JsonObject): ValidateFunction {
  const key = createHash("sha256").update(JSON.stringify(schema)).digest("hex");
  const hit = validators.get(key);
  if (hit) return hit;
  const ajv = newAjv(schema);
  if (!ajv.validateSchema(schema)) throw new Error(ajv.errorsText(ajv.errors, { dataVar: "schema" }));
  const validate = ajv.compile(schema);
  if (validators.size >= MAX_VALIDATORS) validators.delete(validators.keys().next().value!);
  validators.set(key, validate);
  return validate;
}

/** A JSON schema fit to check metadata with; anything else is a VALIDATION_ERROR naming the problem. */
export function checkMetadataSchema(schema: unknown): JsonObject {
  if (!isObject(schema)) throw validationError("schema: must be a JSON object (a JSON schema)", "schema");
  if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) {
    throw validationError(`schema: must be at most ${MAX_SCHEMA_BYTES} bytes as JSON`, "schema");
  }
  try {
    compiled(schema);
  } catch (err) {
    throw validationError(`schema: not a usable JSON schema: ${(err as Error).message}`, "schema");
  }
  return schema;
}

function describe(e: ErrorObject): { path: string; message: string } {
  const path = `metadata${e.instancePath}`;
  if (e.keyword === "additionalProperties") return { path, message: `${path} must NOT have additional properties: ${e.params.additionalProperty}` };
  if (e.keyword === "enum") return { path, message: `${path} ${e.message}: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}` };
  return { path, message: `${path} ${e.message}` };
}

/**
 * Checks metadata against the scenario's schema (none: anything goes) and the size limit. Other
 * writers of a conversation's client_metadata (chat transports) can call it too.
 */
export function validateMetadata(metadata: JsonObject, schema: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > MAX_METADATA_BYTES) {
    throw validationError(`metadata: must be at most ${MAX_METADATA_BYTES} bytes as JSON (got ${bytes})`, "metadata");
  }
  if (!isObject(schema)) return;
  const validate = compiled(schema);
  if (validate(metadata)) return;
  const { path, message } = describe(validate.errors![0]!);
  throw validationError(message, path);
}

// --- metadata ----------------------------------------------------------------------------------

export async function getConversationMetadata(ctx: ServiceContext, conversationId: string): Promise<{ metadata: JsonObject }> {
  const { conversation } = await operatorConversation(ctx, conversationId, "read");
  return { metadata: isObject(conversation.clientMetadata) ? conversation.clientMetadata : {} };
}

export async function setConversationMetadata(ctx: ServiceContext, conversationId: string, input: unknown): Promise<{ metadata: JsonObject }> {
  const { conversation, workspaceId } = await operatorConversation(ctx, conversationId, "write");
  const { metadata: sent } = parseInput(SetMetadataInput, input);
  const now = ctx.clock();
  const result = await ctx.db.$transaction(async (tx) => {
    // Touching the row first takes its write lock, so concurrent merges queue instead of losing keys.
    const current = await tx.conversation.update({
      where: { id: conversation.id },
      data: { updatedAt: now },
      include: { scenario: { select: { metadataSchema: true } } },
    });
    const merged: JsonObject = { ...(isObject(current.clientMetadata) ? current.clientMetadata : {}) };
    for (const [key, value] of Object.entries(sent)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    validateMetadata(merged, current.scenario.metadataSchema);
    const updated = await tx.conversation.update({ where: { id: conversation.id }, data: { clientMetadata: merged as Prisma.InputJsonObject } });
    const event = await ctx.events.record(tx, {
      workspaceId,
      scenarioId: updated.scenarioId,
      type: "conversation.metadata_updated",
      payload: { conversationId: updated.id, keys: Object.keys(sent) },
    });
    return { updated, merged, event };
  }, CHAT_TX);
  publishConversationChange(ctx, result.updated, "metadata");
  ctx.events.publish([result.event]);
  return { metadata: result.merged };
}

// --- the scenario's schema ---------------------------------------------------------------------

/** The schema of a scenario row the caller may read (assistant:read or read_all). */
export async function readMetadataSchema(ctx: ServiceContext, scenario: { id: string; metadataSchema: unknown }): Promise<JsonObject | null> {
  await scenarioAccess(ctx, scenario.id, "read");
  return isObject(scenario.metadataSchema) ? scenario.metadataSchema : null;
}

/** Sets (or, with null, removes) the JSON schema conversation metadata must satisfy. */
export async function setMetadataSchema(ctx: ServiceContext, scenarioId: string, schema: unknown): Promise<string> {
  const id = await scenarioAccess(ctx, scenarioId, "write");
  const checked = schema === null || schema === undefined ? null : checkMetadataSchema(schema);
  const scenario = await ctx.loaders.scenario.load(id);
  if (!scenario) throw notFound("Scenario");
  const event = await ctx.db.$transaction(async (tx) => {
    await tx.scenario.update({ where: { id }, data: { metadataSchema: checked === null ? Prisma.DbNull : (checked as Prisma.InputJsonObject) } });
    return ctx.events.record(tx, {
      workspaceId: scenario.workspaceId,
      scenarioId: id,
      type: "scenario.metadata_schema_updated",
      payload: { scenarioId: id, schemaSet: checked !== null },
    });
  });
  ctx.events.publish([event]);
  return id;
}
