// Working hours of the human handoff: availability slots ("monday-friday", "09:00"–"17:00") read in
// the configuration's IANA time zone. Intl gives the local weekday and time of an instant in any
// zone, DST included, so no date library is needed.

export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** "HH:MM" from 00:00 to 23:59; an end time may also be 24:00 (the end of the day). */
export const TIME_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$/;
export const END_TIME_PATTERN = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

export const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * A day or a day range, case-insensitive, spaces around the dash tolerated: "monday",
 * "Monday-Friday", "friday - monday" (a range may wrap over the weekend). Answers the normalized
 * lower-case form, or null when it is neither.
 */
export function normalizeDaySpan(value: string): string | null {
  const m = /^\s*([a-z]+)\s*(?:-\s*([a-z]+)\s*)?$/i.exec(value);
  if (!m) return null;
  const from = m[1]!.toLowerCase();
  const to = m[2]?.toLowerCase();
  if (!isWeekday(from) || (to !== undefined && !isWeekday(to))) return null;
  return to === undefined || to === from ? from : `${from}-${to}`;
}

const isWeekday = (d: string): d is Weekday => (WEEKDAYS as readonly string[]).includes(d);

/** Whether a (normalized) day span covers a weekday (0 = Monday … 6 = Sunday). */
export function daySpanCovers(span: string, weekday: number): boolean {
  const [from, to = from] = span.split("-") as [Weekday, Weekday?];
  const a = WEEKDAYS.indexOf(from);
  const b = WEEKDAYS.indexOf(to);
  if (a < 0 || b < 0) return false;
  return a <= b ? weekday >= a && weekday <= b : weekday >= a || weekday <= b;
}

let zoneSpelling: Map<string, string> | undefined;

/**
 * An IANA time zone name as stored: the runtime's spelling when it lists the zone
 * ("europe/london" → "Europe/London"), the name as sent when it only accepts it (links such as
 * "Europe/Kyiv" or "UTC", which the list leaves out), or null when the runtime does not know it.
 * UTC offsets ("+01:00") are refused: they are not IANA names.
 */
export function canonicalTimeZone(value: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(value)) return null;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
  } catch {
    return null;
  }
  zoneSpelling ??= new Map(Intl.supportedValuesOf("timeZone").map((z) => [z.toLowerCase(), z]));
  if (value.toLowerCase() === "utc") return "UTC";
  return zoneSpelling.get(value.toLowerCase()) ?? value;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, weekday: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local weekday (0 = Monday) and minute of the day of an instant in a time zone. */
export function localTime(now: Date, timeZone: string): { weekday: number; minutes: number } {
  const parts = formatter(timeZone).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const weekday = WEEKDAYS.indexOf(part("weekday").toLowerCase() as Weekday);
  return { weekday, minutes: Number(part("hour")) * 60 + Number(part("minute")) };
}

export interface WorkingHours {
  settings: { working_hours_active: boolean; timezone: string };
  availability: { day_span: string; start_time: string; end_time: string }[];
}

/**
 * Whether a handoff at `now` is inside working hours: always when working hours are off; otherwise
 * when some slot covers the local weekday and start_time ≤ local time < end_time.
 */
export function isWithinWorkingHours(config: WorkingHours, now: Date): boolean {
  if (!config.settings.working_hours_active) return true;
  const { weekday, minutes } = localTime(now, config.settings.timezone);
  return config.availability.some(
    (slot) => daySpanCovers(slot.day_span, weekday) && minutes >= minutesOf(slot.start_time) && minutes < minutesOf(slot.end_time),
  );
}
