import { builder } from "./builder.ts";
import { CREDENTIAL_KINDS, DEVELOPER_SCOPES, TOKEN_SCOPES } from "../auth/scopes.ts";
import { createKey, createScenarioToken, credentialScope, revokeCredential, type IssuedCredential } from "../services/credentials.ts";

const CredentialKindEnum = builder.enumType("CredentialKind", { values: CREDENTIAL_KINDS });
const TokenScopeEnum = builder.enumType("TokenScope", { values: TOKEN_SCOPES });
const KeyKindEnum = builder.enumType("KeyKind", { values: ["developer", "widget", "legacy"] as const });

builder.prismaObject("Credential", {
  description: "A scenario token or an API key. The secret itself is shown only when it is created.",
  fields: (t) => ({
    id: t.exposeID("id"),
    kind: t.expose("kind", { type: CredentialKindEnum }),
    hint: t.exposeString("hint", { description: "The secret's first and last characters" }),
    scopes: t.stringList({ resolve: (c) => c.scopes as string[] }),
    label: t.exposeString("label", { nullable: true }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    active: t.boolean({
      description: "Neither revoked nor expired",
      select: { revokedAt: true, expiresAt: true },
      resolve: (c, _a, ctx) => !c.revokedAt && (!c.expiresAt || c.expiresAt > ctx.clock()),
    }),
    scenario: t.relation("scenario", { nullable: true }),
    member: t.relation("member", { nullable: true }),
  }),
});

const IssuedCredentialRef = builder.objectRef<IssuedCredential>("IssuedCredential").implement({
  fields: (t) => ({
    secret: t.exposeString("secret", { description: "The token or key. Store it now: it is never shown again." }),
    credential: t.prismaField({
      type: "Credential",
      resolve: (query, issued, _a, ctx) => ctx.db.credential.findUniqueOrThrow({ ...query, where: { id: issued.id } }),
    }),
  }),
});

builder.queryFields((t) => ({
  credentials: t.prismaConnection({
    type: "Credential",
    cursor: "id",
    description: "Tokens and keys the caller manages (workspace:admin: the workspace's; write_all: its scenario's)",
    authScopes: { authenticated: true },
    totalCount: (_root, _args, ctx) => ctx.db.credential.count({ where: credentialScope(ctx) }),
    resolve: (query, _root, _args, ctx) =>
      ctx.db.credential.findMany({ ...query, where: credentialScope(ctx), orderBy: [{ createdAt: "desc" }, { id: "asc" }] }),
  }),
}));

const CreateApiTokenInput = builder.inputType("CreateApiTokenInput", {
  fields: (t) => ({
    scenarioId: t.id({ required: true }),
    scope: t.field({ type: TokenScopeEnum, required: true }),
    expiresInDays: t.int({ description: "Default 364 (52 weeks)" }),
    label: t.string(),
  }),
});

const DeveloperScopeEnum = builder.enumType("DeveloperScope", {
  values: Object.fromEntries(DEVELOPER_SCOPES.map((s) => [s.replace(":", "_").toUpperCase(), { value: s }])),
});

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  fields: (t) => ({
    kind: t.field({ type: KeyKindEnum, required: true }),
    scenarioId: t.id({ description: "widget and legacy keys: the scenario they identify" }),
    scopes: t.field({ type: [DeveloperScopeEnum], description: "developer keys: granted scopes" }),
    memberId: t.id({ description: "developer keys: the team member the key acts as" }),
    expiresInDays: t.int(),
    label: t.string(),
  }),
});

const clean = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: IssuedCredentialRef,
    description: "Issues a scenario API token (JWT). Needs workspace:admin, or a write_all token of the scenario.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: (_root, { input }, ctx) => createScenarioToken(ctx, clean(input)),
  }),
  createApiKey: t.field({
    type: IssuedCredentialRef,
    description: "Issues a developer (cw_dev_), widget (cw_live_) or legacy chat key.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    // A developer key goes to the caller's own workspace (createKey takes it from the principal).
    resolve: (_root, { input }, ctx) => createKey(ctx, clean(input)),
  }),
  revokeCredential: t.prismaField({
    type: "Credential",
    description: "Revokes a token or key; it stops working at once.",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const row = await revokeCredential(ctx, String(args.id));
      return ctx.db.credential.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
}));
