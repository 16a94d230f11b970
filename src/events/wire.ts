// JSON for live payloads crossing instances. The payloads are plain objects but hold Date objects
// (createdAt…), which plain JSON turns into strings: here a Date is sent as {"$date": iso} and
// revived as a Date. So that no payload can forge that tag (message metadata is user JSON), every
// object key that starts with "$" gets one more "$" on the way out and loses it on the way in; the
// tag is then the only single-key object whose key is exactly "$date".

const DATE = "$date";

type Json = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export function encodeLive(value: unknown): string {
  return JSON.stringify(value, function (this: Json, key: string, v: unknown) {
    // `v` went through toJSON already (a Date is a string by now); the holder still has the original.
    const raw = this[key];
    if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : { [DATE]: raw.toISOString() };
    if (isPlainObject(v) && Object.keys(v).some((k) => k.startsWith("$"))) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.startsWith("$") ? `$${k}` : k, x]));
    }
    return v;
  });
}

export function decodeLive(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (!isPlainObject(v)) return v;
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === DATE && typeof v[DATE] === "string") return new Date(v[DATE]);
    if (!keys.some((k) => k.startsWith("$"))) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.startsWith("$") ? k.slice(1) : k, x]));
  });
}
