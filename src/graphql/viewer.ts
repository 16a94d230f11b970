import { builder } from "./builder.ts";
import { requirePrincipal } from "../services/access.ts";
import type { Principal } from "../auth/scopes.ts";
import type { DomainEventRecord } from "../events/bus.ts";
import { currentWorkspace } from "../services/workspaces.ts";

type Caller = Exclude<Principal, { kind: "system" }>;

const Viewer = builder.objectRef<Caller>("Viewer").implement({
  description: "The credential making this request",
  fields: (t) => ({
    credentialId: t.exposeID("credentialId"),
    kind: t.exposeString("kind"),
    scopes: t.stringList({ resolve: (p) => [...p.scopes] }),
    workspaceId: t.exposeID("workspaceId"),
    scenarioId: t.exposeID("scenarioId", { nullable: true }),
    memberId: t.exposeID("memberId", { nullable: true }),
  }),
});

const DomainEvent = builder.objectRef<DomainEventRecord>("DomainEvent").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    type: t.exposeString("type"),
    scenarioId: t.exposeID("scenarioId", { nullable: true }),
    payload: t.field({ type: "JSON", resolve: (e) => e.payload }),
    createdAt: t.field({ type: "DateTime", resolve: (e) => e.createdAt }),
  }),
});

builder.queryField("viewer", (t) =>
  t.field({
    type: Viewer,
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => requirePrincipal(ctx.principal) as Caller,
  }),
);

builder.subscriptionField("workspaceEvents", (t) =>
  t.field({
    type: DomainEvent,
    description: "Domain events of the caller's workspace, live (a scenario token sees its scenario's only)",
    authScopes: { authenticated: true },
    subscribe: async function* (_root, _args, ctx) {
      const ws = await currentWorkspace(ctx);
      const p = ctx.principal as Caller;
      for await (const event of ctx.events.subscribe(ws.id)) {
        if (p.kind === "developer" || event.scenarioId === p.scenarioId) yield event;
      }
    },
    resolve: (event) => event,
  }),
);
