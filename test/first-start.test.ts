import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "./helpers/server.ts";

const TSX = "node_modules/.bin/tsx";

interface Started {
  child: ChildProcess;
  url: string;
  /** stdout and stderr so far. */
  logs(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();
let db: Awaited<ReturnType<typeof freshDatabase>>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts `tsx src/main.ts` on a free port and waits for "Parley is listening". */
async function startMain(): Promise<Started> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: db.dataDir,
    LOG_LEVEL: "info",
    NODE_ENV: "production",
  };
  delete env.DATABASE_URL;
  delete env.PARLEY_SECRET;
  delete env.NODE_OPTIONS;
  if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
  // Its own process group, so a failed test can stop tsx and the node process it runs.
  const child = spawn(TSX, ["src/main.ts"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child);
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  exited.then(() => running.delete(child));
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Parley is listening" within 45s:\n${output}`)), 45_000);
    const check = () => {
      if (output.includes("Parley is listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`main.ts exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    logs: () => output,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
  }
  await db?.drop();
});

describe("first start", () => {
  let file: string;
  let firstContent: string;
  let firstMtime: number;

  it("initialises an empty database and writes DATA_DIR/credentials.json (0600) without logging secrets", async () => {
    const app = await startMain();
    file = join(db.dataDir, "credentials.json");
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    firstContent = readFileSync(file, "utf8");
    firstMtime = statSync(file).mtimeMs;
    const creds = JSON.parse(firstContent);
    expect(Object.keys(creds)).toEqual(["workspaceId", "scenarioId", "tokens", "developerKey", "widgetKey", "legacyApiKey"]);
    expect(Object.keys(creds.tokens)).toEqual(["readAll", "writeAll"]);

    // The credentials work against the running server.
    const res = await fetch(`${app.url}/v1/api/chatbot_settings`, { headers: { authorization: `Bearer ${creds.tokens.readAll}` } });
    expect(res.status).toBe(200);

    const logs = app.logs();
    expect(logs).toContain(file);
    for (const secret of [creds.tokens.readAll, creds.tokens.writeAll, creds.developerKey, creds.widgetKey, creds.legacyApiKey]) {
      expect(logs).not.toContain(secret);
    }

    expect(await app.stop()).toBe(0);
  });

  it("a second start on the same DATA_DIR leaves credentials.json alone", async () => {
    expect(firstContent).toBeDefined();
    const app = await startMain();
    expect(readFileSync(file, "utf8")).toBe(firstContent);
    expect(statSync(file).mtimeMs).toBe(firstMtime);
    expect(app.logs()).not.toContain("credentials written");
    expect(await app.stop()).toBe(0);
  });
});
