import { z } from "zod";
import { getVisitorAttachment } from "../../services/visitor-chat.ts";
import type { RouteDef } from "../route.ts";
import { auth, SiteError, siteErrors, siteLimit } from "./common.ts";

const Params = z.object({
  visitor_token: z.string(),
  activity_id: z.string().describe("The message's ord (integer)"),
  id: z.string().describe("The attachment's id (integer); non-integers are 404"),
});
type Params = z.infer<typeof Params>;

export const fileRoutes: RouteDef[] = [
  {
    method: "GET",
    path: "/api/v1/chat/conversations/:visitor_token/files/:activity_id/:id",
    summary: "Download a file attachment (site key, 60 req/min)",
    auth,
    rateLimit: siteLimit("download", 60),
    params: Params,
    query: z.object({ disposition: z.enum(["inline", "attachment"]).optional().describe('"inline" or "attachment" (default)') }),
    responses: {
      200: { description: "The file's bytes with its content type" },
      400: { description: "Invalid disposition", schema: SiteError },
      404: { description: "Conversation or file not found", schema: SiteError },
      ...siteErrors,
    },
    handler: async (ctx, req, reply) => {
      const p = req.params as Params;
      const file = await getVisitorAttachment(ctx, p.visitor_token, p.activity_id, p.id, req.query);
      const inlineText = file.contentType === "text/plain";
      return reply
        .header("content-type", inlineText ? "text/plain; charset=utf-8" : file.contentType)
        .header("content-length", file.bytes.byteLength)
        .header("content-disposition", file.contentDisposition)
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "private, max-age=86400")
        .header("content-security-policy", file.contentType === "application/pdf" ? "default-src 'none'" : "default-src 'none'; sandbox")
        .send(file.bytes);
    },
  },
];
