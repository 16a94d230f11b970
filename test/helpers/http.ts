import { expect } from "vitest";

/**
 * HTTP against a test server: REST calls, GraphQL over HTTP, and the shapes tests assert on.
 *
 *   const { call, gql } = http(() => server);        // server is assigned in beforeAll: read lazily
 *   const res = await call("/v1/api/chatbot_settings", { token: aRead });
 *   expect(errorCodes(await gql(devKey, QUERY, { id }))).toEqual(["NOT_FOUND"]);
 */

/** Where requests go: a base URL, or anything with a `url` (a TestServer). Read at call time. */
export type Target = () => string | { url: string };

export interface CallOptions {
  /** Defaults to GET. */
  method?: string;
  /** Sent as `Authorization: Bearer <token>` when non-empty (replaces an authorization in `headers`). */
  token?: string | null;
  /** Sent as JSON, with content-type application/json. */
  body?: unknown;
  /** Sent verbatim instead of `body`, with content-type application/json unless `headers` sets one. */
  raw?: string;
  /** Extra request headers; a content-type here wins over the JSON default. */
  headers?: Record<string, string>;
  /** Base URL for this request instead of the target's (another server, another Host). */
  url?: string;
}

/** A response read as JSON (`undefined` for an empty body). */
export interface JsonResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface GraphqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: any };
}

/** A GraphQL response body. */
export interface GraphqlBody<TData = any> {
  data?: TData;
  errors?: GraphqlError[];
}

export interface GraphqlOptions {
  variables?: Record<string, unknown>;
  /** Sent as `Authorization: Bearer <auth>` when non-empty. */
  auth?: string;
  /** A verbatim Authorization header (wins over `auth`), for malformed-credential cases. */
  authorization?: string;
  /** The Accept header; none is sent (fetch's default) unless given here or in http()'s defaults. */
  accept?: string;
  /** Base URL for this request instead of the target's. */
  url?: string;
}

/** A GraphQL response with what tests look at beyond the body. */
export interface GraphqlResult<TData = any> {
  status: number;
  body: GraphqlBody<TData>;
  /** The raw response text (to check that nothing leaks). */
  text: string;
  /** The x-request-id response header. */
  requestId: string | null;
  headers: Headers;
}

export const GRAPHQL_RESPONSE_JSON = "application/graphql-response+json";

export function http(target: Target, defaults: { accept?: string } = {}) {
  const base = () => {
    const t = target();
    return typeof t === "string" ? t : t.url;
  };

  /** A REST request; JSON body, bearer token and extra headers as options. Resolves with the Response. */
  function call(path: string, init: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    let body: string | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined) headers["content-type"] ??= "application/json";
    return fetch(`${init.url ?? base()}${path}`, { method: init.method ?? "GET", headers, body });
  }

  /** call(), with the response body read and parsed as JSON. */
  async function callJson<T = any>(path: string, init: CallOptions = {}): Promise<JsonResponse<T>> {
    const res = await call(path, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  /** A plain GET with exactly the given headers. */
  function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return call(path, { headers });
  }

  /** POSTs a GraphQL operation to /graphql; resolves with status, parsed body, raw text and request id. */
  async function graphql<TData = any>(query: string, options: GraphqlOptions = {}): Promise<GraphqlResult<TData>> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    const accept = options.accept ?? defaults.accept;
    if (accept !== undefined) headers.accept = accept;
    if (options.auth) headers.authorization = `Bearer ${options.auth}`;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    const res = await fetch(`${options.url ?? base()}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables: options.variables }),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text), text, requestId: res.headers.get("x-request-id"), headers: res.headers };
  }

  /** A GraphQL operation with a bearer credential; resolves with the response body only. */
  async function gql<TData = any>(
    auth: string,
    query: string,
    variables?: Record<string, unknown>,
    options: Omit<GraphqlOptions, "auth" | "variables"> = {},
  ): Promise<GraphqlBody<TData>> {
    return (await graphql<TData>(query, { ...options, auth, variables })).body;
  }

  return { call, callJson, get, graphql, gql };
}

export type HttpClient = ReturnType<typeof http>;

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** The extensions.code of each GraphQL error, in order ([] when there are none). */
export function errorCodes(result: { errors?: readonly { extensions?: { code?: unknown } }[] | null }) {
  return (result.errors ?? []).map((e) => e.extensions?.code);
}

/** The Quickchat REST error body; `message` is exact as a string, a pattern as a RegExp, any string when omitted. */
export function quickchatError(code: string, message?: string | RegExp) {
  return {
    errors: {
      root: [{ message: message === undefined ? expect.any(String) : typeof message === "string" ? message : expect.stringMatching(message), code }],
    },
  };
}

export const WRITE_SCOPE_MESSAGE = "Insufficient token scope. Required: write_all";
