import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import type PrismaTypes from "../generated/pothos-types.ts";
import { getDatamodel } from "../generated/pothos-types.ts";
import { forbidden, unauthenticated } from "../errors.ts";
import type { ServiceContext } from "../services/context.ts";

export type GraphQLContext = ServiceContext & { requestId: string; clientIp: string };

// Configuration only; each area's file holds its types, queries, mutations and subscriptions.
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  /** authenticated: an operator credential (token, developer key); visitor: a widget key. */
  AuthScopes: { authenticated: boolean; visitor: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "warn",
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    nodesOnConnection: true,
  },
  scopeAuth: {
    // A widget key is public: it reaches only the fields marked for visitors.
    authScopes: async (ctx) => ({
      authenticated: ctx.principal !== null && ctx.principal.kind !== "widget",
      visitor: ctx.principal?.kind === "widget",
    }),
    unauthorizedError: (_parent, ctx) => {
      if (!ctx.principal) return unauthenticated("Missing credential");
      if (ctx.principal.kind === "widget") return forbidden("A widget key can only be used for visitor operations");
      return forbidden("Visitor operations need a widget key");
    },
    authorizeOnSubscribe: true,
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
