/**
 * The admin CLI: `npm run -s parley -- <command>`. Parses arguments, calls a service as the system
 * principal, prints the result. Business rules live in the services, not here.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig, type Config } from "./config.ts";
import { SYSTEM, TOKEN_SCOPES } from "./auth/scopes.ts";
import { AppError } from "./errors.ts";
import pino from "pino";
import { createAnalyzer, createResponder } from "./ai/index.ts";
import type { Database } from "./db/client.ts";
import type { MigrateResult } from "./db/migrate.ts";
import type { ServiceContext } from "./services/context.ts";

// The database, Prisma and the services load only once the command line is known to be valid, so
// a usage error answers at once.
const credentials = () => import("./services/credentials.ts");
const workspaces = () => import("./services/workspaces.ts");

const HELP = `Usage: parley <command> [options]

Commands:
  migrate                                   Apply pending database migrations
  init [--json]                             Create the default workspace and scenario when the
                                            database is empty; issue fresh credentials for it
  token create --scenario ID --scope read_all|write_all [--expires-in-days N] [--json]
                                            Issue a scenario API token
  token revoke ID                           Revoke a scenario API token
  key create --kind developer --workspace ID --scopes a,b [--member ID] [--json]
  key create --kind widget|legacy --scenario ID [--json]
                                            Issue a developer key, widget (site) key or legacy API key
  key revoke ID                             Revoke a key
  scenario create --workspace ID --name NAME [--json]
                                            Create a scenario (an assistant) in a workspace

Every command applies pending migrations first. Configuration comes from the environment:
DATABASE_URL (PostgreSQL; unset for SQLite in DATA_DIR/parley.db), DATA_DIR (default ./data),
PARLEY_SECRET (token-signing secret; default DATA_DIR/secret).
Secrets are printed once; store them right away.`;

/** Bad command line: exit code 2. */
class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  options: Options;
  /** How many positional arguments the command takes (and their names, for messages). */
  positionals?: string[];
  /** Checks the shape of the arguments before the database is touched. */
  validate?(values: Values): void;
  run(ctx: ServiceContext, values: Values, positionals: string[], out: Output): Promise<void>;
}

interface Output {
  json: boolean;
  print(text: string): void;
}

const json = { json: { type: "boolean" } } as const;

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

function required(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v === "") throw new UsageError(`missing required option --${name}`);
  return v;
}

function forbid(values: Values, names: string[], reason: string) {
  for (const n of names) if (values[n] !== undefined) throw new UsageError(`--${n} ${reason}`);
}

function printJson(out: Output, value: unknown) {
  out.print(JSON.stringify(value, null, 2));
}

const revokeCommand: Command = {
  options: {},
  positionals: ["ID"],
  async run(ctx, _values, [id], out) {
    const { revokeCredential } = await credentials();
    const row = await revokeCredential(ctx, id!);
    out.print(`Revoked ${row.id}.`);
  },
};

const COMMANDS: Record<string, Command> = {
  // Migrations run before every command; this one only reports them (see main()).
  migrate: { options: {}, run: async () => {} },

  init: {
    options: json,
    async run(ctx, _values, _pos, out) {
      const { initialize } = await workspaces();
      const { created, ...result } = await initialize(ctx);
      if (out.json) return printJson(out, result);
      out.print(
        [
          created ? "Created the default workspace." : "The database already has a workspace; issued fresh credentials.",
          `Workspace:               ${result.workspaceId}`,
          `Scenario:                ${result.scenarioId}`,
          `Token (read_all):        ${result.tokens.readAll}`,
          `Token (write_all):       ${result.tokens.writeAll}`,
          `Developer key:           ${result.developerKey}`,
          `Widget key:              ${result.widgetKey}`,
          `Legacy API key:          ${result.legacyApiKey}`,
          "These secrets are shown once; store them now.",
        ].join("\n"),
      );
    },
  },

  "token create": {
    options: { scenario: { type: "string" }, scope: { type: "string" }, "expires-in-days": { type: "string" }, ...json },
    validate(values) {
      required(values, "scenario");
      const scope = required(values, "scope");
      if (!(TOKEN_SCOPES as readonly string[]).includes(scope)) {
        throw new UsageError(`--scope must be one of ${TOKEN_SCOPES.join(", ")}`);
      }
      const days = str(values, "expires-in-days");
      if (days !== undefined && !/^\d+$/.test(days)) throw new UsageError("--expires-in-days must be a whole number of days");
    },
    async run(ctx, values, _pos, out) {
      const days = str(values, "expires-in-days");
      const { createScenarioToken } = await credentials();
      const token = await createScenarioToken(ctx, {
        scenarioId: str(values, "scenario"),
        scope: str(values, "scope"),
        expiresInDays: days === undefined ? undefined : Number(days),
        label: "cli",
      });
      const scope = str(values, "scope")!;
      const expiresAt = token.expiresAt?.toISOString() ?? null;
      if (out.json) return printJson(out, { id: token.id, token: token.secret, scope, expiresAt });
      out.print(
        [`Token id:    ${token.id}`, `Scope:       ${scope}`, `Expires at:  ${expiresAt}`, `Token:       ${token.secret}`].join("\n"),
      );
    },
  },

  "token revoke": revokeCommand,

  "key create": {
    options: {
      kind: { type: "string" },
      workspace: { type: "string" },
      scopes: { type: "string" },
      member: { type: "string" },
      scenario: { type: "string" },
      ...json,
    },
    validate(values) {
      const kind = required(values, "kind");
      if (kind === "developer") {
        required(values, "workspace");
        required(values, "scopes");
        forbid(values, ["scenario"], "is not used with --kind developer (developer keys belong to a workspace)");
      } else if (kind === "widget" || kind === "legacy") {
        required(values, "scenario");
        forbid(values, ["workspace", "scopes", "member"], `is not used with --kind ${kind}`);
      } else {
        throw new UsageError("--kind must be one of developer, widget, legacy");
      }
    },
    async run(ctx, values, _pos, out) {
      const kind = str(values, "kind")!;
      const input =
        kind === "developer"
          ? {
              kind,
              workspaceId: str(values, "workspace"),
              scopes: str(values, "scopes")!
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean),
              memberId: str(values, "member"),
              label: "cli",
            }
          : { kind, scenarioId: str(values, "scenario"), label: "cli" };
      const { createKey } = await credentials();
      const key = await createKey(ctx, input);
      if (out.json) return printJson(out, { id: key.id, key: key.secret, kind: key.kind });
      out.print(
        [
          `Key id:  ${key.id}`,
          `Kind:    ${key.kind}`,
          ...(key.scopes.length ? [`Scopes:  ${key.scopes.join(", ")}`] : []),
          `Key:     ${key.secret}`,
        ].join("\n"),
      );
    },
  },

  // Tokens and keys are both credentials: one revocation serves both.
  "key revoke": revokeCommand,

  "scenario create": {
    options: { workspace: { type: "string" }, name: { type: "string" }, ...json },
    validate(values) {
      required(values, "workspace");
      required(values, "name");
    },
    async run(ctx, values, _pos, out) {
      const { createScenario } = await workspaces();
      const s = await createScenario(ctx, { workspaceId: str(values, "workspace"), name: str(values, "name") });
      if (out.json) return printJson(out, { id: s.id, name: s.name, workspaceId: s.workspaceId });
      out.print([`Scenario id:  ${s.id}`, `Name:         ${s.name}`, `Workspace:    ${s.workspaceId}`].join("\n"));
    },
  },
};

const GROUPS = new Set(Object.keys(COMMANDS).filter((k) => k.includes(" ")).map((k) => k.split(" ")[0]!));

/** Splits argv into the command name and its arguments; throws UsageError for unknown commands. */
function resolveCommand(argv: string[]): { name: string; args: string[] } | "help" {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("missing command (see parley --help)");
  if (first === "--help" || first === "-h" || first === "help") return "help";
  if (GROUPS.has(first)) {
    const [sub, ...args] = rest;
    if (sub === "--help" || sub === "-h") return "help";
    if (sub === undefined) {
      const subs = Object.keys(COMMANDS).filter((k) => k.startsWith(`${first} `)).map((k) => k.split(" ")[1]);
      throw new UsageError(`missing subcommand: parley ${first} ${subs.join("|")}`);
    }
    const name = `${first} ${sub}`;
    if (!COMMANDS[name]) throw new UsageError(`unknown command '${name}' (see parley --help)`);
    return { name, args };
  }
  if (first.startsWith("-")) throw new UsageError(`unknown option '${first}' (see parley --help)`);
  if (!COMMANDS[first]) throw new UsageError(`unknown command '${first}' (see parley --help)`);
  return { name: first, args: rest };
}

function parse(command: Command, name: string, args: string[]) {
  const expected = command.positionals ?? [];
  const { values, positionals } = parseArgs({
    args,
    options: { ...command.options, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: expected.length > 0,
  });
  if (values.help) return "help" as const;
  if (positionals.length < expected.length) {
    throw new UsageError(`missing ${expected.slice(positionals.length).join(" ")}: usage: parley ${name} ${expected.join(" ")}`);
  }
  if (positionals.length > expected.length) throw new UsageError(`unexpected argument '${positionals[expected.length]}'`);
  command.validate?.(values as Values);
  return { values: values as Values, positionals };
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ").trim() || "unexpected error";
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text.endsWith("\n") ? text : text + "\n", () => resolve()));
}

async function main(argv: string[]): Promise<number> {
  let database: Database | undefined;
  const stdout: string[] = [];
  try {
    const resolved = resolveCommand(argv);
    if (resolved === "help") {
      await write(process.stdout, HELP);
      return 0;
    }
    const command = COMMANDS[resolved.name]!;
    const parsed = parse(command, resolved.name, resolved.args);
    if (parsed === "help") {
      await write(process.stdout, HELP);
      return 0;
    }

    const config: Config = loadConfig();
    const [{ openDatabase }, { migrate }, { loadSecret }, { EventBus }, { RateLimits }, { createServiceContext }] =
      await Promise.all([
        import("./db/client.ts"),
        import("./db/migrate.ts"),
        import("./auth/secret.ts"),
        import("./events/bus.ts"),
        import("./services/rate-limit.ts"),
        import("./services/context.ts"),
      ]);
    database = openDatabase(config);
    const migrated: MigrateResult = await migrate(database.provider, database.location);
    if (resolved.name === "migrate") {
      stdout.push(
        migrated.applied.length
          ? `Applied ${migrated.applied.length} migration(s):\n${migrated.applied.map((m) => `  ${m}`).join("\n")}`
          : "No pending migrations; the database is up to date.",
      );
    }
    const ctx = createServiceContext(
      {
        db: database.prisma,
        provider: database.provider,
        sql: database.sql,
        events: new EventBus(database.sql),
        rateLimits: new RateLimits(),
        signingSecret: loadSecret(config),
        clock: () => new Date(),
        // Never started here: the CLI only enqueues; a running server works the jobs off.
        jobs: new (await import("./jobs/runner.ts")).JobRunner({ db: database.prisma, provider: database.provider, sql: database.sql, clock: () => new Date() }),
        responder: createResponder(config),
        analyzer: createAnalyzer(config),
        imports: config.imports,
        outbound: (await import("./services/outbound-guard.ts")).createOutboundGuard(config),
        log: pino({ level: "silent" }),
      },
      SYSTEM,
    );
    const out: Output = { json: parsed.values.json === true, print: (text) => stdout.push(text) };
    await command.run(ctx, parsed.values, parsed.positionals, out);
    // Only a complete success prints to stdout, so --json output is always whole and parseable.
    if (stdout.length) await write(process.stdout, stdout.join("\n"));
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      await write(process.stderr, `parley: ${oneLine((err as Error).message)}`);
      return 2;
    }
    if (err instanceof AppError) {
      await write(process.stderr, `parley: ${oneLine(err.message)}`);
      return 1;
    }
    await write(process.stderr, `parley: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    return 1;
  } finally {
    await database?.close().catch(() => {});
  }
}

process.exit(await main(process.argv.slice(2)));
