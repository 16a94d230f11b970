// GraphQL field names are the services' (and the documented REST) snake_case keys in camelCase:
// welcomeMessage ↔ welcome_message. Inputs are renamed back before they reach a service.

/** welcomeMessage → welcome_message. */
export const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * An input object with its keys in snake_case. Only keys are renamed: values (null included) pass
 * as given, so the service's schema decides. The objects under the keys named in `nested` (GraphQL
 * names) are renamed the same way, one level deep.
 */
export function snakeKeys(input: Record<string, unknown>, nested: readonly string[] = []): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(input).map(([k, v]) => [
      snakeCase(k),
      nested.includes(k) && v !== null && typeof v === "object" && !Array.isArray(v) ? snakeKeys(v as Record<string, unknown>) : v,
    ]),
  );
}
