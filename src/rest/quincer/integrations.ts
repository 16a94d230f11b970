import { z } from "zod";
import { openclawSkill } from "../../services/openclaw-skill.ts";
import { publicBaseUrl } from "../files.ts";
import type { RouteDef } from "../route.ts";
import { developerLimit, quincerErrors as errors } from "./shared.ts";

export const integrationRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/integrations/openclaw/skill",
    summary: "The OpenClaw SKILL.md for this server: takeover and lead endpoints with this server's base URL",
    auth: ["developer"],
    rateLimit: developerLimit("read"),
    responses: {
      200: { description: "SKILL.md (text/markdown); put it in ~/.openclaw/workspace/skills/quincer/", schema: z.string() },
      401: errors[401],
      429: errors[429],
    },
    handler: async (ctx, req, reply) => {
      const markdown = await openclawSkill(ctx, publicBaseUrl(req));
      reply.header("content-type", "text/markdown; charset=utf-8").header("content-disposition", 'inline; filename="SKILL.md"');
      return markdown;
    },
  },
];
