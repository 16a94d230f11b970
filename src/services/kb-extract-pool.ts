import { Worker } from "node:worker_threads";
import { unavailable } from "../errors.ts";
import type { ExtractRequest, ExtractResult } from "./kb-extract.ts";

// Worker threads for document extraction (kb-extract-worker.mjs). A worker has its own heap limit
// and each document a deadline: a file that exhausts either kills only its worker and is refused.
// Workers take one document at a time and are kept warm between uploads (loading pdf.js or mammoth
// costs a second), then retired when idle, after a number of documents, or after any failure.

export interface PoolOptions {
  /** Workers at once (each may use its whole heap). */
  size: number;
  /** Documents that may wait for a worker; beyond them the caller gets a 503. */
  maxWaiting: number;
  /** Per document, from hand-over to answer. */
  timeoutMs: number;
  heapMb: number;
  /** An idle worker exits after this long. */
  idleMs: number;
  jobsPerWorker: number;
}

interface Slot {
  worker: Worker;
  jobs: number;
  idleTimer?: NodeJS.Timeout;
}

type WorkerReply = { result: ExtractResult } | { error: string };

const WORKER_FILE = new URL("./kb-extract-worker.mjs", import.meta.url);

export class ExtractionPool {
  private readonly idle: Slot[] = [];
  /** Workers alive or being started, busy or idle. */
  private live = 0;
  /** Callers waiting for a turn: handed a warm worker, or null to start their own. */
  private readonly waiting: ((slot: Slot | null) => void)[] = [];

  constructor(private readonly options: PoolOptions) {}

  async run(req: ExtractRequest): Promise<ExtractResult> {
    const slot = await this.acquire();
    let healthy = false;
    try {
      const reply = await this.ask(slot, req);
      healthy = reply.healthy;
      return reply.result;
    } finally {
      this.release(slot, healthy);
    }
  }

  private async acquire(): Promise<Slot> {
    const warm = this.idle.pop();
    if (warm) return this.wake(warm);
    if (this.live < this.options.size) {
      this.live++;
      return this.spawn();
    }
    if (this.waiting.length >= this.options.maxWaiting) throw unavailable("Too many files are being processed; try again shortly");
    const handed = await new Promise<Slot | null>((resolve) => this.waiting.push(resolve));
    return handed ? this.wake(handed) : this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_FILE, {
      resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
    });
    return { worker, jobs: 0 };
  }

  private wake(slot: Slot): Slot {
    clearTimeout(slot.idleTimer);
    slot.worker.ref();
    return slot;
  }

  private release(slot: Slot, healthy: boolean) {
    const next = this.waiting.shift();
    if (healthy && slot.jobs < this.options.jobsPerWorker) {
      if (next) return next(slot);
      slot.worker.unref();
      slot.idleTimer = setTimeout(() => this.retire(slot), this.options.idleMs);
      slot.idleTimer.unref();
      this.idle.push(slot);
      return;
    }
    void slot.worker.terminate();
    if (next) next(null);
    else this.live--;
  }

  private retire(slot: Slot) {
    const i = this.idle.indexOf(slot);
    if (i < 0) return;
    this.idle.splice(i, 1);
    this.live--;
    void slot.worker.terminate();
  }

  private ask(slot: Slot, req: ExtractRequest): Promise<{ result: ExtractResult; healthy: boolean }> {
    slot.jobs++;
    const { worker } = slot;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      };
      const onMessage = (reply: WorkerReply) => {
        done();
        if ("result" in reply) resolve({ result: reply.result, healthy: true });
        else reject(new Error(`Document extraction failed: ${reply.error}`));
      };
      const onError = (err: Error & { code?: string }) => {
        done();
        if (err.code === "ERR_WORKER_OUT_OF_MEMORY") resolve({ result: { ok: false, message: "The file needs too much memory to process" }, healthy: false });
        else reject(err);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`The extraction worker exited (code ${code}) without an answer`));
      };
      const timer = setTimeout(() => {
        done();
        resolve({ result: { ok: false, message: `Processing the file took too long (more than ${this.options.timeoutMs / 1000} s)` }, healthy: false });
      }, this.options.timeoutMs);
      worker.on("message", onMessage).on("error", onError).on("exit", onExit);
      worker.postMessage(req);
    });
  }
}
