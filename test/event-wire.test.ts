import { describe, expect, it } from "vitest";
import { decodeLive, encodeLive } from "../src/events/wire.ts";

// The JSON live events cross instances in (Redis): Dates come back as Dates, everything else as it was.

describe("live event wire format", () => {
  it("revives Dates at any depth, in objects and arrays", () => {
    const payload = {
      id: "e1",
      createdAt: new Date("2024-06-01T12:00:03.007Z"),
      nested: { at: new Date(0), list: [new Date("2020-02-29T00:00:00Z"), 1, "x", null] },
    };
    const back = decodeLive(encodeLive(payload)) as typeof payload;
    expect(back).toEqual(payload);
    expect(back.createdAt).toBeInstanceOf(Date);
    expect(back.nested.list[0]).toBeInstanceOf(Date);
  });

  it("a payload can't pass for a Date: keys starting with $ come back unchanged", () => {
    const payload = {
      forged: { $date: "2024-01-01T00:00:00.000Z" },
      escaped: { $$date: "x", $: 1, $$: 2, plain: 3 },
      mixed: [{ $date: "not a date", other: true }],
      text: "$date",
    };
    expect(decodeLive(encodeLive(payload))).toEqual(payload);
  });

  it("an invalid Date becomes null, as in JSON; toJSON objects go as their JSON", () => {
    const withToJson = { toJSON: () => ({ $kind: "decimal", value: "1.50" }) };
    expect(decodeLive(encodeLive({ bad: new Date(NaN), amount: withToJson }))).toEqual({ bad: null, amount: { $kind: "decimal", value: "1.50" } });
  });

  it("top-level values", () => {
    expect(decodeLive(encodeLive(new Date("2024-01-01T00:00:00Z")))).toEqual(new Date("2024-01-01T00:00:00Z"));
    expect(decodeLive(encodeLive([1, "a"]))).toEqual([1, "a"]);
    expect(decodeLive(encodeLive("s"))).toBe("s");
  });
});
