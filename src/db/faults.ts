// Which failures mean "the database is not there right now" (down, restarting, unreachable, out of
// connections) rather than a fault of the request or of Parley. Callers answer those with 503
// SERVICE_UNAVAILABLE, and loops back off and try again; everything else stays a 500.
//
// The same outage reaches the code in several wrappings, all seen with PostgreSQL stopped,
// restarted and killed under load (Prisma 6.19 with @prisma/adapter-pg):
// - PrismaClientKnownRequestError P1001 / P1017, or P2010 (raw queries) with
//   meta.driverAdapterError.cause = { kind: "DatabaseNotReachable" | "ConnectionClosed" | … } or
//   { kind: "postgres", code: "57P01" | "57P03" … };
// - the adapter's DriverAdapterError itself, unwrapped, with the same `cause`;
// - pg's own Errors passed through untouched: "Connection terminated unexpectedly" (backend killed
//   mid-query), "timeout exceeded when trying to connect" (no pooled connection within
//   connectionTimeoutMillis), socket errors (ECONNREFUSED …) and DatabaseErrors with a SQLSTATE.

/** Prisma's codes for a database it cannot reach or that dropped the connection. */
const PRISMA_CODES = new Set([
  "P1001", // can't reach database server
  "P1002", // database server reached but timed out
  "P1008", // operations timed out
  "P1017", // server has closed the connection
  "P2024", // timed out fetching a new connection from the pool
]);

/** The adapter's DriverAdapterError kinds for the same. */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);

/** Node socket errors. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now (starting up, shutting down, recovering), 53300 too many
 * connections.
 */
const isUnavailableSqlState = (code: string) => /^08[0-9A-Z]{3}$/.test(code) || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";

/** pg's messages for a connection lost or never obtained (they carry no code). */
const PG_MESSAGES =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Query read timeout)$/;

/** SQLite: the write lock stayed taken past its wait (another process holds it). */
const isSqliteBusy = (code: string) => code.startsWith("SQLITE_BUSY");

type Faulty = {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  kind?: unknown;
  cause?: unknown;
  meta?: { code?: unknown; driverAdapterError?: unknown };
};

function adapterCauseIsUnavailable(cause: unknown): boolean {
  if (!cause || typeof cause !== "object") return false;
  const c = cause as Faulty;
  if (typeof c.kind === "string" && ADAPTER_KINDS.has(c.kind)) return true;
  return c.kind === "postgres" && typeof c.code === "string" && isUnavailableSqlState(c.code);
}

function isUnavailableOne(e: Faulty): boolean {
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code && (PRISMA_CODES.has(code) || SOCKET_CODES.has(code) || isUnavailableSqlState(code) || isSqliteBusy(code))) return true;
  // Raw-query failures (P2010) and others wrap the adapter's error in meta.
  const wrapped = e.meta?.driverAdapterError as Faulty | undefined;
  if (wrapped && adapterCauseIsUnavailable(wrapped.cause)) return true;
  if (typeof e.meta?.code === "string" && isUnavailableSqlState(e.meta.code)) return true;
  if (e.name === "DriverAdapterError" && adapterCauseIsUnavailable(e.cause)) return true;
  return typeof e.message === "string" && PG_MESSAGES.test(e.message);
}

/** True when `err` (or what it wraps) says the database is unreachable or unavailable for now. */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    if (isUnavailableOne(e as Faulty)) return true;
    e = (e as Faulty).cause;
  }
  return false;
}

export interface RetryOptions {
  /** Checked before each new try: false gives up (the runner stops). */
  keepTrying: () => boolean;
  /** Pause before the second try, doubled for each later one up to maxPauseMs. */
  firstPauseMs: number;
  maxPauseMs: number;
  /** Told about the first failure that leads to a retry. */
  onRetry?: (err: unknown) => void;
}

/**
 * Tries `work` until it succeeds, for as long as it fails only because the database is unavailable
 * and keepTrying() holds; any other failure, or the last one, is thrown. For writes that must not
 * be lost to a short outage and are safe to repeat.
 */
export async function retryWhileUnavailable<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || !options.keepTrying()) throw err;
      if (attempt === 0) options.onRetry?.(err);
      const pause = Math.min(options.maxPauseMs, options.firstPauseMs * 2 ** Math.min(attempt, 16));
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
