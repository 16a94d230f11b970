import { builder } from "./builder.ts";
import {
  connectIntercom,
  disconnectIntercom,
  getIntercomConnection,
  type IntercomConnectionView,
} from "../services/intercom-connection.ts";

// The workspace's Intercom connection (a developer key with workspace:admin): the access token the
// Intercom imports use. The token is write-only: only its last four characters are ever shown.

const IntercomConnectionRef = builder.objectRef<IntercomConnectionView>("IntercomConnection").implement({
  description: "Whether the workspace has an Intercom access token, and which (its last four characters)",
  fields: (t) => ({
    connected: t.exposeBoolean("connected"),
    tokenHint: t.exposeString("tokenHint", { nullable: true, description: "The token's last four characters" }),
    appName: t.exposeString("appName", { nullable: true, description: "The Intercom workspace (app) the token belongs to" }),
    connectedAt: t.expose("connectedAt", { type: "DateTime", nullable: true, description: "When the current token was set" }),
  }),
});

builder.queryFields((t) => ({
  intercomConnection: t.field({
    type: IntercomConnectionRef,
    nullable: true,
    description: "The workspace's Intercom connection (connected: false without one)",
    authScopes: { authenticated: true },
    resolve: (_r, _a, ctx) => getIntercomConnection(ctx),
  }),
}));

builder.mutationFields((t) => ({
  connectIntercom: t.field({
    type: IntercomConnectionRef,
    description:
      "Sets the workspace's Intercom access token, after checking it with Intercom (GET /me); a token Intercom rejects is a " +
      "VALIDATION_ERROR and nothing is stored. Replaces an earlier token.",
    authScopes: { authenticated: true },
    args: { accessToken: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => connectIntercom(ctx, { accessToken: args.accessToken }),
  }),
  disconnectIntercom: t.boolean({
    description: "Forgets the token (imported articles stay); answers whether there was one",
    authScopes: { authenticated: true },
    resolve: (_r, _a, ctx) => disconnectIntercom(ctx),
  }),
}));
