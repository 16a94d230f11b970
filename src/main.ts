import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildApp } from "./app.ts";
import { loadConfig } from "./config.ts";
import { SYSTEM } from "./auth/scopes.ts";
import { createServiceContext } from "./services/context.ts";
import { initialize } from "./services/workspaces.ts";

const config = loadConfig();
const app = await buildApp(config);
const { url } = await app.start();

// First start on an empty database: do what `parley init` does and keep the credentials in a
// file only the owner can read; the log names the file, never a secret.
if (!(await app.runtime.db.workspace.findFirst())) {
  const result = await initialize(createServiceContext(app.runtime, SYSTEM));
  const file = join(config.dataDir, "credentials.json");
  const { created: _created, ...credentials } = result;
  writeFileSync(file, JSON.stringify(credentials, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  app.log.info({ file }, "created the default workspace; credentials written");
}
app.log.info({ url, database: app.database.provider }, "Parley is listening");

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // A second signal (an impatient supervisor, Ctrl-C twice) must not cut the stop short halfway:
    // the shutdown below is bounded, and a stop cut short would leave jobs claimed until their lease ends.
    if (stopping) {
      app.log.info({ signal }, "already shutting down");
      return;
    }
    stopping = true;
    app.log.info({ signal }, "shutting down");
    // Every step of stop() is bounded (requests by shutdownTimeoutMs, jobs by their stop timeout,
    // job worker processes killed after 30 s); this only guards against one that hangs regardless.
    const limitMs = config.shutdownTimeoutMs + 60_000;
    setTimeout(() => {
      app.log.error({ limitMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, limitMs).unref();
    app.stop().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
