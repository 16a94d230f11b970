import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import type PrismaTypes from "../generated/pothos-types.ts";
import { getDatamodel } from "../generated/pothos-types.ts";
import { unauthenticated } from "../errors.ts";
import type { ServiceContext } from "../services/context.ts";

export type GraphQLContext = ServiceContext & { requestId: string };

// Configuration only; each area's file holds its types, queries, mutations and subscriptions.
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: { authenticated: boolean };
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
    authScopes: async (ctx) => ({ authenticated: ctx.principal !== null }),
    unauthorizedError: () => unauthenticated("Missing credential"),
    authorizeOnSubscribe: true,
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
