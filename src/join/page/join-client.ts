// The page's side of joining: one WebSocket to the node that served the page. The node vouches for
// us in the cluster while the socket is open (heartbeats it relays), asks us to load layer ranges,
// and forwards pipeline steps for them; we answer with hidden states or sampled tokens.
import type { WebGpuBackend } from "../../engine/backends/webgpu/index.js";
import type { StageStep } from "../../shard/stage.js";
import { bytesToF32, decodeJoinFrame, encodeJoinFrame, f32ToBytes } from "../frame-codec.js";
import { NodeMessageSchema, type NodeMessage, type PageMessage, type PageOutput, type PageProfile } from "../messages.js";
import { loadPageStage, measureRate, openGpu, type PageStage } from "./engine.js";

export interface PageView {
  readonly deviceId?: string;
  readonly adapter?: string;
  readonly rateBytesPerSec?: number;
  readonly stages: readonly { readonly instanceId: string; readonly start: number; readonly end: number }[];
  readonly tokPerSec: number;
  readonly gpuBytes: number;
}

export interface JoinClientOptions {
  readonly url: string;
  readonly key: string;
  readonly secret: string;
  readonly name: string;
  onStatus(text: string, state: "starting" | "joined" | "left" | "error"): void;
  onView(view: PageView): void;
}

interface BatteryManagerLike {
  readonly level: number;
  readonly charging: boolean;
}

async function battery(): Promise<{ percent: number; charging: boolean } | undefined> {
  const nav = navigator as Navigator & { getBattery?: () => Promise<BatteryManagerLike> };
  if (!nav.getBattery) return undefined;
  try {
    const b = await nav.getBattery();
    return { percent: Math.round(b.level * 100), charging: b.charging };
  } catch {
    return undefined;
  }
}

/** Decode steps over the last few seconds give the tok/s the page shows. */
const SPEED_WINDOW_MS = 5_000;

export class JoinClient {
  private backend: WebGpuBackend | undefined;
  private socket: WebSocket | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly stages = new Map<string, PageStage>();
  /** Work for the GPU runs one message at a time, in arrival order (a sequence's steps must not race). */
  private work: Promise<void> = Promise.resolve();
  private readonly decodeTimes: number[] = [];
  private view: PageView = { stages: [], tokPerSec: 0, gpuBytes: 0 };
  private left = false;

  constructor(private readonly options: JoinClientOptions) {}

  async start(): Promise<void> {
    this.options.onStatus("Opening WebGPU…", "starting");
    this.backend = await openGpu();
    const adapter = this.backend.adapter;
    this.update({ adapter: `${adapter.description || adapter.vendor || "WebGPU adapter"} (${adapter.kind})` });
    this.options.onStatus("Measuring this GPU…", "starting");
    const rate = await measureRate(this.backend, adapter.kind === "cpu");
    this.update({ rateBytesPerSec: rate });
    const memory = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
    const bat = await battery();
    const clip = (s: string) => s.slice(0, 256);
    const profile: PageProfile = {
      adapter: {
        vendor: clip(adapter.vendor), architecture: clip(adapter.architecture), device: clip(adapter.device), description: clip(adapter.description),
        isFallbackAdapter: adapter.isFallbackAdapter === true, kind: adapter.kind, limits: adapter.limits, features: adapter.features,
      },
      q8_0BytesPerSec: rate,
      ...(typeof memory === "number" ? { deviceMemoryGiB: memory } : {}),
      ...(bat ? { battery: bat } : {}),
      userAgent: clip(navigator.userAgent),
    };
    this.options.onStatus("Joining the cluster…", "starting");
    await this.connect(profile);
  }

  private update(part: Partial<PageView>): void {
    this.view = { ...this.view, ...part };
    this.options.onView(this.view);
  }

  private connect(profile: PageProfile): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url);
      ws.binaryType = "arraybuffer";
      this.socket = ws;
      let welcomed = false;
      ws.onopen = () => this.send({ kind: "hello", key: this.options.key, secret: this.options.secret, name: this.options.name, profile });
      ws.onmessage = (e: MessageEvent) => {
        if (!(e.data instanceof ArrayBuffer)) return;
        let msg: NodeMessage;
        let payload: Uint8Array;
        try {
          const frame = decodeJoinFrame(new Uint8Array(e.data), 1 << 24);
          msg = NodeMessageSchema.parse(frame.header);
          payload = frame.payload;
        } catch (err) {
          this.options.onStatus(`The node sent a bad message: ${err instanceof Error ? err.message : String(err)}`, "error");
          return;
        }
        if (msg.kind === "welcome") {
          welcomed = true;
          this.update({ deviceId: msg.deviceId });
          this.options.onStatus(`Joined through node ${msg.nodeId.slice(-8)} as ${msg.deviceId}`, "joined");
          this.heartbeat = setInterval(() => void this.beat(), msg.heartbeatMs);
          return resolve();
        }
        if (msg.kind === "refused") {
          this.options.onStatus(`Refused: ${msg.message}`, "error");
          return reject(new Error(msg.message));
        }
        this.work = this.work.then(() => this.handle(msg, payload)).catch((err: unknown) => {
          this.options.onStatus(`Error: ${err instanceof Error ? err.message : String(err)}`, "error");
        });
      };
      ws.onclose = () => {
        clearInterval(this.heartbeat);
        if (!welcomed) reject(new Error("the node closed the connection"));
        else if (!this.left) this.options.onStatus("Disconnected from the node; reload to join again", "error");
      };
    });
  }

  private async beat(): Promise<void> {
    const bat = await battery();
    this.send({ kind: "heartbeat", ...(bat ? { battery: bat } : {}) });
  }

  private send(msg: PageMessage, payload?: Uint8Array): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(encodeJoinFrame(msg, payload));
  }

  private async handle(msg: NodeMessage, payload: Uint8Array): Promise<void> {
    switch (msg.kind) {
      case "load":
        return this.load(msg.instanceId, msg.start, msg.end);
      case "unload":
        this.stages.delete(msg.instanceId);
        return this.showStages();
      case "free":
        return this.stages.get(msg.instanceId)?.stage.free(msg.seq);
      case "run":
        return this.run(msg, payload);
      default:
        return;
    }
  }

  private async load(instanceId: string, start: number, end: number): Promise<void> {
    if (this.stages.has(instanceId)) return this.send({ kind: "loaded", instanceId, weightBytes: this.stages.get(instanceId)!.weightBytes });
    this.options.onStatus(`Loading layers ${start}–${end - 1} of ${instanceId}…`, "joined");
    try {
      const headers: Record<string, string> = this.options.key ? { "x-tessera-cluster-key": this.options.key } : {};
      const stage = await loadPageStage(this.backend!, `/join/model/${encodeURIComponent(instanceId)}`, headers, { start, end });
      this.stages.set(instanceId, stage);
      this.send({ kind: "loaded", instanceId, weightBytes: stage.weightBytes });
      this.options.onStatus(`Running layers ${start}–${end - 1} of ${instanceId}`, "joined");
    } catch (e) {
      this.send({ kind: "load-failed", instanceId, message: (e instanceof Error ? e.message : String(e)).slice(0, 1000) });
      this.options.onStatus(`Could not load ${instanceId}: ${e instanceof Error ? e.message : String(e)}`, "error");
    }
    this.showStages();
  }

  private showStages(): void {
    const stages = [...this.stages.entries()].map(([instanceId, s]) => ({ instanceId, start: s.range.start, end: s.range.end }));
    this.update({ stages, gpuBytes: [...this.stages.values()].reduce((n, s) => n + s.weightBytes, 0) });
  }

  private async run(msg: Extract<NodeMessage, { kind: "run" }>, payload: Uint8Array): Promise<void> {
    const stage = this.stages.get(msg.instanceId);
    const fail = (message: string): PageOutput[] => msg.steps.map((s) => ({ seq: s.seq, kind: "error", message }));
    if (!stage) return this.send({ kind: "ran", instanceId: msg.instanceId, id: msg.id, outputs: fail(`instance ${msg.instanceId} is not loaded on this page`) });
    const hidden = bytesToF32(payload);
    const dim = stage.config.dim;
    let at = 0;
    const steps: StageStep[] = msg.steps.map((s) => {
      if (s.tokens) return { seq: s.seq, pos: s.pos, nTok: s.nTok, input: s.tokens, sample: s.sample, open: s.open };
      const input = hidden.subarray(at, at + s.nTok * dim);
      at += s.nTok * dim;
      return { seq: s.seq, pos: s.pos, nTok: s.nTok, input, sample: s.sample, open: s.open };
    });
    const outputs = await stage.stage.run(steps);
    const now = performance.now();
    if (steps.every((s) => s.nTok === 1)) for (let i = 0; i < steps.length; i++) this.decodeTimes.push(now);
    while (this.decodeTimes.length > 0 && now - this.decodeTimes[0] > SPEED_WINDOW_MS) this.decodeTimes.shift();
    const chunks: Float32Array[] = [];
    const wire: PageOutput[] = outputs.map((o) => {
      if (o.kind !== "hidden") return o.kind === "error" ? { ...o, message: o.message.slice(0, 1000) } : o;
      chunks.push(o.hidden);
      return { seq: o.seq, kind: "hidden", values: o.hidden.length };
    });
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const all = new Float32Array(total);
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    this.send({ kind: "ran", instanceId: msg.instanceId, id: msg.id, outputs: wire }, f32ToBytes(all));
    const span = this.decodeTimes.length > 1 ? (now - this.decodeTimes[0]) / 1000 : 0;
    this.update({ tokPerSec: span > 0 ? (this.decodeTimes.length - 1) / span : 0 });
  }

  /** Leaves: the node tells the cluster this device left, then the socket closes. */
  leave(): void {
    this.left = true;
    this.send({ kind: "leave" });
    clearInterval(this.heartbeat);
    setTimeout(() => this.socket?.close(), 200);
    this.options.onStatus("Left the cluster", "left");
    void this.backend?.dispose();
  }
}
