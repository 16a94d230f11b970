import { builder } from "./builder.ts";
import { readMetadataSchema, setMetadataSchema } from "../services/conversation-metadata.ts";

builder.prismaObjectFields("Scenario", (t) => ({
  conversationMetadataSchema: t.field({
    type: "JSON",
    nullable: true,
    description:
      "The JSON schema conversation metadata must satisfy (POST /v1/api_core/conversations/{id}/metadata); null when none. " +
      "Needs assistant:read (developer key) or read_all (this scenario's token).",
    resolve: (s, _a, ctx) => readMetadataSchema(ctx, s),
  }),
}));

builder.mutationFields((t) => ({
  setConversationMetadataSchema: t.prismaField({
    type: "Scenario",
    description:
      "Sets the JSON schema (draft-07, 2019-09 or 2020-12 by $schema; ajv-formats formats) that conversation metadata must " +
      "satisfy from now on; null removes it. Stored metadata is not re-checked. An invalid schema is a VALIDATION_ERROR. " +
      "Needs assistant:write (developer key) or write_all (this scenario's token).",
    authScopes: { authenticated: true },
    args: {
      scenarioId: t.arg.id({ required: true }),
      schema: t.arg({ type: "JSON", required: false }),
    },
    resolve: async (query, _root, { scenarioId, schema }, ctx) => {
      const id = await setMetadataSchema(ctx, String(scenarioId), schema ?? null);
      return ctx.db.scenario.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));
