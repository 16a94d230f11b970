import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { LlmConfig } from "../config.ts";
import { OutboundFetchError, OutboundGuard } from "../services/outbound-guard.ts";

// A minimal client for OpenAI-compatible chat completions (OpenAI, llama.cpp server, vLLM,
// Ollama's /v1, LiteLLM…), shared by the responder and the analysis. Only the fields every such
// server understands are sent.

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface CompletionRequest {
  messages: ChatMessage[];
  temperature?: number;
  max_tokens?: number;
  response_format?: { type: "json_object" };
}

export interface CompletionOptions {
  /** Called with each content delta, in order; makes the request a streamed one. */
  onDelta?: (delta: string) => void;
  signal?: AbortSignal;
}

/** A failed completion: the message says what went wrong, never the API key. */
export class LlmError extends Error {
  override name = "LlmError";
}

const EXCERPT = 300;
const excerpt = (text: string) => (text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** choices[0][key].content when it is a string. */
function choiceContent(body: unknown, key: "message" | "delta"): string | undefined {
  if (!isRecord(body) || !Array.isArray(body.choices)) return undefined;
  const first: unknown = body.choices[0];
  if (!isRecord(first) || !isRecord(first[key])) return undefined;
  const content = first[key].content;
  return typeof content === "string" ? content : undefined;
}

/** An `{"error": {"message": …}}` body, as these servers report failures (also inside streams). */
function errorMessage(body: unknown): string | undefined {
  if (!isRecord(body) || body.error == null) return undefined;
  const e = body.error;
  if (typeof e === "string") return e;
  if (isRecord(e) && typeof e.message === "string") return e.message;
  return JSON.stringify(e);
}

/** A completion's reply (a streamed one included), at most: far above any reply a model writes. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** An error answer is read this far for its message. */
const MAX_ERROR_BYTES = 64 * 1024;
/** A load balancer in front of the model may redirect (http → https, a path moved). */
const MAX_REDIRECTS = 3;

/** The whole body as text, at most `cap` bytes (the rest is dropped). */
async function readText(body: AsyncIterable<Uint8Array>, cap: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= cap) break;
  }
  return Buffer.concat(chunks).subarray(0, cap).toString("utf8");
}

const headerValue = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? "";

export class LlmClient {
  private readonly guard: OutboundGuard;

  /**
   * Requests go through the runtime's outbound guard; without one (scripts, unit tests) the client
   * makes its own, trusting the configured base URL as the runtime's guard does.
   */
  constructor(
    readonly config: LlmConfig,
    guard?: OutboundGuard,
  ) {
    this.guard = guard ?? new OutboundGuard([], { trustedOrigins: [config.baseUrl] });
  }

  get model(): string {
    return this.config.model;
  }

  /** The completion's text (the streamed deltas joined when onDelta is given); throws LlmError. */
  async complete(request: CompletionRequest, options: CompletionOptions = {}): Promise<string> {
    const stream = options.onDelta !== undefined;
    const url = `${this.config.baseUrl}/chat/completions`;
    try {
      const res = await this.guard.stream(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: stream ? "text/event-stream" : "application/json",
          ...(this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {}),
        },
        body: JSON.stringify({ model: this.config.model, ...request, stream }),
        timeoutMs: this.config.timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        maxRedirects: MAX_REDIRECTS,
        signal: options.signal,
        // LLM_BASE_URL is the operator's: a local model server needs no OUTBOUND_ALLOWLIST.
        trusted: true,
      });
      if (res.status < 200 || res.status >= 300) {
        const text = await readText(res.body, MAX_ERROR_BYTES).catch(() => "");
        let detail = text;
        try {
          detail = errorMessage(JSON.parse(text)) ?? text;
        } catch {
          // not JSON: the raw text says enough
        }
        throw new LlmError(`LLM endpoint answered ${res.status}${detail ? `: ${excerpt(detail.trim())}` : ""}`);
      }
      // A server that ignores `stream` answers with one JSON completion: deliver it as one delta.
      const sse = headerValue(res.headers["content-type"]).includes("text/event-stream");
      const content = stream && sse ? await this.readStream(res.body, options.onDelta!) : await this.readJson(await readText(res.body, MAX_RESPONSE_BYTES));
      if (!content.trim()) throw new LlmError("LLM reply has no content");
      if (stream && !sse) options.onDelta!(content);
      return content;
    } catch (err) {
      if (err instanceof LlmError) throw err;
      if (err instanceof OutboundFetchError && err.code === "TIMEOUT") {
        throw new LlmError(`LLM request timed out after ${this.config.timeoutMs} ms`, { cause: err });
      }
      if (err instanceof OutboundFetchError && err.code === "ABORTED") throw new LlmError("LLM request was cancelled", { cause: err });
      throw new LlmError(`LLM request to ${url} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private async readJson(text: string): Promise<string> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new LlmError(`LLM reply is not valid JSON: ${excerpt(text)}`);
    }
    const content = choiceContent(body, "message");
    if (content === undefined) {
      const error = errorMessage(body);
      throw new LlmError(error ? `LLM endpoint reported an error: ${error}` : `LLM reply has no choices[0].message.content: ${excerpt(text)}`);
    }
    return content;
  }

  /** Server-sent events: `data: {…choices[0].delta.content…}` lines until `data: [DONE]`. */
  private async readStream(body: AsyncIterable<Uint8Array>, onDelta: (delta: string) => void): Promise<string> {
    const decoder = new TextDecoder();
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    let content = "";
    // Returning from inside the loop ends the body's iteration, which closes the connection.
    const chunks = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const { done, value } = await chunks.next();
        if (done) parser.feed(decoder.decode());
        else parser.feed(decoder.decode(value, { stream: true }));
        for (const event of events.splice(0)) {
          const data = event.data.trim();
          if (data === "[DONE]") return content;
          if (!data) continue;
          let chunk: unknown;
          try {
            chunk = JSON.parse(data);
          } catch {
            throw new LlmError(`LLM stream sent malformed JSON: ${excerpt(data)}`);
          }
          const error = errorMessage(chunk);
          if (error) throw new LlmError(`LLM stream reported an error: ${error}`);
          const delta = choiceContent(chunk, "delta");
          if (delta) {
            content += delta;
            onDelta(delta);
          }
        }
        if (done) return content;
      }
    } finally {
      await chunks.return?.();
    }
  }
}
