import type { EventView, LiveConversationMessage } from "../events/live.ts";
import { AppError, badRequest, unauthenticated } from "../errors.ts";
import type { ServiceContext } from "./context.ts";
import { operatorConversation, visitorConversation, type ConversationInScope } from "./conversation-access.ts";
import { eventView } from "./conversation-view.ts";

// A conversation's events, live, in ord order, without gap or duplicate, resuming where the client
// left off. The recipe: subscribe first (buffering), then read from the database what the client
// has not seen, then pass live events on, skipping those already sent. Publishing happens after
// commit, so two writers can publish out of order (ord 7 before ord 6): a live event beyond the
// next expected ord sends the client to the database for the gap first. That is always enough,
// because ord n+1 is only handed out after ord n's transaction has committed.

/** Conversation events a subscriber may buffer before it is cut off as too slow. */
export const MAX_BUFFERED = 10_000;
const PAGE = 200;

export class LiveBuffer<T> {
  private readonly queue: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private ended = false;
  private readonly source: AsyncIterator<unknown>;

  /**
   * Starts pulling from `source` now: a lazy bus subscription (like yoga's Repeater) registers its
   * listener on the first next(), so the subscription is in place when this returns. `pick` keeps
   * (and maps) the messages wanted.
   */
  constructor(source: AsyncIterable<unknown>, private readonly pick: (m: unknown) => T | null, private readonly max = MAX_BUFFERED) {
    this.source = source[Symbol.asyncIterator]();
    void this.pump();
  }

  private async pump() {
    try {
      for (;;) {
        const r = await this.source.next();
        if (r.done || this.ended) break;
        const value = this.pick(r.value);
        if (value === null) continue;
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve({ value, done: false });
        } else if (this.queue.length >= this.max) {
          throw new AppError("SERVICE_UNAVAILABLE", "Subscriber too slow: too many undelivered events");
        } else this.queue.push(value);
      }
    } catch (err) {
      this.failure = err;
    }
    this.finish();
  }

  private finish() {
    if (!this.ended) {
      this.ended = true;
      void this.source.return?.();
    }
    const w = this.waiter;
    this.waiter = null;
    if (w && this.failure) w.reject(this.failure);
    else w?.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Unsubscribes; a pending next() resolves as done. */
  close() {
    this.queue.length = 0;
    this.finish();
  }
}

/**
 * The ordering core: everything after `start` from `load` (pages of ord > after, ascending), then
 * the live events, each ord once and in order, filling gaps from `load`.
 */
export async function* inOrder<T extends { ord: number }>(
  live: Pick<LiveBuffer<T>, "next">,
  start: number,
  load: (afterOrd: number, limit: number) => Promise<T[]>,
  pageSize = PAGE,
): AsyncGenerator<T> {
  let last = start;
  async function* catchUp(): AsyncGenerator<T> {
    for (;;) {
      const page = await load(last, pageSize);
      for (const e of page) {
        if (e.ord <= last) continue;
        last = e.ord;
        yield e;
      }
      if (page.length < pageSize) return;
    }
  }
  yield* catchUp();
  for (;;) {
    const r = await live.next();
    if (r.done) return;
    const e = r.value;
    if (e.ord <= last) continue;
    if (e.ord > last + 1) yield* catchUp();
    // The database had nothing for the gap (it should always have): deliver rather than stall.
    if (e.ord <= last) continue;
    last = e.ord;
    yield e;
  }
}

/**
 * An async iterator whose return() takes effect at once: it closes the live buffer, which ends a
 * generator waiting for the next live event (a bare generator would only return at its next yield).
 */
export function closable<T>(gen: AsyncGenerator<T>, close: () => void): AsyncIterableIterator<T> {
  return {
    next: () => gen.next(),
    return: (value?: unknown) => {
      close();
      return gen.return(value as T);
    },
    throw: (err?: unknown) => {
      close();
      return gen.throw(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Events after `afterOrd`, ascending, a page at a time. */
export function eventsAfter(ctx: Pick<ServiceContext, "db">, conversationId: string, afterOrd: number, limit: number): Promise<EventView[]> {
  return eventsPage(ctx, conversationId, { afterOrd, limit });
}

const CURSOR = /^\d{1,9}$/;

/** Event cursors are their ords, as strings. */
export function ordFromCursor(cursor: string): number {
  if (!CURSOR.test(cursor)) throw badRequest("Invalid cursor: expected an event ord");
  return Number(cursor);
}

/**
 * A page of a conversation's events by ord: after and/or before an ord, ascending, or from the end
 * when `inverted` (the caller reverses). `messagesOnly` for visitors.
 */
export async function eventsPage(
  ctx: Pick<ServiceContext, "db">,
  conversationId: string,
  p: { afterOrd?: number | null; beforeOrd?: number | null; limit: number; inverted?: boolean; messagesOnly?: boolean },
): Promise<EventView[]> {
  if (p.afterOrd != null && (!Number.isInteger(p.afterOrd) || p.afterOrd < 0)) throw badRequest("afterOrd must be a non-negative integer");
  const rows = await ctx.db.conversationEvent.findMany({
    where: {
      conversationId,
      ...(p.messagesOnly ? { type: "message" } : {}),
      ord: { ...(p.afterOrd != null ? { gt: p.afterOrd } : {}), ...(p.beforeOrd != null ? { lt: p.beforeOrd } : {}) },
    },
    orderBy: { ord: p.inverted ? "desc" : "asc" },
    take: p.limit,
    include: { attachments: { orderBy: { id: "asc" } } },
  });
  return rows.map(eventView);
}

export interface LiveAccess extends ConversationInScope {
  viewer: "visitor" | "operator";
}

/**
 * Who may watch a conversation live: an operator credential with read access, or the visitor (its
 * widget key and visitor token; any other conversation is NOT_FOUND).
 */
export async function liveAccess(ctx: ServiceContext, conversationId: string, visitorToken: string | null | undefined): Promise<LiveAccess> {
  if (ctx.principal?.kind === "widget") {
    if (!visitorToken) throw unauthenticated("Missing visitor token");
    return { ...(await visitorConversation(ctx, visitorToken, conversationId)), viewer: "visitor" };
  }
  return { ...(await operatorConversation(ctx, conversationId, "read")), viewer: "operator" };
}

/** What a visitor sees of its conversation: messages (links it clicked and log lines are the operators'). */
export const visibleToVisitor = (e: EventView) => e.type === "message";

/**
 * messageAdded: the conversation's events after `afterOrd` from the database, then live ones.
 * Without `afterOrd` the stream starts at the conversation's current last event (live only).
 * Access is checked before this returns, so a refusal is an error result, not a broken stream.
 */
export async function conversationEvents(
  ctx: ServiceContext,
  conversationId: string,
  options: { afterOrd?: number | null; visitorToken?: string | null },
): Promise<AsyncIterableIterator<EventView>> {
  const { afterOrd } = options;
  if (afterOrd != null && (!Number.isInteger(afterOrd) || afterOrd < 0)) throw badRequest("afterOrd must be a non-negative integer");
  const access = await liveAccess(ctx, conversationId, options.visitorToken);
  const id = access.conversation.id;
  const live = new LiveBuffer<EventView>(ctx.events.subscribeConversation(id), (m) => {
    const message = m as LiveConversationMessage;
    return message.kind === "event" ? message.event : null;
  });
  let current: number;
  try {
    // Read after subscribing: anything committed later arrives live.
    const row = await ctx.db.conversation.findUnique({ where: { id }, select: { eventCount: true } });
    current = row?.eventCount ?? 0;
  } catch (err) {
    live.close();
    throw err;
  }
  if (afterOrd != null && afterOrd > current) {
    live.close();
    throw badRequest(`afterOrd ${afterOrd} is beyond the conversation's last event (${current})`);
  }
  const visible = access.viewer === "visitor" ? visibleToVisitor : () => true;
  async function* run(): AsyncGenerator<EventView> {
    try {
      for await (const e of inOrder(live, afterOrd ?? current, (after, limit) => eventsAfter(ctx, id, after, limit))) {
        if (visible(e)) yield e;
      }
    } finally {
      live.close();
    }
  }
  return closable(run(), () => live.close());
}

/**
 * The other live messages of a conversation (reply chunks, typing), after the same access check.
 * Unordered and not replayed: they are ephemeral.
 */
export async function conversationMessages<K extends LiveConversationMessage["kind"]>(
  ctx: ServiceContext,
  conversationId: string,
  visitorToken: string | null | undefined,
  kind: K,
  keep: (m: Extract<LiveConversationMessage, { kind: K }>, access: LiveAccess) => boolean = () => true,
): Promise<AsyncIterableIterator<Extract<LiveConversationMessage, { kind: K }>>> {
  const access = await liveAccess(ctx, conversationId, visitorToken);
  type M = Extract<LiveConversationMessage, { kind: K }>;
  const live = new LiveBuffer<M>(ctx.events.subscribeConversation(access.conversation.id), (m) => {
    const message = m as LiveConversationMessage;
    return message.kind === kind && keep(message as M, access) ? (message as M) : null;
  });
  async function* run(): AsyncGenerator<M> {
    try {
      for (;;) {
        const r = await live.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      live.close();
    }
  }
  return closable(run(), () => live.close());
}
