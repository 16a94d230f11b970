import { afterEach } from "vitest";
import { createClient, type Client, type ClientOptions } from "graphql-ws";
import WebSocket from "ws";

/**
 * graphql-ws clients for one test scope, all disposed after each test. Call it at the top of a file
 * or a describe block (it registers the afterEach there):
 *
 *   const wsClient = graphqlWsClients(() => server.wsUrl);
 *   const c = wsClient(secret);            // lazy, no retries; connectionParams carry the bearer secret
 *   wsClient(secret, { lazy: false, on: { closed } })   // any createClient option overrides the defaults
 */
export function graphqlWsClients(defaultUrl: () => string) {
  const open: Client[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.dispose()));
  });
  return function wsClient(secret?: string, options: Partial<ClientOptions> = {}): Client {
    const c = createClient({
      url: defaultUrl(),
      webSocketImpl: WebSocket,
      connectionParams: secret ? { Authorization: `Bearer ${secret}` } : {},
      retryAttempts: 0,
      lazy: true,
      ...options,
    });
    open.push(c);
    return c;
  };
}
