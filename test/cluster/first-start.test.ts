import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it, onTestFailed } from "vitest";
import { until } from "../helpers/wait.ts";
import { startCluster, type Cluster, type Credentials, type ParleyProcess } from "./helpers/cluster.ts";

// Two instances started at the same moment on an empty database (a first deploy of several
// instances): the migrations run once and one default workspace is created. main.ts writes
// credentials.json only where it created the workspace or issued credentials for it; every file
// written must name that one workspace.

let cluster: Cluster | undefined;
afterAll(() => cluster?.close());

it("two instances starting at once on an empty database create one default workspace", async () => {
  cluster = await startCluster([]);
  onTestFailed(() => console.log(cluster!.logs()));
  // LOG_LEVEL=info: "Parley is listening" is logged once main.ts has done its first-start work.
  const env = { LOG_LEVEL: "info" };
  const both = await Promise.all([cluster.start("A", { env }), cluster.start("B", { env })]);
  const listening = (p: ParleyProcess) => p.logs.some((l) => l.includes("Parley is listening"));
  await until("both to finish starting", async () => both.every(listening), { timeoutMs: 60_000 });

  const written = both
    .map((p) => join(p.dataDir, "credentials.json"))
    .filter((f) => existsSync(f))
    .map((f) => JSON.parse(readFileSync(f, "utf8")) as Credentials);
  expect(written.length).toBeGreaterThan(0);
  const workspaces = new Set(written.map((c) => `${c.workspaceId}/${c.scenarioId}`));
  expect([...workspaces], "default workspaces created").toHaveLength(1);
  // The credentials work on both instances.
  for (const p of both) {
    for (const c of written) {
      const res = await fetch(`${p.url}/v1/api_core/conversations`, { headers: { authorization: `Bearer ${c.tokens.readAll}` } });
      expect(res.status).toBe(200);
    }
  }
});
