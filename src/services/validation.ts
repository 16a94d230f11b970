import { z } from "zod";
import { AppError, validationError } from "../errors.ts";

/** Parses input with a service's zod schema; the first problem becomes a VALIDATION_ERROR (422). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  throw validationError(path ? `${path}: ${issue.message}` : issue.message, path || undefined);
}

/** Like parseInput, for query strings and paths, where a wrong value is a BAD_REQUEST (400). */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  try {
    return parseInput(schema, input);
  } catch (err) {
    if (err instanceof AppError) throw new AppError("BAD_REQUEST", err.message, { field: err.field });
    throw err;
  }
}
