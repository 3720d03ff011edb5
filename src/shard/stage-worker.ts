// Worker-thread entry for a pipeline stage: the shard's forward passes run here so that a long prompt
// chunk never blocks the node's event loop (heartbeats, elections and links keep flowing).
import { parentPort, workerData } from "node:worker_threads";
import { createBackend } from "../engine/backends/select.js";
import { loadShard, type LoadedShard } from "./shard.js";
import { Stage } from "./stage.js";
import type { StageThreadInit, ToStage, FromStage } from "./stage-thread.js";

const port = parentPort!;
const init = workerData as StageThreadInit;
let shard: LoadedShard | undefined;
let stage: Stage | undefined;

function reply(msg: FromStage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function load(): Promise<void> {
  try {
    const backend = await createBackend({ backend: init.backend ?? "cpu", threads: init.threads, ...(init.gpu !== undefined ? { gpu: init.gpu } : {}) });
    shard = await loadShard({ modelPath: init.modelPath, range: init.range }, backend);
    stage = new Stage(shard.transformer);
    reply({ kind: "loaded", weightBytes: shard.weightBytes });
  } catch (e) {
    reply({ kind: "load-failed", message: e instanceof Error ? e.message : String(e) });
  }
}

port.on("message", (msg: ToStage) => {
  void (async () => {
    if (msg.kind === "run") {
      const outputs = await stage!.run(msg.steps);
      const transfer = outputs.flatMap((o) => (o.kind === "hidden" ? [o.hidden.buffer as ArrayBuffer] : []));
      reply({ kind: "ran", id: msg.id, outputs }, transfer);
    } else if (msg.kind === "crash") {
      // Chaos testing only (TESSERA_FAULT_INJECTION=1): die of an uncaught error, as a bug or a failed
      // allocation would, while the node itself stays up.
      if (process.env.TESSERA_FAULT_INJECTION === "1") setImmediate(() => { throw new Error("injected fault: stage thread crash"); });
    } else if (msg.kind === "free") {
      stage?.free(msg.seq);
    } else {
      await shard?.transformer.backend.dispose?.();
      reply({ kind: "closed" });
      port.close();
    }
  })();
});

void load();
