// An extraction worker of the pool in kb-extract-pool.ts: documents in, results out, one at a
// time. Plain JavaScript so that it starts under any loader: when the process already runs
// TypeScript through tsx (npm start), the extractor is imported directly; otherwise (vitest, whose
// transforms do not reach worker threads) through tsx's scoped import.
import { parentPort } from "node:worker_threads";

const EXTRACTOR = "./kb-extract.ts";

async function loadExtractor() {
  try {
    return await import(EXTRACTOR);
  } catch (err) {
    if (err?.code !== "ERR_UNKNOWN_FILE_EXTENSION") throw err;
    const { tsImport } = await import("tsx/esm/api");
    return tsImport(EXTRACTOR, import.meta.url);
  }
}

const { extractDocument } = await loadExtractor();

// Messages sent while the extractor loaded were queued on the port; they arrive now.
parentPort.on("message", async (req) => {
  try {
    parentPort.postMessage({ result: await extractDocument(req) });
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
