import { spawn } from "node:child_process";

// Stops and starts the PostgreSQL server scripts/test-cluster.sh runs (TEST_PG_* variables), for the
// fault tests. Its settings live in its postgresql.conf, so a plain `pg_ctl start` brings it back
// on the same port.

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the cluster tests with npm run test:cluster`);
  return v;
}

function pgCtl(...args: string[]): Promise<string> {
  const pgCtlBin = `${required("TEST_PG_BINDIR")}/pg_ctl`;
  // initdb's cluster belongs to the postgres user when the script ran as root.
  const runAs = process.env.TEST_PG_RUN_AS;
  const [cmd, argv] = runAs ? ["runuser", ["-u", runAs, "--", pgCtlBin, ...args]] : [pgCtlBin, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`pg_ctl ${args.join(" ")} exited with ${code}: ${out}`))));
  });
}

/** Stops PostgreSQL and waits until it is down. "fast": open sessions are terminated (57P01), as on a restart. */
export async function stopPostgres(mode: "fast" | "immediate" = "fast"): Promise<void> {
  await pgCtl("-D", required("TEST_PG_DATA"), "-m", mode, "-w", "-t", "60", "stop");
}

/** Starts it again and waits until it accepts connections. */
export async function startPostgres(): Promise<void> {
  await pgCtl("-D", required("TEST_PG_DATA"), "-l", required("TEST_PG_LOG"), "-w", "-t", "60", "start");
}

/** Whether the server is running (pg_ctl status). */
export async function postgresRunning(): Promise<boolean> {
  return pgCtl("-D", required("TEST_PG_DATA"), "status").then(
    () => true,
    () => false,
  );
}
