// The telemetry routes: GET /metrics (Prometheus text), GET /telemetry (the cluster at a glance and
// each alive node's latest sample) and GET /telemetry/:nodeId?window=SECONDS (that node's recent
// samples as this node applied them).
import type { ServerResponse } from "node:http";
import type { ClusterState } from "../cluster/state.js";
import { readGpus, readTelemetry } from "../devices/telemetry.js";
import { aggregateCluster } from "../runtime/telemetry-aggregate.js";
import type { TelemetryHistory } from "../runtime/telemetry-history.js";
import { error, json } from "./http.js";
import { ClusterMetrics } from "./metrics.js";

export const DEFAULT_WINDOW_S = 60;

export interface TelemetrySource {
  readonly state: ClusterState;
}

export class TelemetryApi {
  private readonly metrics = new ClusterMetrics();
  /** Beyond this age a node's latest sample is reported stale. */
  readonly staleMs: number;

  constructor(
    private readonly node: TelemetrySource,
    readonly history: TelemetryHistory,
    options: { readonly staleMs: number },
  ) {
    this.staleMs = options.staleMs;
  }

  /**
   * The state with each node's newest heard sample in place of its logged one: the log keeps telemetry
   * only when it changes enough (devices/telemetry-coalesce.ts), metrics and summaries want it fresh.
   */
  private liveState(): ClusterState {
    const state = this.node.state;
    let nodes = state.nodes;
    for (const [id, n] of Object.entries(state.nodes)) {
      const latest = this.history.latest(id);
      const loggedAt = n.telemetry?.["at"];
      if (latest && (typeof loggedAt !== "number" || latest.at > loggedAt)) nodes = { ...nodes, [id]: { ...n, telemetry: latest.telemetry } };
    }
    return nodes === state.nodes ? state : { ...state, nodes };
  }

  /** Answers a telemetry route; false when `path` is not one. */
  async handle(method: string, path: string, url: URL, res: ServerResponse): Promise<boolean> {
    const one = /^\/telemetry\/([^/]+)$/.exec(path);
    if (path !== "/metrics" && path !== "/telemetry" && !one) return false;
    if (method !== "GET") {
      error(res, 405, `${method} is not allowed on ${path}`);
      return true;
    }
    const now = Date.now();
    if (path === "/metrics") {
      const text = await this.metrics.render(this.liveState(), now, this.staleMs);
      res.writeHead(200, { "content-type": this.metrics.contentType, "content-length": Buffer.byteLength(text) });
      res.end(text);
    } else if (path === "/telemetry") {
      json(res, 200, this.summary(now));
    } else {
      let id: string;
      try {
        id = decodeURIComponent(one![1]);
      } catch {
        error(res, 400, "the node id is not valid percent-encoding");
        return true;
      }
      this.series(id, url, now, res);
    }
    return true;
  }

  private summary(now: number): unknown {
    const state = this.liveState();
    const nodes: Record<string, unknown> = {};
    for (const n of Object.values(state.nodes)) {
      const sample = readTelemetry(n.telemetry);
      nodes[n.id] = {
        name: n.name,
        status: n.status,
        telemetry: sample,
        gpus: readGpus(n.gpus),
        age_s: sample === null ? null : Math.max(0, (now - sample.at) / 1000),
        history_points: this.history.window(n.id, this.history.maxAgeMs / 1000, now).length,
      };
    }
    return { at: now, stale_after_s: this.staleMs / 1000, cluster: aggregateCluster(state, now, this.staleMs), nodes };
  }

  private series(nodeId: string, url: URL, now: number, res: ServerResponse): void {
    const text = url.searchParams.get("window") ?? String(DEFAULT_WINDOW_S);
    const maxS = this.history.maxAgeMs / 1000;
    const seconds = Number(text);
    if (text.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > maxS) {
      return error(res, 400, `window must be a number of seconds in (0, ${maxS}], got ${JSON.stringify(text)}`);
    }
    if (this.node.state.nodes[nodeId] === undefined && !this.history.has(nodeId)) return error(res, 404, `no node ${nodeId}`, "not_found");
    const points = this.history.window(nodeId, seconds, now).map((p) => ({
      at: p.at,
      received_at: p.receivedAt,
      telemetry: readTelemetry(p.telemetry),
      gpus: readGpus(p.gpus),
    }));
    json(res, 200, { node_id: nodeId, window_s: seconds, retained_s: maxS, max_points: this.history.maxPoints, points });
  }
}
