import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LookupAddress } from "node:dns";
import {
  DEFAULT_USER_AGENT,
  OutboundFetchError,
  OutboundGuard,
  OutboundRefusedError,
  type LookupFunction,
  type OutboundFetchErrorCode,
  type OutboundFetchOptions,
} from "../src/services/outbound-guard.ts";
import { startSite, type TestSite } from "./helpers/test-site.ts";

// The guarded outbound client on its own, against local sites: the address policy on every hop
// (IP literals, names, rebinding, redirects), the caps (redirects, size, time), the User-Agent,
// credentials on redirects, trusted origins, and the streaming variant. No request leaves 127.0.0.1.

/** The site the guard may reach (a trusted origin), a second trusted origin, and a target it must not reach. */
let site: TestSite;
let other: TestSite;
let target: TestSite;
/** Names as an attacker's DNS would answer them; tests change entries. */
const dnsTable: Record<string, string[]> = {};
const fakeDns: LookupFunction = (hostname, _options, callback) => {
  const found = dnsTable[hostname];
  if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
  callback(null, found.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 })));
};
let guard: OutboundGuard;
/** As the operator's own requests (an LLM, YouTube) go: trusted origins skip the address policy, nothing else does. */
const OPTS: OutboundFetchOptions = { timeoutMs: 10_000, maxResponseBytes: 64 * 1024, maxRedirects: 5, trusted: true };
/** As a URL a user chose goes. */
const USER: OutboundFetchOptions = { ...OPTS, trusted: false };

beforeAll(async () => {
  [site, other, target] = await Promise.all([startSite(), startSite(), startSite()]);
  guard = new OutboundGuard([], { trustedOrigins: [site.url("/v1"), other.origin], resolve: fakeDns });
  target.on("/secret", (_req, res) => res.writeHead(200).end("the secret"));
  site.on("/hello", (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("hello"));
});
afterAll(async () => {
  await guard?.close();
  await Promise.all([site?.close(), other?.close(), target?.close()]);
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("the request went through");
}
const fetchCode = async (promise: Promise<unknown>): Promise<OutboundFetchErrorCode> => {
  const err = await failure(promise);
  if (!(err instanceof OutboundFetchError)) throw err;
  return err.code;
};
const refusal = async (promise: Promise<unknown>): Promise<string> => {
  const err = await failure(promise);
  if (!(err instanceof OutboundRefusedError)) throw err;
  return err.message;
};
const redirect = (status: number, location: string) => (_req: unknown, res: import("node:http").ServerResponse) =>
  res.writeHead(status, { location }).end();

describe("the address policy, checked on connect", () => {
  it.each([
    ["127.0.0.1", () => target.url("/secret"), "127.0.0.1 is a loopback address"],
    ["10.0.0.1", () => `http://10.0.0.1:${target.port}/secret`, "10.0.0.1 is a private address"],
    ["169.254.169.254", () => "http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"],
    ["[::ffff:127.0.0.1]", () => target.url("/secret", "[::ffff:127.0.0.1]"), "127.0.0.1 is a loopback address"],
    ["[::1]", () => target.url("/secret", "[::1]"), "::1 is a loopback address"],
    ["a name resolving to 127.0.0.1", () => target.url("/secret", "loopback.test"), "it resolves to 127.0.0.1, which is a loopback address"],
  ])("refuses %s, and the target gets nothing", async (_name, url, why) => {
    dnsTable["loopback.test"] = ["127.0.0.1"];
    expect(await refusal(guard.fetch(url(), USER))).toContain(why);
    expect(await refusal(guard.fetch(url(), OPTS))).toContain(why);
    expect(await refusal(guard.stream(url(), OPTS))).toContain(why);
    expect(await guard.checkUrl(url())).toContain(why);
    expect(target.seen()).toHaveLength(0);
  });

  it("refuses a name that looked public when checked and resolves to loopback when connecting (DNS rebinding)", async () => {
    dnsTable["rebind.test"] = ["93.184.216.34"];
    const url = target.url("/secret", "rebind.test");
    expect(await guard.checkUrl(url)).toBeNull();
    dnsTable["rebind.test"] = ["127.0.0.1"];
    expect(await refusal(guard.fetch(url, OPTS))).toBe(
      "refused to connect to rebind.test: it resolves to 127.0.0.1, which is a loopback address (OUTBOUND_ALLOWLIST can permit it)",
    );
    expect(target.seen()).toHaveLength(0);
  });

  it("trusts exactly the configured origins: another port on the same host is refused", async () => {
    const bare = new OutboundGuard([], { trustedOrigins: [site.url("/v1")] });
    try {
      const res = await bare.fetch(site.url("/hello"), OPTS);
      expect(res).toMatchObject({ status: 200, url: site.url("/hello"), redirects: [], truncated: false });
      expect(res.body.toString()).toBe("hello");
      expect(bare.isTrusted(site.url("/anything?x=1"))).toBe(true);
      expect(bare.isTrusted(target.url("/secret"))).toBe(false);
      expect(await refusal(bare.fetch(target.url("/secret"), OPTS))).toContain("127.0.0.1 is a loopback address");
      expect(target.seen()).toHaveLength(0);
    } finally {
      await bare.close();
    }
  });

  it("a request a user chose gets no exception on a trusted origin, neither directly nor by a redirect", async () => {
    const before = site.seen("/hello").length;
    expect(await refusal(guard.fetch(site.url("/hello"), USER))).toContain("127.0.0.1 is a loopback address");
    expect(await guard.checkUrl(site.url("/hello"))).toContain("127.0.0.1 is a loopback address");
    dnsTable["public.test"] = ["127.0.0.1"];
    const open = new OutboundGuard(["public.test"], { trustedOrigins: [site.origin], resolve: fakeDns });
    try {
      other.on("/to-trusted", redirect(302, site.url("/hello")));
      expect(await refusal(open.fetch(other.url("/to-trusted", "public.test"), USER))).toContain("127.0.0.1 is a loopback address");
      expect(other.seen("/to-trusted")).toHaveLength(1);
    } finally {
      await open.close();
    }
    expect(site.seen("/hello")).toHaveLength(before);
  });

  it("the allowlist opens a host by name; a redirect from there to loopback is still refused", async () => {
    dnsTable["intranet.test"] = ["127.0.0.1"];
    const open = new OutboundGuard(["intranet.test"], { resolve: fakeDns });
    try {
      other.on("/to-loopback", redirect(302, target.url("/secret")));
      const err = await refusal(open.fetch(other.url("/to-loopback", "intranet.test"), USER));
      expect(err).toContain("refused to connect to 127.0.0.1");
      expect(other.seen("/to-loopback")).toHaveLength(1);
      expect(target.seen()).toHaveLength(0);
    } finally {
      await open.close();
    }
  });
});

describe("redirects", () => {
  it.each([
    ["127.0.0.1", () => target.url("/secret")],
    ["[::ffff:127.0.0.1]", () => target.url("/secret", "[::ffff:127.0.0.1]")],
    ["10.0.0.1", () => "http://10.0.0.1/"],
    ["169.254.169.254", () => "http://169.254.169.254/latest/meta-data/iam/"],
    ["a name resolving to 127.0.0.1", () => target.url("/secret", "loopback.test")],
  ])("from a trusted origin to %s: refused, and the target gets nothing", async (_name, location) => {
    dnsTable["loopback.test"] = ["127.0.0.1"];
    site.on("/leave", redirect(302, location()));
    expect(await refusal(guard.fetch(site.url("/leave"), OPTS))).toMatch(/^refused to connect to /);
    expect(target.seen()).toHaveLength(0);
  });

  it("follows a chain (relative and absolute Locations) and reports it", async () => {
    site.on("/r1", redirect(301, "/r2?x=1"));
    site.on("/r2", redirect(307, other.url("/r3")));
    other.on("/r3", redirect(308, site.url("/hello#frag")));
    const res = await guard.fetch(site.url("/r1"), OPTS);
    expect(res.status).toBe(200);
    expect(res.url).toBe(site.url("/hello"));
    expect(res.redirects).toEqual([site.url("/r1"), site.url("/r2?x=1"), other.url("/r3")]);
  });

  it("stops at maxRedirects: the hop beyond it is not requested", async () => {
    site.on("/loop", redirect(302, "/loop"));
    const before = site.seen("/loop").length;
    expect(await fetchCode(guard.fetch(site.url("/loop"), { ...OPTS, maxRedirects: 3 }))).toBe("TOO_MANY_REDIRECTS");
    expect(site.seen("/loop").length - before).toBe(4);
    expect(await fetchCode(guard.fetch(site.url("/loop"), { ...OPTS, maxRedirects: 0 }))).toBe("TOO_MANY_REDIRECTS");
    expect(site.seen("/loop").length - before).toBe(5);
  });

  it.each(["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", "gopher://127.0.0.1:6379/_INFO"])(
    "refuses a redirect to %s (BAD_SCHEME)",
    async (location) => {
      site.on("/odd", redirect(302, location));
      const err = await failure(guard.fetch(site.url("/odd"), OPTS));
      expect(err).toBeInstanceOf(OutboundFetchError);
      expect(err).toMatchObject({ code: "BAD_SCHEME", url: site.url("/odd") });
    },
  );

  it("refuses a URL that is not http(s) to begin with", async () => {
    expect(await fetchCode(guard.fetch("file:///etc/passwd", OPTS))).toBe("BAD_SCHEME");
    expect(await fetchCode(guard.fetch("not a url", OPTS))).toBe("BAD_URL");
    expect(await guard.checkUrl("ftp://example.com/")).toContain("ftp: URLs cannot be fetched");
  });

  it("drops Authorization and Cookie when the redirect changes origin, keeps them on the same origin", async () => {
    site.on("/auth-same", redirect(302, "/auth-end"));
    site.on("/auth-cross", redirect(302, other.url("/auth-end")));
    site.on("/auth-end", (_req, res) => res.writeHead(200).end("ok"));
    other.on("/auth-end", (_req, res) => res.writeHead(200).end("ok"));
    const headers = { Authorization: "Bearer secret-token", Cookie: "session=1", "X-Trace": "t1" };
    await guard.fetch(site.url("/auth-same"), { ...OPTS, headers });
    await guard.fetch(site.url("/auth-cross"), { ...OPTS, headers });
    expect(site.seen("/auth-end").at(-1)!.headers).toMatchObject({ authorization: "Bearer secret-token", cookie: "session=1" });
    const crossed = other.seen("/auth-end").at(-1)!.headers;
    expect(crossed.authorization).toBeUndefined();
    expect(crossed.cookie).toBeUndefined();
    expect(crossed["x-trace"]).toBe("t1");
  });

  it("turns POST into GET on 302 and 303 (body dropped), repeats it on 307 and 308", async () => {
    site.on("/sink", (req, res) => res.writeHead(200).end(`${req.method} ${req.body}`));
    for (const status of [301, 302, 303, 307, 308]) site.on(`/post-${status}`, redirect(status, "/sink"));
    const post = async (status: number) =>
      (await guard.fetch(site.url(`/post-${status}`), { ...OPTS, method: "POST", body: "a=1", headers: { "content-type": "text/plain" } })).body.toString();
    expect(await post(301)).toBe("GET ");
    expect(await post(302)).toBe("GET ");
    expect(await post(303)).toBe("GET ");
    expect(site.seen("/sink").at(-1)!.headers["content-type"]).toBeUndefined();
    expect(await post(307)).toBe("POST a=1");
    expect(await post(308)).toBe("POST a=1");
    expect(site.seen("/sink").at(-1)!.headers["content-type"]).toBe("text/plain");
  });

  it("hands a redirect over as it is when told not to follow (webhooks)", async () => {
    site.on("/manual", redirect(302, target.url("/secret")));
    const res = await guard.fetch(site.url("/manual"), { ...OPTS, redirect: "manual" });
    expect(res).toMatchObject({ status: 302, redirects: [], url: site.url("/manual") });
    expect(res.headers.location).toBe(target.url("/secret"));
    expect(target.seen()).toHaveLength(0);
  });
});

describe("caps and identity", () => {
  /** `count` chunks of 1 KiB, chunked (no Content-Length). */
  const chunked = (count: number) => (_req: unknown, res: import("node:http").ServerResponse) => {
    res.writeHead(200, { "content-type": "text/plain" });
    for (let i = 0; i < count; i++) res.write("x".repeat(1024));
    res.end();
  };

  it("refuses a body whose Content-Length is over the cap without reading it", async () => {
    // Announces a megabyte and sends ten bytes, then stalls: reading would run into the timeout.
    site.on("/announced", (_req, res) => {
      res.writeHead(200, { "content-length": String(1024 * 1024) });
      res.write("0123456789");
    });
    const err = await failure(guard.fetch(site.url("/announced"), { ...OPTS, timeoutMs: 60_000, maxResponseBytes: 1000 }));
    expect(err).toMatchObject({ code: "RESPONSE_TOO_LARGE", message: expect.stringContaining("1048576 bytes (the limit is 1000)") });
    expect(await fetchCode(guard.stream(site.url("/announced"), { ...OPTS, timeoutMs: 60_000, maxResponseBytes: 1000 }))).toBe("RESPONSE_TOO_LARGE");
  });

  it("stops a chunked body at the cap: an error, or the first bytes when truncation is asked for", async () => {
    site.on("/chunked", chunked(64));
    expect(await fetchCode(guard.fetch(site.url("/chunked"), { ...OPTS, maxResponseBytes: 10_000 }))).toBe("RESPONSE_TOO_LARGE");
    const cut = await guard.fetch(site.url("/chunked"), { ...OPTS, maxResponseBytes: 10_000, tooLarge: "truncate" });
    expect(cut.body.length).toBe(10_000);
    expect(cut.truncated).toBe(true);
    const whole = await guard.fetch(site.url("/chunked"), { ...OPTS, maxResponseBytes: 64 * 1024 });
    expect(whole.body.length).toBe(64 * 1024);
    expect(whole.truncated).toBe(false);
  });

  it("gives up after timeoutMs, whether the headers or the body are late", async () => {
    site.on("/silent", () => {});
    site.on("/stalls", (_req, res) => {
      res.writeHead(200);
      res.write("a little");
    });
    expect(await fetchCode(guard.fetch(site.url("/silent"), { ...OPTS, timeoutMs: 200 }))).toBe("TIMEOUT");
    expect(await fetchCode(guard.fetch(site.url("/stalls"), { ...OPTS, timeoutMs: 200 }))).toBe("TIMEOUT");
  });

  it("stops when the caller's signal aborts", async () => {
    site.on("/slow", () => {});
    const controller = new AbortController();
    const pending = guard.fetch(site.url("/slow"), { ...OPTS, signal: controller.signal });
    controller.abort();
    expect(await fetchCode(pending)).toBe("ABORTED");
  });

  it("sends its User-Agent unless the caller sets one", async () => {
    expect(DEFAULT_USER_AGENT).toMatch(/^Parley\/\d+\.\d+\.\d+ \(\+self-hosted knowledge importer\)$/);
    await guard.fetch(site.url("/hello"), OPTS);
    expect(site.seen("/hello").at(-1)!.headers["user-agent"]).toBe(DEFAULT_USER_AGENT);
    await guard.fetch(site.url("/hello"), { ...OPTS, headers: { "User-Agent": "Custom/1" } });
    expect(site.seen("/hello").at(-1)!.headers["user-agent"]).toBe("Custom/1");
  });
});

describe("the streaming variant", () => {
  it("hands the body over in chunks, and fails once it passes the cap", async () => {
    site.on("/events", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < 40; i++) res.write(`data: ${"y".repeat(1000)}\n\n`);
      res.end();
    });
    const whole = await guard.stream(site.url("/events"), OPTS);
    expect(whole.headers["content-type"]).toBe("text/event-stream");
    let size = 0;
    for await (const chunk of whole.body) size += chunk.length;
    expect(size).toBe(40 * 1008);

    const capped = await guard.stream(site.url("/events"), { ...OPTS, maxResponseBytes: 5000 });
    let seen = 0;
    const err = await failure(
      (async () => {
        for await (const chunk of capped.body) seen += chunk.length;
      })(),
    );
    expect(err).toMatchObject({ code: "RESPONSE_TOO_LARGE" });
    expect(seen).toBeLessThanOrEqual(5000);
  });

  it("follows redirects under the same policy", async () => {
    site.on("/stream-leave", redirect(307, target.url("/secret")));
    expect(await refusal(guard.stream(site.url("/stream-leave"), OPTS))).toContain("127.0.0.1 is a loopback address");
    expect(target.seen()).toHaveLength(0);
  });
});
