import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for an OpenAI-compatible chat-completions server: records every request and
 * answers what the test says.
 *
 *   const llm = await startLlmStub();             // llm.url → http://127.0.0.1:<port>/v1
 *   llm.respond((req) => ({ content: "Hi!" }));   // streamed word by word when the request asks
 *   startServer({}, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model" })
 */

export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: CompletionBody;
}

export interface CompletionBody {
  model?: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  max_tokens?: number;
  stream?: boolean;
  response_format?: { type: string };
  [key: string]: unknown;
}

export type StubReply =
  /** A completion; a streaming request gets `chunks` (default: the content word by word) as SSE. */
  | { content: string; chunks?: string[] }
  /** An error status with this body. */
  | { status: number; body: string }
  /** 200 with this body verbatim (content type JSON, or SSE for a streaming request). */
  | { raw: string }
  /** Never answers (until the stub stops). */
  | { hang: true }
  /** Answers `reply` once `after` resolves (a slow model the test lets go when it wants). */
  | { after: Promise<unknown>; reply: StubReply };

export interface LlmStub {
  url: string;
  requests: StubRequest[];
  respond(handler: (req: StubRequest) => StubReply): void;
  /** Requests for conversation analysis (JSON mode) vs assistant replies. */
  analysisRequests(): StubRequest[];
  replyRequests(): StubRequest[];
  stop(): Promise<void>;
}

const completion = (content: string) => ({
  id: "chatcmpl-stub",
  object: "chat.completion",
  created: 0,
  model: "test-model",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
});

const sse = (res: ServerResponse, data: unknown) => res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
  id: "chatcmpl-stub",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

export async function startLlmStub(): Promise<LlmStub> {
  const requests: StubRequest[] = [];
  let handler: (req: StubRequest) => StubReply = () => ({ content: "OK" });
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      let body: CompletionBody;
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8")) as CompletionBody;
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"message":"bad json"}}');
        return;
      }
      const recorded: StubRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
      requests.push(recorded);
      answer(handler(recorded));
      function answer(reply: StubReply): void {
        if ("after" in reply) {
          void reply.after.then(() => answer(reply.reply));
          return;
        }
        if ("hang" in reply) return;
        if ("status" in reply) {
          res.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body);
          return;
        }
        if (body.stream) {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          if ("raw" in reply) {
            res.end(reply.raw);
            return;
          }
          sse(res, delta({ role: "assistant" }));
          for (const piece of reply.chunks ?? reply.content.match(/\S+\s*/g) ?? [reply.content]) sse(res, delta({ content: piece }));
          sse(res, delta({}, "stop"));
          sse(res, "[DONE]");
          res.end();
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end("raw" in reply ? reply.raw : JSON.stringify(completion(reply.content)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    respond(h) {
      handler = h;
    },
    analysisRequests: () => requests.filter((r) => r.body.response_format?.type === "json_object"),
    replyRequests: () => requests.filter((r) => !r.body.response_format),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
