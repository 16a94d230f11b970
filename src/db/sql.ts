import type { Db, Provider } from "./client.ts";

// The SQL lane: hand-written statements for the chat hot path, one text for both dialects.
// Prisma 6's JS engine compiles every ORM query on the main thread (about 1.5 ms each, no plan
// cache); a visitor message needs a couple of dozen statements, so the ORM alone would cap one
// process at ~25 messages/s. Here a statement costs what the driver costs:
// - SQLite: prepared once, run synchronously on the Prisma adapter's own better-sqlite3
//   connection. A lane transaction takes the adapter's transaction mutex, so it never interleaves
//   with a Prisma interactive transaction on that connection, and its statements run back to back
//   without waiting for I/O.
// - PostgreSQL: Prisma's raw queries over its pool, inside a Prisma transaction when asked.
// Values whose SQL spelling differs per dialect (timestamps, JSON, booleans, enums) are wrapped with
// the helpers below; rows come back decoded to what Prisma would have returned (decodeRow).

class Typed {
  constructor(
    readonly type: "timestamp" | "json" | "bool" | "enum",
    readonly value: unknown,
    readonly enumName?: string,
  ) {}
}

/** A fragment of SQL with its values; nest fragments with ${} and join lists with sqlList. */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Comma-separated placeholders for the values, for IN (…). */
export function sqlList(values: readonly unknown[]): Sql {
  if (!values.length) throw new Error("sqlList needs at least one value");
  return new Sql(["", ...values.slice(1).map(() => ", "), ""], values);
}

/** Fragments joined with commas (SET lists). */
export function sqlJoin(parts: readonly Sql[]): Sql {
  return new Sql(["", ...parts.slice(1).map(() => ", "), ""], parts);
}

export const timestamp = (d: Date | null | undefined) => new Typed("timestamp", d ?? null);
export const json = (v: unknown) => new Typed("json", v === undefined ? null : v);
export const bool = (b: boolean) => new Typed("bool", b);
export const enumValue = (enumName: string, v: string) => new Typed("enum", v, enumName);

/** SQLite keeps Prisma DateTimes as ISO-8601 text with an explicit offset. */
export const sqliteTimestamp = (d: Date) => d.toISOString().replace("Z", "+00:00");

export function compile(q: Sql, dialect: Provider): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const walk = (f: Sql): string => {
    let text = f.strings[0]!;
    f.values.forEach((v, i) => {
      text += placeholder(v) + f.strings[i + 1]!;
    });
    return text;
  };
  const placeholder = (v: unknown): string => {
    if (v instanceof Sql) return walk(v);
    if (dialect === "sqlite") {
      params.push(sqliteValue(v));
      return "?";
    }
    params.push(postgresValue(v));
    const n = `$${params.length}`;
    if (!(v instanceof Typed)) return n;
    switch (v.type) {
      case "timestamp":
        return `(${n}::timestamptz AT TIME ZONE 'UTC')`;
      case "json":
        return `${n}::jsonb`;
      case "bool":
        return `${n}::boolean`;
      case "enum":
        return `${n}::"${v.enumName}"`;
    }
  };
  return { text: walk(q), params };
}

function sqliteValue(v: unknown): unknown {
  if (!(v instanceof Typed)) return v instanceof Date ? sqliteTimestamp(v) : typeof v === "boolean" ? (v ? 1 : 0) : v;
  if (v.value === null) return null;
  switch (v.type) {
    case "timestamp":
      return sqliteTimestamp(v.value as Date);
    case "json":
      return JSON.stringify(v.value);
    case "bool":
      return v.value ? 1 : 0;
    case "enum":
      return v.value;
  }
}

function postgresValue(v: unknown): unknown {
  if (!(v instanceof Typed)) return v instanceof Date ? v.toISOString() : v;
  if (v.value === null) return null;
  switch (v.type) {
    case "timestamp":
      return (v.value as Date).toISOString();
    case "json":
      return JSON.stringify(v.value);
    default:
      return v.value;
  }
}

interface DataModel {
  models: Record<string, { fields: { name: string; kind: string; type: string }[] }>;
}
let dataModel: DataModel | undefined;
const decoders = new Map<string, { dates: string[]; json: string[]; bools: string[]; ints: string[] }>();

/** The generated client's data model (both clients share one), for decoding raw rows by column type. */
export function useDataModel(client: unknown): void {
  dataModel = (client as { _runtimeDataModel?: DataModel })._runtimeDataModel;
  decoders.clear();
}

function decoderFor(model: string) {
  let d = decoders.get(model);
  if (!d) {
    const fields = dataModel?.models[model]?.fields.filter((f) => f.kind !== "object");
    if (!fields) throw new Error(`unknown model ${model}`);
    const of = (type: string) => fields.filter((f) => f.type === type).map((f) => f.name);
    d = { dates: of("DateTime"), json: of("Json"), bools: of("Boolean"), ints: of("Int") };
    decoders.set(model, d);
  }
  return d;
}

/** A timestamp column's raw value: SQLite's ISO text (with offset), or PostgreSQL's zone-less UTC. */
function toDate(v: unknown): Date {
  if (v instanceof Date) return v;
  const text = String(v);
  return new Date(/(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text.replace(" ", "T")}Z`);
}

/** A raw row of `model` as Prisma would return it: Dates, parsed JSON, booleans, numbers for integers. */
export function decodeRow<T>(model: string, raw: Record<string, unknown>, dialect: Provider): T {
  const d = decoderFor(model);
  const row: Record<string, unknown> = { ...raw };
  for (const c of d.dates) if (row[c] != null) row[c] = toDate(row[c]);
  // SQLite keeps JSON as text; PostgreSQL's jsonb arrives parsed (a string there is a JSON string).
  if (dialect === "sqlite") for (const c of d.json) if (typeof row[c] === "string") row[c] = JSON.parse(row[c] as string);
  for (const c of d.bools) if (row[c] != null && typeof row[c] !== "boolean") row[c] = Boolean(row[c]);
  for (const c of d.ints) if (typeof row[c] === "bigint") row[c] = Number(row[c]);
  return row as T;
}

export interface SqlRunner {
  readonly dialect: Provider;
  /** Rows of a query (or of a statement's RETURNING). */
  all<T = Record<string, unknown>>(q: Sql): Promise<T[]>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(q: Sql): Promise<number>;
}

export interface SqlLane extends SqlRunner {
  /**
   * Runs fn in a transaction. fn must only run statements on the runner it gets (no other I/O):
   * on SQLite the transaction holds the connection for its whole length.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options?: { maxWait?: number; timeout?: number }): Promise<T>;
  /** Calls observer with the text of every statement the lane runs, until the returned function is called. */
  observe(observer: (text: string) => void): () => void;
}

// ---------------------------------------------------------------- SQLite

interface Statement {
  reader: boolean;
  readonly: boolean;
  all(params: unknown[]): unknown[];
  run(params: unknown[]): { changes: number };
  safeIntegers(on: boolean): Statement;
}
interface SqliteConnection {
  prepare(text: string): Statement;
  pragma(source: string, options?: { simple?: boolean }): unknown;
}
interface AdapterTransaction {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}
/** What the lane uses of @prisma/adapter-better-sqlite3's adapter (its connection and transactions). */
export interface SqliteAdapter {
  client: SqliteConnection;
  startTransaction(isolationLevel?: string): Promise<AdapterTransaction>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Lock retries on the next turn of the event loop before the timer back-off starts. */
const SPINS = 50;
const isBusy = (err: unknown) => typeof (err as { code?: unknown })?.code === "string" && (err as { code: string }).code.startsWith("SQLITE_BUSY");

/**
 * Makes every transaction on the adapter's connection (Prisma's and the lane's) start with BEGIN
 * IMMEDIATE, taken without blocking the event loop.
 *
 * The adapter BEGINs deferred: with another process writing (job workers, the CLI), a transaction
 * that reads first and writes later fails with SQLITE_BUSY once the other process committed in
 * between, since SQLite cannot upgrade a stale snapshot. IMMEDIATE takes the write lock up front.
 * And where SQLite's own busy handler would wait for the lock by sleeping inside the call (1, 2, 5,
 * 10 … 100 ms, the whole process frozen), this tries without waiting and retries on a timer, so
 * the process serves requests while it waits. Once the lock is held, the transaction's statements
 * never wait. Single statements outside transactions keep the busy timeout.
 */
export function immediateTransactions(adapter: SqliteAdapter, options: { maxWaitMs?: number } = {}): void {
  const connection = adapter.client;
  const maxWaitMs = options.maxWaitMs ?? 15_000;
  const prepare = connection.prepare.bind(connection);
  // The adapter's own BEGIN, once ours is in place: a statement that does nothing. Everything
  // else goes to the class's prepare as it is at the time of the call (tests count statements
  // by spying on it).
  let begun = false;
  connection.prepare = (text: string) => {
    if (text === "BEGIN" && begun) {
      begun = false;
      return { run: () => ({ changes: 0 }) } as unknown as Statement;
    }
    return (Object.getPrototypeOf(connection) as SqliteConnection).prepare.call(connection, text);
  };
  // Ours queues transactions in order; the adapter's mutex behind it is then never contended.
  let queue: Promise<void> = Promise.resolve();
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel?: string) => {
    let release!: () => void;
    const previous = queue;
    queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      const deadline = Date.now() + maxWaitMs;
      const timeout = connection.pragma("busy_timeout", { simple: true });
      for (let attempt = 0; ; attempt++) {
        connection.pragma("busy_timeout = 0");
        try {
          prepare("BEGIN IMMEDIATE").run([]);
          break;
        } catch (err) {
          if (!isBusy(err) || Date.now() > deadline) throw err;
        } finally {
          connection.pragma(`busy_timeout = ${Number(timeout)}`);
        }
        // The other process holds the lock for well under a millisecond per transaction: look again
        // as soon as this process's pending I/O has run, then back off to timers.
        await (attempt < SPINS ? new Promise((resolve) => setImmediate(resolve)) : sleep(Math.min(attempt - SPINS + 1, 5)));
      }
      begun = true;
      let tx: AdapterTransaction;
      try {
        tx = await startTransaction(isolationLevel);
      } catch (err) {
        begun = false;
        prepare("ROLLBACK").run([]);
        throw err;
      }
      const commit = tx.commit.bind(tx);
      const rollback = tx.rollback.bind(tx);
      tx.commit = () => commit().finally(release);
      tx.rollback = () => rollback().finally(release);
      return tx;
    } catch (err) {
      release();
      throw err;
    }
  };
}

type Observer = (text: string) => void;

class SqliteRunner implements SqlRunner {
  readonly dialect = "sqlite" as const;
  private readonly statements = new Map<string, Statement>();
  private readonly prepareOnce: (text: string) => Statement;
  constructor(
    readonly connection: SqliteConnection,
    private readonly observers: Set<Observer>,
  ) {
    // The class's own prepare, taken once: the lane prepares each text once and counts runs itself.
    const prepare = (Object.getPrototypeOf(connection) as SqliteConnection).prepare;
    this.prepareOnce = (text) => prepare.call(connection, text);
  }

  prepare(text: string): Statement {
    let st = this.statements.get(text);
    if (!st) {
      // The adapter turns safe integers on for the whole connection; the lane's columns fit in doubles.
      st = this.prepareOnce(text).safeIntegers(false);
      this.statements.set(text, st);
    }
    for (const o of this.observers) o(text);
    return st;
  }

  /** COMMIT, ROLLBACK: not statements of the caller's. */
  control(text: string): void {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.prepareOnce(text)));
    st.run([]);
  }

  writes(q: Sql): boolean {
    const text = compile(q, "sqlite").text;
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.prepareOnce(text).safeIntegers(false)));
    return !st.readonly;
  }

  all<T>(q: Sql): Promise<T[]> {
    try {
      const { text, params } = compile(q, "sqlite");
      const st = this.prepare(text);
      if (!st.reader) {
        st.run(params);
        return Promise.resolve([]);
      }
      return Promise.resolve(st.all(params) as T[]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  run(q: Sql): Promise<number> {
    try {
      const { text, params } = compile(q, "sqlite");
      return Promise.resolve(this.prepare(text).run(params).changes);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

export class SqliteLane implements SqlLane {
  readonly dialect = "sqlite" as const;
  private readonly observers = new Set<Observer>();
  private runner: SqliteRunner | undefined;
  private adapter: SqliteAdapter | undefined;

  /** `adapter` resolves with the adapter Prisma connected through (connecting when needed). */
  constructor(private readonly connect: () => Promise<SqliteAdapter>) {}

  private async current(): Promise<{ adapter: SqliteAdapter; runner: SqliteRunner }> {
    const adapter = await this.connect();
    if (adapter !== this.adapter || !this.runner) {
      this.adapter = adapter;
      this.runner = new SqliteRunner(adapter.client, this.observers);
    }
    return { adapter, runner: this.runner };
  }

  observe(observer: Observer): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /**
   * Statements on the connection as it is, for a caller inside a Prisma transaction: the one
   * connection is in that transaction, so they commit or roll back with it, at driver cost.
   */
  async inPrismaTransaction(): Promise<SqlRunner> {
    return (await this.current()).runner;
  }

  // A write outside a transaction becomes a transaction of its own: it then waits for the write
  // lock without blocking the process (see immediateTransactions).
  async all<T>(q: Sql): Promise<T[]> {
    const { runner } = await this.current();
    return runner.writes(q) ? this.transaction((tx) => tx.all<T>(q)) : runner.all<T>(q);
  }

  async run(q: Sql): Promise<number> {
    const { runner } = await this.current();
    return runner.writes(q) ? this.transaction((tx) => tx.run(q)) : runner.run(q);
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const { adapter, runner } = await this.current();
    // Takes the adapter's mutex and BEGINs: no Prisma transaction is open on the connection while
    // ours runs. The adapter's commit()/rollback() only release the mutex; the SQL is ours.
    const held = await adapter.startTransaction();
    let committed = false;
    try {
      const result = await fn(runner);
      runner.control("COMMIT");
      committed = true;
      return result;
    } finally {
      if (!committed) {
        try {
          runner.control("ROLLBACK");
        } catch {
          // Nothing open to roll back (the failure ended the transaction already).
        }
      }
      await held.commit();
    }
  }
}

// ---------------------------------------------------------------- through Prisma's raw queries

type RawClient = Pick<Db, "$queryRawUnsafe" | "$executeRawUnsafe">;

class PrismaRawRunner implements SqlRunner {
  constructor(
    private readonly client: RawClient,
    readonly dialect: Provider,
    protected readonly observers: Set<Observer> = new Set(),
  ) {}

  all<T>(q: Sql): Promise<T[]> {
    const { text, params } = compile(q, this.dialect);
    for (const o of this.observers) o(text);
    return this.client.$queryRawUnsafe<T[]>(text, ...params);
  }

  run(q: Sql): Promise<number> {
    const { text, params } = compile(q, this.dialect);
    for (const o of this.observers) o(text);
    return this.client.$executeRawUnsafe(text, ...params);
  }
}

/**
 * The lane over Prisma's raw queries: how PostgreSQL runs it (the pool and its transactions are
 * Prisma's), and a fallback for a SQLite client opened without access to its adapter.
 */
export class PrismaRawLane extends PrismaRawRunner implements SqlLane {
  constructor(
    private readonly db: Db,
    dialect: Provider,
  ) {
    super(db, dialect);
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options?: { maxWait?: number; timeout?: number }): Promise<T> {
    return this.db.$transaction((tx) => fn(new PrismaRawRunner(tx, this.dialect, this.observers)), options);
  }

  observe(observer: Observer): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }
}

/** Rows of `model` (a query or a RETURNING *), decoded as Prisma would return them. */
export async function rowsOf<T>(q: SqlRunner, model: string, stmt: Sql): Promise<T[]> {
  const raw = await q.all<Record<string, unknown>>(stmt);
  return raw.map((r) => decodeRow<T>(model, r, q.dialect));
}

/** A unique-constraint violation, whichever way it arrived: ORM (P2002), lane on SQLite or PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; meta?: { code?: unknown; driverAdapterError?: { cause?: { kind?: unknown } } } } | null;
  if (!e || typeof e !== "object") return false;
  if (e.code === "P2002") return true;
  if (typeof e.code === "string" && (e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY")) return true;
  // Prisma's raw-query failure wraps the database's own code (PostgreSQL 23505).
  return e.meta?.code === "23505" || e.meta?.driverAdapterError?.cause?.kind === "UniqueConstraintViolation";
}

/**
 * A runner for lane statements inside a Prisma interactive transaction, for writes that mix
 * lane helpers (appendEvent…) with ORM writes atomically, off the hot path.
 */
export function runnerIn(tx: RawClient, dialect: Provider): SqlRunner {
  return new PrismaRawRunner(tx, dialect);
}
