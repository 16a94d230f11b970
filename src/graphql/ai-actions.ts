import { builder } from "./builder.ts";
import { snakeKeys } from "./case.ts";
import { HTTP_METHODS, CONVERSATION_VARIABLES } from "../services/ai-action-config.ts";
import {
  AI_ACTION_TYPES,
  createAiAction,
  deleteAiAction,
  getAiAction,
  isValidConfig,
  listAiActionRows,
  updateAiAction,
} from "../services/ai-actions.ts";

const AiActionType = builder.enumType("AiActionType", { values: AI_ACTION_TYPES });

interface Header {
  name: string;
  value: string;
}
interface Config {
  method?: string;
  url?: string;
  headers?: Header[];
  body?: string;
  server_url?: string;
  auth_header?: Header;
  tools?: string[];
  store_domain?: string;
}

const HttpHeader = builder.objectRef<Header>("HttpHeader").implement({
  description:
    "A header the action sends. Its value is write-only (it often carries a credential, e.g. Authorization: Bearer …): " +
    "set it through headers in AiActionConfigInput, which replaces the whole list",
  fields: (t) => ({
    name: t.exposeString("name"),
    valueSet: t.boolean({ description: "Whether a non-empty value is stored; the value itself is never returned", resolve: (h) => h.value !== "" }),
  }),
});

const AiActionConfig = builder.objectRef<Config>("AiActionConfig").implement({
  description: "An action's configuration; fields of other types are null",
  fields: (t) => ({
    method: t.string({ nullable: true, description: "http_request", resolve: (c) => c.method ?? null }),
    url: t.string({ nullable: true, description: "http_request: URL template", resolve: (c) => c.url ?? null }),
    headers: t.field({ type: [HttpHeader], description: "http_request: header names; values are write-only", resolve: (c) => c.headers ?? [] }),
    body: t.string({ nullable: true, description: "http_request: body template", resolve: (c) => c.body ?? null }),
    serverUrl: t.string({ nullable: true, description: "remote_mcp", resolve: (c) => c.server_url ?? null }),
    authHeaderName: t.string({
      nullable: true,
      description: "remote_mcp: the auth header's name; its value is write-only (a credential of another system)",
      resolve: (c) => c.auth_header?.name ?? null,
    }),
    tools: t.stringList({ description: "remote_mcp, shopify_remote_mcp: tools offered to the AI; empty means all", resolve: (c) => c.tools ?? [] }),
    storeDomain: t.string({ nullable: true, description: "shopify_remote_mcp", resolve: (c) => c.store_domain ?? null }),
  }),
});

builder.prismaObject("AiAction", {
  description: "Something the AI does when a conversation calls for it (Quickchat AI Actions)",
  fields: (t) => ({
    id: t.exposeID("id", { description: "The integer id of the REST paths" }),
    name: t.exposeString("name"),
    description: t.exposeString("description", { description: "Tells the AI when to trigger the action" }),
    type: t.field({ type: AiActionType, resolve: (a) => a.type as (typeof AI_ACTION_TYPES)[number] }),
    isActive: t.exposeBoolean("isActive"),
    icon: t.exposeString("icon", { nullable: true }),
    iconColor: t.exposeString("iconColor", { nullable: true }),
    isValid: t.boolean({
      description:
        "Computed: http_request needs a method and a URL (POST/PUT/PATCH also a non-blank body template); remote_mcp a server URL; shopify_remote_mcp a store domain",
      select: { type: true, config: true },
      resolve: (a) => isValidConfig(a.type, a.config),
    }),
    config: t.field({ type: AiActionConfig, select: { config: true }, resolve: (a) => (a.config ?? {}) as Config }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    scenario: t.relation("scenario"),
  }),
});

builder.prismaObjectFields("Scenario", (t) => ({
  aiActions: t.prismaField({
    type: ["AiAction"],
    description: "The scenario's AI actions, oldest first. Needs assistant:read or read_all.",
    resolve: (query, s, _a, ctx) => listAiActionRows(ctx, s.id, query),
  }),
}));

builder.queryFields((t) => ({
  aiAction: t.prismaField({
    type: "AiAction",
    description: "An AI action by its integer id; another scenario's (or workspace's) is NOT_FOUND",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const a = await getAiAction(ctx, String(args.id));
      return ctx.db.aiAction.findUniqueOrThrow({ ...query, where: { id: a.id } });
    },
  }),
}));

const HttpHeaderInput = builder.inputType("HttpHeaderInput", {
  fields: (t) => ({ name: t.string({ required: true }), value: t.string({ required: true }) }),
});

const VARIABLES = `{{conversation.<${CONVERSATION_VARIABLES.join("|")}>}} and {{metadata.<key>}}`;
const AiActionConfigInput = builder.inputType("AiActionConfigInput", {
  description: "Only the type's own fields are accepted. On update, fields given replace, null clears, others stay.",
  fields: (t) => ({
    method: t.string({ description: `http_request: ${HTTP_METHODS.join(", ")}` }),
    url: t.string({ description: `http_request: absolute http(s) URL; ${VARIABLES} allowed in path and query` }),
    headers: t.field({ type: [HttpHeaderInput], description: "http_request: at most 50, replacing the stored list (values are write-only: resend them all); values may use the variables" }),
    body: t.string({ description: `http_request (POST, PUT, PATCH): template ≤ 10,000 characters using ${VARIABLES}` }),
    serverUrl: t.string({ description: "remote_mcp: absolute https URL (http only for localhost)" }),
    authHeader: t.field({ type: HttpHeaderInput, description: "remote_mcp: a header sent to the server, e.g. Authorization" }),
    tools: t.stringList({ description: "remote_mcp, shopify_remote_mcp: tool names (unique); empty means all" }),
    storeDomain: t.string({ description: "shopify_remote_mcp: <store>.myshopify.com" }),
  }),
});

const DESCRIPTION = "≤ 2000 characters; tells the AI when to trigger the action";
const CreateAiActionInput = builder.inputType("CreateAiActionInput", {
  fields: (t) => ({
    type: t.field({ type: AiActionType, required: true }),
    name: t.string({ required: true, description: "≤ 200 characters" }),
    description: t.string({ description: DESCRIPTION }),
    isActive: t.boolean({ description: "Default true" }),
    icon: t.string({ description: "≤ 200 characters" }),
    iconColor: t.string({ description: "≤ 50 characters" }),
    config: t.field({ type: AiActionConfigInput, description: "May be incomplete: the action is then saved with isValid false" }),
  }),
});
const UpdateAiActionInput = builder.inputType("UpdateAiActionInput", {
  description: "Only the fields given change; the type is fixed at creation",
  fields: (t) => ({
    name: t.string(),
    description: t.string({ description: DESCRIPTION }),
    isActive: t.boolean(),
    icon: t.string(),
    iconColor: t.string(),
    config: t.field({ type: AiActionConfigInput }),
  }),
});

/** The service's snake_case keys, the configuration's included. */
const toService = (input: Record<string, unknown>) => snakeKeys(input, ["config"]);

builder.mutationFields((t) => ({
  createAiAction: t.prismaField({
    type: "AiAction",
    description: "Creates an AI action (possibly an incomplete draft). Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: { scenarioId: t.arg.id({ required: true }), input: t.arg({ type: CreateAiActionInput, required: true }) },
    resolve: async (query, _root, { scenarioId, input }, ctx) => {
      const a = await createAiAction(ctx, toService(input), String(scenarioId));
      return ctx.db.aiAction.findUniqueOrThrow({ ...query, where: { id: a.id } });
    },
  }),
  updateAiAction: t.prismaField({
    type: "AiAction",
    description: "Changes the fields given, configuration included. Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateAiActionInput, required: true }) },
    resolve: async (query, _root, { id, input }, ctx) => {
      const a = await updateAiAction(ctx, String(id), toService(input));
      return ctx.db.aiAction.findUniqueOrThrow({ ...query, where: { id: a.id } });
    },
  }),
  deleteAiAction: t.id({
    description: "Deletes an AI action; answers its id. Needs assistant:write or write_all.",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteAiAction(ctx, String(id));
      return String(id);
    },
  }),
}));
