import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LookupAddress } from "node:dns";
import { loadConfig } from "../src/config.ts";
import { OutboundGuard, OutboundRefusedError, parseAllowlist, type LookupFunction } from "../src/services/outbound-guard.ts";
import { DEFAULT_WEBHOOK_OPTIONS, parseRetryAfter, retryDelay } from "../src/services/webhook-events.ts";
import { startReceiver, type Receiver } from "./helpers/webhook-receiver.ts";

// The outbound guard on its own: which addresses are refused, that the check runs on connect (a
// name resolving to a refused address, an IP literal), and the allowlist. Plus the retry arithmetic.

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.close());

/** A resolver that answers fixed addresses per name (DNS as an attacker would set it up). */
function fakeDns(table: Record<string, string[]>): LookupFunction {
  return (hostname, _options, callback) => {
    const found = table[hostname];
    if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
    callback(null, found.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 })));
  };
}

const post = (guard: OutboundGuard, url: string) => guard.request(url, { method: "POST", body: "{}", timeoutMs: 5000, maxResponseBytes: 1024 });

/** The guard's refusal, wherever undici put it (the request's error or its cause). */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const refused = e instanceof OutboundRefusedError ? e : e.cause instanceof OutboundRefusedError ? e.cause : null;
    if (refused) return refused.message;
    throw err;
  }
  throw new Error("the request went through");
}

describe("address policy", () => {
  const guard = new OutboundGuard();
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["169.254.169.254", "cloud metadata"],
    ["169.254.1.1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "link-local"],
    ["fc00::1", "unique local"],
    ["fd00:ec2::254", "cloud metadata"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["64:ff9b::a00:1", "special-purpose"],
  ])("refuses %s (%s)", (address, kind) => {
    expect(guard.policy.refusal(address)).toContain(kind);
  });

  it.each(["93.184.216.34", "8.8.8.8", "2606:4700::1111"])("lets %s through", (address) => {
    expect(guard.policy.refusal(address)).toBeNull();
  });

  it("permits what the allowlist names: addresses, CIDR ranges and host names", () => {
    const open = new OutboundGuard(parseAllowlist("127.0.0.1, 10.0.0.0/8,fd00::/8 , Intranet.Example"));
    expect(open.policy.refusal("127.0.0.1")).toBeNull();
    expect(open.policy.refusal("::ffff:127.0.0.1")).toBeNull();
    expect(open.policy.refusal("127.0.0.2")).toContain("loopback");
    expect(open.policy.refusal("10.200.0.1")).toBeNull();
    expect(open.policy.refusal("fd00:ec2::254")).toBeNull();
    expect(open.policy.refusal("192.168.0.1")).toContain("private");
    expect(open.policy.hostAllowed("intranet.example")).toBe(true);
  });

  it("rejects a malformed OUTBOUND_ALLOWLIST when the config is loaded", () => {
    expect(() => loadConfig({ OUTBOUND_ALLOWLIST: "10.0.0.0/99" })).toThrow(/OUTBOUND_ALLOWLIST: "10.0.0.0\/99" is not a valid CIDR range/);
    expect(() => loadConfig({ OUTBOUND_ALLOWLIST: "http://x" })).toThrow(/OUTBOUND_ALLOWLIST/);
    expect(loadConfig({ OUTBOUND_ALLOWLIST: "127.0.0.1,localhost" }).outboundAllowlist).toEqual(["127.0.0.1", "localhost"]);
    expect(loadConfig({}).outboundAllowlist).toEqual([]);
  });
});

describe("checked when connecting", () => {
  it("refuses a name that resolves to a loopback address, whatever it resolved to before (DNS rebinding)", async () => {
    const table: Record<string, string[]> = { "hooks.example": ["93.184.216.34"] };
    const guard = new OutboundGuard([], { resolve: fakeDns(table) });
    expect(await guard.checkHost("hooks.example")).toBeNull(); // at save time it looked public
    table["hooks.example"] = ["127.0.0.1"];
    const message = await refusal(post(guard, `http://hooks.example:${receiver.port}/rebound`));
    expect(message).toBe("refused to connect to hooks.example: it resolves to 127.0.0.1, which is a loopback address (OUTBOUND_ALLOWLIST can permit it)");
    expect(receiver.hooks("/rebound")).toHaveLength(0);
    await guard.close();
  });

  it("refuses a name when any of its addresses is refused", async () => {
    const guard = new OutboundGuard([], { resolve: fakeDns({ "mixed.example": ["93.184.216.34", "10.0.0.5"] }) });
    expect(await guard.checkHost("mixed.example")).toContain("10.0.0.5, which is a private address");
    await guard.close();
  });

  it("refuses IP literals (no lookup happens for them) and the metadata address", async () => {
    const guard = new OutboundGuard();
    expect(await refusal(post(guard, `http://127.0.0.1:${receiver.port}/literal`))).toContain("127.0.0.1 is a loopback address");
    expect(await refusal(post(guard, "http://169.254.169.254/latest/meta-data/"))).toContain("169.254.169.254 is a cloud metadata address");
    expect(await refusal(post(guard, `http://[::1]:${receiver.port}/literal`))).toContain("::1 is a loopback address");
    expect(receiver.hooks("/literal")).toHaveLength(0);
    await guard.close();
  });

  it("connects where the allowlist permits, by address or by name", async () => {
    const byAddress = new OutboundGuard(["127.0.0.1"]);
    expect((await post(byAddress, `http://127.0.0.1:${receiver.port}/allowed`)).status).toBe(200);
    const byName = new OutboundGuard(["hooks.internal"], { resolve: fakeDns({ "hooks.internal": ["127.0.0.1"] }) });
    expect((await post(byName, `http://hooks.internal:${receiver.port}/allowed`)).status).toBe(200);
    expect(receiver.hooks("/allowed")).toHaveLength(2);
    await byAddress.close();
    await byName.close();
  });

  it("does not follow redirects and stops reading at the size limit", async () => {
    const guard = new OutboundGuard(["127.0.0.1"]);
    receiver.on("/moved", () => ({ status: 302, headers: { location: `http://127.0.0.1:${receiver.port}/elsewhere` } }));
    receiver.on("/big", () => ({ status: 200, body: "x".repeat(100_000) }));
    const moved = await post(guard, receiver.url("/moved"));
    expect(moved.status).toBe(302);
    expect(receiver.hooks("/elsewhere")).toHaveLength(0);
    const big = await guard.request(receiver.url("/big"), { timeoutMs: 5000, maxResponseBytes: 1000 });
    expect(big.body.length).toBe(1000);
    expect(big.truncated).toBe(true);
    await guard.close();
  });
});

describe("retry arithmetic", () => {
  it("draws each delay between 0 and the schedule's step (full jitter), repeating the last step", () => {
    const o = DEFAULT_WEBHOOK_OPTIONS;
    expect(retryDelay(o, 1, () => 1)).toBe(5_000);
    expect(retryDelay(o, 2, () => 1)).toBe(5 * 60_000);
    expect(retryDelay(o, 2, () => 0)).toBe(0);
    expect(retryDelay(o, 50, () => 1)).toBe(20 * 3_600_000);
    expect(o.retryScheduleMs.reduce((a, b) => a + b, 0)).toBeLessThan(o.retryWindowMs);
    expect(o.retryWindowMs).toBe(3 * 24 * 3_600_000);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
