import { describe, expect, it } from "vitest";
import { isWithinWorkingHours } from "../src/services/handoff-configuration.ts";
import { canonicalTimeZone, daySpanCovers, localTime, normalizeDaySpan } from "../src/services/handoff-working-hours.ts";

type Slot = { day_span: string; start_time: string; end_time: string };
const hours = (timezone: string, availability: Slot[], working_hours_active = true) => ({
  settings: { working_hours_active, timezone },
  availability,
});
const at = (iso: string) => new Date(iso);
const weekdays9to17 = [{ day_span: "monday-friday", start_time: "09:00", end_time: "17:00" }];

describe("isWithinWorkingHours", () => {
  it("is always true when working hours are off, whatever the slots", () => {
    expect(isWithinWorkingHours(hours("UTC", [], false), at("2026-11-22T03:00:00Z"))).toBe(true);
  });

  it("is false with working hours on and no slot", () => {
    expect(isWithinWorkingHours(hours("UTC", []), at("2026-11-23T12:00:00Z"))).toBe(false);
  });

  it("reads the local weekday and time in the configured zone, start inclusive and end exclusive", () => {
    const c = hours("Europe/Warsaw", weekdays9to17); // UTC+1 in November
    expect(isWithinWorkingHours(c, at("2026-11-23T07:59:00Z"))).toBe(false); // Monday 08:59 local
    expect(isWithinWorkingHours(c, at("2026-11-23T08:00:00Z"))).toBe(true); // Monday 09:00 local
    expect(isWithinWorkingHours(c, at("2026-11-23T15:59:00Z"))).toBe(true); // 16:59
    expect(isWithinWorkingHours(c, at("2026-11-23T16:00:00Z"))).toBe(false); // 17:00
    // Friday 23:30 UTC is already Saturday 00:30 in Warsaw: outside a Monday–Friday slot.
    expect(isWithinWorkingHours(hours("Europe/Warsaw", [{ day_span: "friday", start_time: "00:00", end_time: "24:00" }]), at("2026-11-27T23:30:00Z"))).toBe(false);
    expect(isWithinWorkingHours(hours("UTC", [{ day_span: "friday", start_time: "00:00", end_time: "24:00" }]), at("2026-11-27T23:30:00Z"))).toBe(true);
  });

  it("covers the days of a range and no others; a range may wrap over the weekend", () => {
    const monday = at("2026-11-23T12:00:00Z");
    const saturday = at("2026-11-28T12:00:00Z");
    const sunday = at("2026-11-29T12:00:00Z");
    expect(isWithinWorkingHours(hours("UTC", weekdays9to17), saturday)).toBe(false);
    expect(isWithinWorkingHours(hours("UTC", weekdays9to17), sunday)).toBe(false);
    const weekend = [{ day_span: "saturday-sunday", start_time: "10:00", end_time: "14:00" }];
    expect(isWithinWorkingHours(hours("UTC", weekend), saturday)).toBe(true);
    expect(isWithinWorkingHours(hours("UTC", weekend), sunday)).toBe(true);
    expect(isWithinWorkingHours(hours("UTC", weekend), monday)).toBe(false);
    const wrap = [{ day_span: "friday-monday", start_time: "08:00", end_time: "20:00" }];
    expect(isWithinWorkingHours(hours("UTC", wrap), sunday)).toBe(true);
    expect(isWithinWorkingHours(hours("UTC", wrap), monday)).toBe(true);
    expect(isWithinWorkingHours(hours("UTC", wrap), at("2026-11-25T12:00:00Z"))).toBe(false); // Wednesday
  });

  it("matches any of several slots, and not a slot of the right day at the wrong time", () => {
    const c = hours("UTC", [
      { day_span: "monday", start_time: "09:00", end_time: "12:00" },
      { day_span: "monday", start_time: "13:00", end_time: "17:00" },
      { day_span: "wednesday", start_time: "09:00", end_time: "17:00" },
    ]);
    expect(isWithinWorkingHours(c, at("2026-11-23T10:00:00Z"))).toBe(true);
    expect(isWithinWorkingHours(c, at("2026-11-23T12:30:00Z"))).toBe(false); // the lunch gap
    expect(isWithinWorkingHours(c, at("2026-11-23T14:00:00Z"))).toBe(true);
    expect(isWithinWorkingHours(c, at("2026-11-24T10:00:00Z"))).toBe(false); // Tuesday
  });

  it("follows daylight saving time: spring forward (Europe/London, 29 March 2026)", () => {
    const c = hours("Europe/London", weekdays9to17);
    // Friday 27 March, GMT: 08:30 UTC is 08:30 local, before opening.
    expect(isWithinWorkingHours(c, at("2026-03-27T08:30:00Z"))).toBe(false);
    // Monday 30 March, BST: 08:30 UTC is 09:30 local, open; 16:30 UTC is 17:30, closed.
    expect(isWithinWorkingHours(c, at("2026-03-30T08:30:00Z"))).toBe(true);
    expect(isWithinWorkingHours(c, at("2026-03-30T16:30:00Z"))).toBe(false);
    // On the night itself the local clock jumps from 01:00 to 02:00.
    const night = hours("Europe/London", [{ day_span: "sunday", start_time: "01:00", end_time: "02:00" }]);
    expect(isWithinWorkingHours(night, at("2026-03-29T00:30:00Z"))).toBe(false); // 00:30 GMT
    expect(isWithinWorkingHours(night, at("2026-03-29T01:30:00Z"))).toBe(false); // 02:30 BST
  });

  it("follows daylight saving time: fall back (Europe/London, 25 October 2026) — the repeated hour is inside both times", () => {
    const night = hours("Europe/London", [{ day_span: "sunday", start_time: "01:00", end_time: "02:00" }]);
    expect(isWithinWorkingHours(night, at("2026-10-25T00:30:00Z"))).toBe(true); // 01:30 BST
    expect(isWithinWorkingHours(night, at("2026-10-25T01:30:00Z"))).toBe(true); // 01:30 GMT
    expect(isWithinWorkingHours(night, at("2026-10-25T02:30:00Z"))).toBe(false); // 02:30 GMT
  });

  it("follows the zone's own DST dates (America/New_York moves on 8 March 2026, London not until 29 March)", () => {
    const ny = hours("America/New_York", weekdays9to17);
    expect(isWithinWorkingHours(ny, at("2026-03-06T13:30:00Z"))).toBe(false); // Fri 08:30 EST
    expect(isWithinWorkingHours(ny, at("2026-03-09T13:30:00Z"))).toBe(true); // Mon 09:30 EDT
    expect(localTime(at("2026-03-09T13:30:00Z"), "Europe/London")).toEqual({ weekday: 0, minutes: 13 * 60 + 30 });
  });
});

describe("day spans and time zones", () => {
  it("normalizes a day or a day range, case-insensitively", () => {
    expect(normalizeDaySpan("monday")).toBe("monday");
    expect(normalizeDaySpan("Monday-Friday")).toBe("monday-friday");
    expect(normalizeDaySpan(" saturday - sunday ")).toBe("saturday-sunday");
    expect(normalizeDaySpan("monday-monday")).toBe("monday");
    for (const bad of ["", "mon", "monday-", "monday-funday", "monday-friday-sunday", "monday,friday", "1-5"]) {
      expect(normalizeDaySpan(bad), bad).toBeNull();
    }
  });

  it("covers the days from the first to the last of a span", () => {
    expect([0, 1, 2, 3, 4, 5, 6].filter((d) => daySpanCovers("tuesday-thursday", d))).toEqual([1, 2, 3]);
    expect([0, 1, 2, 3, 4, 5, 6].filter((d) => daySpanCovers("saturday-tuesday", d))).toEqual([0, 1, 5, 6]);
    expect([0, 1, 2, 3, 4, 5, 6].filter((d) => daySpanCovers("sunday", d))).toEqual([6]);
  });

  it("accepts IANA zone names (spelled as the runtime lists them) and refuses offsets and unknown names", () => {
    expect(canonicalTimeZone("Europe/London")).toBe("Europe/London");
    expect(canonicalTimeZone("europe/london")).toBe("Europe/London");
    expect(canonicalTimeZone("UTC")).toBe("UTC");
    expect(canonicalTimeZone("America/Argentina/Buenos_Aires")).toBe("America/Argentina/Buenos_Aires");
    for (const bad of ["Mars/Olympus_Mons", "+01:00", "GMT+1 ", "", "Europe/", "../etc/passwd"]) {
      expect(canonicalTimeZone(bad), bad).toBeNull();
    }
  });
});
