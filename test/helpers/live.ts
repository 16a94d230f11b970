import type { Client } from "graphql-ws";

/**
 * A GraphQL subscription under test, over graphql-ws or SSE: the root field's payloads as they
 * arrive, the errors, and waits.
 *
 *   const sub = wsSubscription(wsClient(key), "subscription ($id: ID!) { messageAdded(conversationId: $id) { ord } }", { id });
 *   await sub.next((e) => e.ord === 3);
 */
export interface LiveSubscription<T = any> {
  items: T[];
  /** GraphQL errors of the stream (an error result), or a transport error. */
  errors: { message: string; extensions?: Record<string, unknown> }[];
  /** Set once the stream ended (completed, failed or stopped). */
  readonly ended: boolean;
  /** The first item matching `pred` (already received or still to come); rejects after `ms`. */
  next(pred?: (item: T) => boolean, ms?: number): Promise<T>;
  /** Resolves when `count` items have arrived (with all items so far); rejects after `ms`. */
  count(count: number, ms?: number): Promise<T[]>;
  /** Resolves once the stream has ended (an error result ends it). */
  done(ms?: number): Promise<void>;
  stop(): void;
}

function collector<T>(field: string) {
  const items: T[] = [];
  const errors: LiveSubscription["errors"] = [];
  const listeners = new Set<() => void>();
  let ended = false;
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  const waitFor = <R>(check: () => R | undefined, what: string, ms: number) =>
    new Promise<R>((resolve, reject) => {
      const run = () => {
        const r = check();
        if (r !== undefined) {
          listeners.delete(run);
          clearTimeout(timer);
          resolve(r);
        } else if (ended) {
          listeners.delete(run);
          clearTimeout(timer);
          reject(new Error(`stream ended before ${what}: items ${JSON.stringify(items)} errors ${JSON.stringify(errors)}`));
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(run);
        reject(new Error(`no ${what} within ${ms} ms: items ${JSON.stringify(items)} errors ${JSON.stringify(errors)}`));
      }, ms);
      listeners.add(run);
      run();
    });
  const sub = {
    items,
    errors,
    get ended() {
      return ended;
    },
    next: (pred: (item: T) => boolean = () => true, ms = 5000) => waitFor(() => items.find(pred), "matching item", ms),
    count: (n: number, ms = 5000) => waitFor(() => (items.length >= n ? [...items] : undefined), `${n} items`, ms),
    done: (ms = 5000) =>
      new Promise<void>((resolve, reject) => {
        const run = () => {
          if (!ended) return;
          listeners.delete(run);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(run);
          reject(new Error(`stream still open after ${ms} ms: ${JSON.stringify(items)}`));
        }, ms);
        listeners.add(run);
        run();
      }),
    stop: () => undefined as void,
  };
  const push = (result: { data?: Record<string, unknown> | null; errors?: readonly any[] }) => {
    if (result.errors?.length) errors.push(...result.errors);
    const item = result.data?.[field];
    if (item !== undefined && item !== null) items.push(item as T);
    notify();
  };
  const end = () => {
    ended = true;
    notify();
  };
  return { sub, push, end, fail: (err: unknown) => {
      const e = err as { message?: string; code?: number; reason?: string } | null;
      errors.push({ message: e?.message ?? (e?.code !== undefined ? `closed ${e.code} ${e.reason ?? ""}` : String(err)) });
      end();
    } };
}

const rootField = (query: string) => /\{\s*(\w+)/.exec(query.slice(query.indexOf("{")))![1]!;

export function wsSubscription<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}): LiveSubscription<T> {
  const c = collector<T>(rootField(query));
  c.sub.stop = client.subscribe(
    { query, variables },
    {
      next: (r) => c.push(r as never),
      // An "error" message carries GraphQL errors (validation); anything else is the transport's.
      error: (err) => {
        if (Array.isArray(err)) {
          c.sub.errors.push(...err);
          c.end();
        } else c.fail(err);
      },
      complete: () => c.end(),
    },
  );
  return c.sub;
}

/** GraphQL over SSE (Yoga's distinct-connections mode): a POST with Accept: text/event-stream. */
export function sseSubscription<T = any>(url: string, secret: string, query: string, variables: Record<string, unknown> = {}): LiveSubscription<T> {
  const c = collector<T>(rootField(query));
  const controller = new AbortController();
  c.sub.stop = () => controller.abort();
  void (async () => {
    try {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${secret}` },
        body: JSON.stringify({ query, variables }),
        signal: controller.signal,
      });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let sep: number;
        while ((sep = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (event === "next" && data.length) c.push(JSON.parse(data.join("\n")));
          if (event === "complete") {
            c.end();
            return;
          }
        }
      }
      c.end();
    } catch (err) {
      if ((err as Error).name === "AbortError") c.end();
      else c.fail(err);
    }
  })();
  return c.sub;
}

/**
 * Subscriptions go live asynchronously (no acknowledgement in the protocols): fires `trigger`
 * until something arrives on `sub`.
 */
export async function untilLive(sub: LiveSubscription, trigger: () => Promise<unknown>, attempts = 30) {
  for (let i = 0; i < attempts; i++) {
    const seen = sub.items.length;
    await trigger();
    const got = await sub.next((item) => sub.items.indexOf(item) >= seen, 200).catch(() => null);
    if (got) return;
  }
  throw new Error(`subscription never went live: ${JSON.stringify(sub.errors)}`);
}
