import { execute, buildExecutionContext } from "@graphql-tools/executor";
import { GraphQLError, createSourceEventStream, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { GraphQLContext } from "./builder.ts";

// A published event reaches every subscriber of its topic as the same payload object, and each
// subscriber would run its subscription document on it: a 1,000-operator inbox executed the same
// selection 1,000 times per message. Subscribers that send the same document (the parse cache hands
// out one DocumentNode per query text) with the same variables under the same credential get the
// same result, so here one execution per payload serves them all. What a result can depend on
// besides the payload, the arguments and the credential (ids, scopes, widget or operator) is the
// database, read through the context's loaders: those reads happen once per payload instead of
// once per subscriber, at the same moment.

type Args = ExecutionArgs & { contextValue: GraphQLContext; signal?: AbortSignal };
type Result = ExecutionResult | Promise<ExecutionResult>;

const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;
/** payload → (subscriber group → its result). Entries go when the payload object does. */
const results = new WeakMap<object, Map<string, Result>>();

function groupKey(args: Args): string {
  let doc = documentIds.get(args.document);
  if (doc === undefined) documentIds.set(args.document, (doc = nextDocumentId++));
  const p = args.contextValue.principal;
  const who = p === null ? "-" : p.kind === "system" ? "system" : `${p.kind}:${p.credentialId}`;
  return `${doc}\u0000${args.operationName ?? ""}\u0000${who}\u0000${JSON.stringify(args.variableValues ?? null)}`;
}

function executeEvent(args: Args, key: string, payload: unknown): Result {
  // Without the subscriber's abort signal: one leaving must not fail the others' shared result.
  const run = () => execute({ ...args, signal: undefined, rootValue: payload }) as Result;
  if (typeof payload !== "object" || payload === null) return run();
  let byGroup = results.get(payload);
  if (!byGroup) results.set(payload, (byGroup = new Map()));
  let result = byGroup.get(key);
  if (!result) byGroup.set(key, (result = run()));
  return result;
}

/**
 * The subscription algorithm of the spec (source stream, then the selection executed on each
 * event), with the per-event execution shared. Arguments the executor refuses (variables) take
 * the regular path, so their errors are the same.
 */
function sharedSubscribe(fallback: (args: ExecutionArgs) => unknown) {
  return async (args: Args) => {
    if (Array.isArray(buildExecutionContext(args))) return fallback(args);
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in source)) return source;
    const iterator = source[Symbol.asyncIterator]();
    const operation = getOperationAST(args.document, args.operationName);
    const key = groupKey(args);
    const done = (): IteratorResult<ExecutionResult> => ({ value: undefined, done: true });
    const close = async () => {
      await iterator.return?.();
      return done();
    };
    args.signal?.addEventListener("abort", () => void close(), { once: true });
    const events: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        let r: IteratorResult<unknown>;
        try {
          r = await iterator.next();
        } catch (err) {
          // As the executor reports a failing source stream.
          throw new GraphQLError((err as Error).message, { originalError: err as Error, nodes: operation ? [operation] : undefined });
        }
        return r.done ? done() : { value: await executeEvent(args, key, r.value), done: false };
      },
      return: close,
      async throw(err) {
        await iterator.return?.();
        throw err;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return events;
  };
}

export function sharedSubscriptionEvents(): Plugin<GraphQLContext> {
  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(sharedSubscribe(subscribeFn as (args: ExecutionArgs) => unknown) as unknown as typeof subscribeFn);
    },
  };
}
