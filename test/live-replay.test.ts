import { describe, expect, it } from "vitest";
import { createPubSub } from "graphql-yoga";
import { closable, inOrder, LiveBuffer } from "../src/services/live-replay.ts";

// The ordering core of messageAdded, without a server: a pubsub topic stands for the live feed, an
// array for the database. What the client receives must be each ord once, ascending, no gap.

interface Ev {
  ord: number;
  from?: "db" | "live";
}

function setup(stored: number[]) {
  const pubsub = createPubSub<{ topic: [Ev] }>();
  const db: Ev[] = stored.map((ord) => ({ ord }));
  const loads: [number, number][] = [];
  const load = async (after: number, limit: number) => {
    loads.push([after, limit]);
    return db.filter((e) => e.ord > after).slice(0, limit).map((e) => ({ ...e, from: "db" as const }));
  };
  const live = new LiveBuffer<Ev>(pubsub.subscribe("topic"), (m) => ({ ...(m as Ev), from: "live" }));
  /** A write: stored (committed) now, published when the caller says. */
  const commit = (ord: number) => {
    db.push({ ord });
    return () => pubsub.publish("topic", { ord });
  };
  return { pubsub, db, load, loads, live, commit };
}

async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("live replay ordering", () => {
  it("subscribes at once: an event published before iteration starts is buffered, not lost", async () => {
    const s = setup([]);
    s.commit(1)();
    const got = await take(inOrder(s.live, 0, s.load), 1);
    expect(got.map((e) => e.ord)).toEqual([1]);
  });

  it("replays what the client missed, then live events, skipping those already replayed", async () => {
    const s = setup([1, 2, 3, 4, 5]);
    // Committed before the client read the database, published after: in both places.
    const publish6 = s.commit(6);
    const it = inOrder(s.live, 2, s.load);
    const replayed = await take(it, 4);
    expect(replayed.map((e) => [e.ord, e.from])).toEqual([
      [3, "db"],
      [4, "db"],
      [5, "db"],
      [6, "db"],
    ]);
    publish6();
    s.commit(7)();
    expect(await take(it, 1)).toEqual([{ ord: 7, from: "live" }]);
  });

  it("fills a gap from the database when publishes arrive out of order", async () => {
    const s = setup([1]);
    const it = inOrder(s.live, 1, s.load);
    const first = it.next();
    await new Promise((r) => setTimeout(r, 5)); // the (empty) replay is done; the stream waits for live events
    const publish2 = s.commit(2);
    const publish3 = s.commit(3);
    publish3(); // 3 committed after 2 but published first
    publish2();
    const got = [(await first).value!, ...(await take(it, 1))];
    expect(got.map((e) => [e.ord, e.from])).toEqual([
      [2, "db"],
      [3, "db"],
    ]);
    expect(s.loads.map(([after]) => after)).toEqual([1, 1]); // the replay, then the gap
    s.commit(4)();
    expect(await take(it, 1)).toEqual([{ ord: 4, from: "live" }]);
  });

  it("pages through a long replay", async () => {
    const s = setup(Array.from({ length: 25 }, (_, i) => i + 1));
    const got = await take(inOrder(s.live, 0, s.load, 10), 25);
    expect(got.map((e) => e.ord)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(s.loads.map(([after]) => after)).toEqual([0, 10, 20]);
  });

  it("live only (start at the current last ord): nothing old, then each new event once", async () => {
    const s = setup([1, 2, 3]);
    const it = inOrder(s.live, 3, s.load);
    s.commit(4)();
    s.pubsub.publish("topic", { ord: 4 }); // a duplicate publish
    s.pubsub.publish("topic", { ord: 2 }); // an old one
    s.commit(5)();
    const got = await take(it, 2);
    expect(got.map((e) => e.ord)).toEqual([4, 5]);
  });

  it("return() ends a stream waiting for live events at once and unsubscribes", async () => {
    const s = setup([]);
    const it = closable(inOrder(s.live, 0, s.load), () => s.live.close());
    const pending = it.next();
    await new Promise((r) => setTimeout(r, 10));
    await it.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    // The listener is gone: publishing reaches nobody and nothing is buffered.
    s.pubsub.publish("topic", { ord: 1 });
    expect(await s.live.next()).toEqual({ value: undefined, done: true });
  });

  it("cuts off a subscriber that lets too many events pile up", async () => {
    const pubsub = createPubSub<{ topic: [Ev] }>();
    const live = new LiveBuffer<Ev>(pubsub.subscribe("topic"), (m) => m as Ev, 3);
    for (let ord = 1; ord <= 5; ord++) pubsub.publish("topic", { ord });
    await new Promise((r) => setTimeout(r, 10));
    const got: number[] = [];
    await expect(
      (async () => {
        for (;;) {
          const r = await live.next();
          if (r.done) return;
          got.push(r.value.ord);
        }
      })(),
    ).rejects.toThrow(/too slow/);
    expect(got).toEqual([1, 2, 3]);
  });
});
