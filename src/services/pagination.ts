import { z } from "zod";
import { parseQuery } from "./validation.ts";

export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 10;

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a non-negative integer")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** limit/offset as REST query strings: integers, limit 1–100, offset ≥ 0. */
export const PaginationQuery = z.object({
  limit: integer(1, MAX_LIMIT).default(DEFAULT_LIMIT),
  offset: integer(0, Number.MAX_SAFE_INTEGER).default(0),
});
export type Pagination = z.output<typeof PaginationQuery>;

export function parsePagination(query: Record<string, unknown>): Pagination {
  return parseQuery(PaginationQuery, { limit: query.limit, offset: query.offset });
}

export interface Page<T> {
  items: T[];
  offset: number;
  limit: number;
  count: number;
}
