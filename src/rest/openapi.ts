import { z } from "zod";
import type { Dialect, RouteDef } from "./route.ts";

const security: Record<string, object> = {
  scenarioToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "Scenario API token (read_all or write_all)" },
  developerKey: { type: "http", scheme: "bearer", description: "Developer key cw_dev_… with explicit scopes" },
  siteKey: { type: "http", scheme: "bearer", description: "Widget/site key cw_live_… (or the X-Site-Key header)" },
  siteKeyHeader: { type: "apiKey", in: "header", name: "X-Site-Key" },
};

const schemaOf = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });

function parametersOf(route: RouteDef) {
  const params: object[] = [];
  for (const [where, schema] of [["path", route.params], ["query", route.query]] as const) {
    if (!schema) continue;
    const json = schemaOf(schema) as { properties?: Record<string, object>; required?: string[] };
    for (const [name, prop] of Object.entries(json.properties ?? {})) {
      params.push({ name, in: where, required: where === "path" || (json.required ?? []).includes(name), schema: prop });
    }
  }
  return params;
}

/** The OpenAPI 3.1 document of every compatibility route, built from the routes' own zod schemas. */
export function buildOpenApi(groups: { dialect: Dialect; routes: RouteDef[] }[], version: string) {
  const paths: Record<string, Record<string, object>> = {};
  for (const { dialect, routes } of groups) {
    for (const route of routes) {
      const path = route.path.replace(/:([A-Za-z_]+)/g, "{$1}");
      // A credential in the body (POST /chat's api_key) is no security scheme: the body documents it.
      const sec = route.credentialFrom
        ? []
        : route.auth.includes("widget")
          ? [{ siteKey: [] }, { siteKeyHeader: [] }]
          : route.auth.includes("developer")
            ? [{ developerKey: [] }]
            : [{ scenarioToken: [] }];
      (paths[path] ??= {})[route.method.toLowerCase()] = {
        tags: [dialect.tag],
        summary: route.summary,
        security: sec,
        parameters: parametersOf(route),
        ...(route.body
          ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(route.body) } } } }
          : {}),
        responses: Object.fromEntries(
          Object.entries(route.responses).map(([status, r]) => [
            status,
            { description: r.description, ...(r.schema ? { content: { "application/json": { schema: schemaOf(r.schema) } } } : {}) },
          ]),
        ),
      };
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Parley compatibility REST API",
      version,
      description:
        "Quickchat-compatible (/v1/api, /v1/api_core, /chat), Quincer-compatible (/api/v1/conversations, leads, activities) and site-key chat (/api/v1/chat) routes. The native API is GraphQL at /graphql.",
    },
    components: { securitySchemes: security },
    tags: groups.map((g) => ({ name: g.dialect.tag })),
    paths,
  };
}
