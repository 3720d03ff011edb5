// Which instance serves a completion request's `model`, placing one when none exists. A model with no
// instance but a file the nodes can load (a path, or a name in --models-dir, as POST /instance takes
// it) is placed by the master's solver (PlaceInstance); the request waits, bounded, until every stage
// is ready. An instance that is still loading is waited for the same way.
import { createHash } from "node:crypto";
import { basename, isAbsolute } from "node:path";
import { runnerKey, type Instance } from "../cluster/index.js";
import { devicesFromState, linksFromState } from "../placement/from-state.js";
import type { PlaceInstanceCommand } from "../placement/place-instance.js";
import { place } from "../placement/solver.js";
import type { ModelNeeds, PlacementFailure } from "../placement/types.js";
import type { TesseraNode } from "../runtime/node.js";
import { instanceMatches, resolveModelFile, type RunnerManager } from "../runtime/runners.js";
import { HttpError } from "./http.js";
import { needsFor } from "./placement.js";

export interface ModelInstanceOptions {
  /** Longest wait for an instance (placed now or earlier) to become ready. */
  readonly readyWaitMs?: number;
  /** Longest wait for nodes that have not yet published the profile the solver needs. */
  readonly profileWaitMs?: number;
}

/** Loading a model's stages takes seconds to minutes; longer than this, the client is better told. */
export const DEFAULT_READY_WAIT_MS = 180_000;
/** A node publishes its measured profile a few seconds after it starts. */
export const DEFAULT_PROFILE_WAIT_MS = 30_000;
/** How long the master may take to record a PlaceInstance it accepted. */
const RECORD_WAIT_MS = 10_000;

/** The client went away while the request waited: there is no one left to answer. */
export class ClientGone extends Error {
  override readonly name = "ClientGone";
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new ClientGone("the client closed the connection"));
    const onAbort = () => {
      clearTimeout(t);
      reject(new ClientGone("the client closed the connection"));
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

/**
 * The id an automatic placement gets: the same on every node for the same model, so requests on several
 * nodes at once name one instance (the master ignores a second PlaceInstance for an existing id).
 * A bare name resolves in each node's models directory, so its file name identifies it; a path is hashed whole.
 */
export function autoInstanceId(model: string): string {
  const name = basename(model).replace(/\.gguf$/i, "");
  const key = isAbsolute(model) ? model : name;
  const slug = name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64) || "model";
  return `auto-${slug}-${createHash("sha256").update(key).digest("hex").slice(0, 8)}`;
}

const GB = 1e9;
const gb = (bytes: number) => `${(bytes / GB).toFixed(2)} GB`;

function doesNotFit(model: string, f: PlacementFailure): HttpError {
  return new HttpError(
    507,
    `model ${model} does not fit the cluster: it needs ${f.neededBytes} bytes (${gb(f.neededBytes)}), the usable devices have ${f.usableBytes} bytes (${gb(f.usableBytes)}): ${f.shortfallBytes} bytes short (${f.detail})`,
    "insufficient_storage",
    { code: "model_does_not_fit" },
  );
}

export class ModelInstances {
  private readonly placing = new Map<string, Promise<string>>();
  private readonly readyWaitMs: number;
  private readonly profileWaitMs: number;

  constructor(
    private readonly node: TesseraNode,
    private readonly runners: RunnerManager,
    options: ModelInstanceOptions = {},
  ) {
    this.readyWaitMs = options.readyWaitMs ?? DEFAULT_READY_WAIT_MS;
    this.profileWaitMs = options.profileWaitMs ?? DEFAULT_PROFILE_WAIT_MS;
  }

  /** A ready instance for `model`; places one when needed. Throws HttpError (404, 503, 507) or ClientGone. */
  async instanceFor(model: string, signal: AbortSignal): Promise<Instance> {
    const deadline = Date.now() + this.readyWaitMs;
    let name = model;
    for (;;) {
      const found = this.runners.findReady(name);
      if ("instance" in found) return found.instance;
      if (found.status === 404) {
        // Placed by this request (or a concurrent one) but not yet in this node's state: keep waiting.
        if (name !== model) {
          if (Date.now() > deadline) throw new HttpError(503, `instance ${name} for ${model} was not created in time`);
        } else {
          name = await this.placeOnce(model, signal);
          continue;
        }
      } else if (found.status === 507) {
        // Lost a stage and no placement is left: waiting will not help.
        throw new HttpError(507, found.error, "server_error", { code: "model_does_not_fit" });
      } else {
        const failed = this.failedRunner(name);
        if (failed) throw new HttpError(503, found.error, "server_error", { code: "instance_failed" });
        if (Date.now() > deadline) throw new HttpError(503, `${found.error} after waiting ${Math.round(this.readyWaitMs / 1000)} s`, "server_error", { code: "instance_not_ready" });
      }
      await sleep(100, signal);
    }
  }

  /** A runner of an instance `name` refers to that failed (it will not become ready by waiting). */
  private failedRunner(name: string): boolean {
    const state = this.node.state;
    return Object.values(state.instances)
      .filter((i) => instanceMatches(i, name))
      .some((i) => i.placement.some((p) => state.runners[runnerKey(i.instanceId, p.nodeId)]?.status === "failed"));
  }

  /**
   * One placement per model at a time from this node; concurrent requests share it. Returns the instance
   * id. The placement itself is bounded and goes on when the client that started it leaves, since
   * others may be waiting on it; each caller stops waiting when its own client leaves.
   */
  private placeOnce(model: string, signal: AbortSignal): Promise<string> {
    const id = autoInstanceId(model);
    let pending = this.placing.get(id);
    if (!pending) {
      pending = this.place(model, id, new AbortController().signal).finally(() => this.placing.delete(id));
      this.placing.set(id, pending);
    }
    const shared = pending;
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => reject(new ClientGone("the client closed the connection"));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private async place(model: string, instanceId: string, signal: AbortSignal): Promise<string> {
    if (this.node.state.instances[instanceId]) return instanceId;
    try {
      await resolveModelFile(model, this.runners.options.modelsDir);
    } catch (e) {
      throw new HttpError(404, `no instance serves model ${model}, and it is not a model file this node can load (${(e as Error).message})`, "invalid_request_error", { param: "model", code: "model_not_found" });
    }
    const needs = await needsFor(this.runners, { model });
    await this.waitForPlacement(model, needs, signal);
    const cmd: PlaceInstanceCommand = { type: "PlaceInstance", instanceId, model, needs };
    await this.node.submit(cmd);
    const deadline = Date.now() + RECORD_WAIT_MS;
    while (this.node.state.instances[instanceId] === undefined) {
      if (Date.now() > deadline) throw new HttpError(503, `the master did not place ${model} within ${RECORD_WAIT_MS / 1000} s (is a master elected? see its log)`);
      await sleep(25, signal);
    }
    return instanceId;
  }

  /**
   * Runs the solver on this node's copy of the state, as the master will. Nodes that have not published
   * a profile yet are waited for; a model that cannot fit is a 507 with the shortfall in bytes.
   */
  private async waitForPlacement(model: string, needs: ModelNeeds, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.profileWaitMs;
    for (;;) {
      const state = this.node.state;
      const { devices, unknown } = devicesFromState(state, needs.weightType);
      const result = place(needs, devices, linksFromState(state));
      if (result.ok) return;
      if (unknown.length === 0 || Date.now() > deadline) {
        if (result.reason === "does_not_fit") throw doesNotFit(model, result);
        const waiting = unknown.length > 0 ? `; ${unknown.length} node(s) have no measured profile yet` : "";
        throw new HttpError(503, `cannot place ${model}: ${result.reason}: ${result.detail}${waiting}`, "server_error", { code: "no_placement" });
      }
      await sleep(250, signal);
    }
  }
}
