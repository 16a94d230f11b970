import { isDatabaseUnavailable } from "./db/faults.ts";

/** The codes every transport understands (see DESIGN.md: one error model, three dialects). */
export type ErrorCode =
  | "BAD_REQUEST"
  | "PERMISSION_DENIED"
  | "NOT_FOUND"
  | "CONFLICT"
  | "VALIDATION_ERROR"
  | "TOO_MANY_REQUESTS"
  | "UNKNOWN"
  | "SERVICE_UNAVAILABLE";

const defaultStatus: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  VALIDATION_ERROR: 422,
  TOO_MANY_REQUESTS: 429,
  UNKNOWN: 500,
  SERVICE_UNAVAILABLE: 503,
};

export interface RateLimitInfo {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
  windowSeconds: number;
  policy: string;
}

/** An expected failure thrown by services; transports render it in their own dialect. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { status?: number; rateLimit?: RateLimitInfo; field?: string } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.status = options.status ?? defaultStatus[code];
    this.rateLimit = options.rateLimit;
    this.field = options.field;
  }
  readonly rateLimit?: RateLimitInfo;
  readonly field?: string;
}

export const unauthenticated = (message = "Invalid, expired or revoked credential") =>
  new AppError("PERMISSION_DENIED", message, { status: 401 });
export const forbidden = (message: string) => new AppError("PERMISSION_DENIED", message, { status: 403 });
export const notFound = (what = "Resource") => new AppError("NOT_FOUND", `${what} not found`);
export const badRequest = (message: string) => new AppError("BAD_REQUEST", message);
export const validationError = (message: string, field?: string) =>
  new AppError("VALIDATION_ERROR", message, { field });
export const conflict = (message: string) => new AppError("CONFLICT", message);
export const unavailable = (message = "Service temporarily unavailable") =>
  new AppError("SERVICE_UNAVAILABLE", message);

/** Turns anything thrown into an AppError; unknown errors become a masked UNKNOWN (caller logs the original). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // A database that is down or restarting is the service's state, not a fault of the request.
  if (isDatabaseUnavailable(err)) return unavailable();
  return new AppError("UNKNOWN", "Internal server error");
}
