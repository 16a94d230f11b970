import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { GraphQLError, type DocumentNode, type ExecutionArgs } from "graphql";
import type { YogaServerInstance } from "graphql-yoga";
import type { Principal } from "../auth/scopes.ts";
import { AppError } from "../errors.ts";
import type { Runtime } from "../services/context.ts";
import { graphqlPrincipal } from "./yoga.ts";
import type { Config } from "../config.ts";

/** RFC 6455 "Service Restart": the server goes away for now, the client may reconnect. */
export const RESTART_CLOSE_CODE = 1012;

type ConnectionExtra = {
  principal?: Principal | null;
  requestId?: string;
};

/**
 * graphql-ws on the same port and path as HTTP GraphQL. The credential travels in connectionParams
 * (`Authorization: Bearer …`); every operation goes through yoga.getEnveloped, so WebSocket
 * operations get the same context, limits, armor and masking as HTTP ones.
 */
export function attachGraphQLWebSocket(
  server: Server,
  yoga: YogaServerInstance<any, any>,
  runtime: Runtime,
  config: Config,
) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  let closing = false;
  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0]!.replace(/\/$/, "");
    if (path !== yoga.graphqlEndpoint) {
      socket.destroy();
      return;
    }
    // Shutting down: a client that got in on a kept-alive connection goes to another instance.
    if (closing) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  const disposable = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      connectionInitWaitTimeout: config.wsConnectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const auth = params.Authorization ?? params.authorization;
        try {
          ctx.extra.principal = await graphqlPrincipal(runtime, typeof auth === "string" ? auth : undefined);
          ctx.extra.requestId = randomUUID();
          return true;
        } catch (err) {
          if (err instanceof AppError) return false; // closes with 4403 Forbidden
          throw err;
        }
      },
      execute: (args: ExecutionArgs) => (args.rootValue as any).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as any).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: undefined,
          wsPrincipal: ctx.extra.principal ?? null,
          wsRequestId: ctx.extra.requestId,
          wsIp: ctx.extra.request.socket.remoteAddress,
          socket: ctx.extra.socket,
          params,
        });
        // Syntax errors and armor's limits (depth, aliases, tokens: thrown from parse or validate)
        // answer this operation with an error message; thrown, they would close the connection (4500).
        const isGraphQLError = (err: unknown): err is GraphQLError =>
          err instanceof GraphQLError || (err as Error | null)?.name === "GraphQLError";
        let document: DocumentNode;
        try {
          document = parse(params.query);
        } catch (err) {
          if (isGraphQLError(err)) return [err];
          throw err;
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        let errors: readonly GraphQLError[];
        try {
          errors = validate(args.schema, args.document);
        } catch (err) {
          if (isGraphQLError(err)) return [err];
          throw err;
        }
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
  );
  return {
    wss,
    /**
     * Stops taking connections and closes the open ones with 1012 Service Restart: graphql-ws
     * clients treat it as retryable (like 1001 Going Away) and, with retryAttempts, reconnect (to
     * another instance behind the load balancer) and subscribe again. Resolves once every socket
     * is gone; sockets whose client never answers the close are cut after graceMs.
     */
    async close(graceMs = 5000) {
      closing = true;
      for (const socket of wss.clients) socket.close(RESTART_CLOSE_CODE, "Service restart");
      // dispose() stops the server and resolves when its last client is gone (it would close the
      // ones still open with 1001; there are none left open).
      const disposed = Promise.resolve(disposable.dispose());
      let timer: NodeJS.Timeout | undefined;
      const expired = await Promise.race([
        disposed.then(() => false),
        new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
      ]);
      clearTimeout(timer);
      if (expired) for (const socket of wss.clients) socket.terminate();
      await disposed;
    },
  };
}
