// The page's side of joining: one WebSocket to the node that served the page. The node vouches for
// us in the cluster while the socket is open (heartbeats it relays), asks us to load layer ranges,
// and forwards pipeline steps for them; we answer with hidden states or sampled tokens. A socket lost
// after joining (the node restarted, Wi-Fi dropped) is opened again with a backoff and the same hello,
// so the device keeps its id; only Leave, a refusal or another tab taking over stop that.
import type { WebGpuBackend } from "../../engine/backends/webgpu/index.js";
import type { StageStep } from "../../shard/stage.js";
import { bytesToF32, decodeJoinFrame, encodeJoinFrame, f32ToBytes } from "../frame-codec.js";
import { NodeMessageSchema, REPLACED_CLOSE_CODE, type NodeMessage, type PageMessage, type PageOutput, type PageProfile } from "../messages.js";
import { loadPageStage, measureRate, openGpu, type PageStage } from "./engine.js";
import { ReconnectSchedule, shouldReconnect } from "./reconnect-policy.js";

export type JoinState = "starting" | "joined" | "reconnecting" | "left" | "error";

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
  onStatus(text: string, state: JoinState): void;
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
/**
 * A node silent this long (it beats every heartbeat period) is taken as gone even though the socket
 * still looks open: a node that vanished without a TCP close (Wi-Fi dropped, laptop lid shut) would
 * otherwise leave the page waiting for the browser's own timeout, minutes later.
 */
const NODE_SILENT_PERIODS = 12;
const NODE_SILENT_MIN_MS = 10_000;

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
  private profile: PageProfile | undefined;
  /** Welcomed at least once: from then on a lost socket is retried. */
  private joinedBefore = false;
  private readonly schedule = new ReconnectSchedule();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  /** Times this page has been welcomed (1 after the first join; each reconnection adds one). */
  welcomes = 0;

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
    this.profile = profile;
    this.options.onStatus("Joining the cluster…", "starting");
    await this.connect();
  }

  private update(part: Partial<PageView>): void {
    this.view = { ...this.view, ...part };
    this.options.onView(this.view);
  }

  /**
   * Opens a socket and says hello with the stored secret (so the device id stays the same). Resolves
   * once welcomed, or once a later try's loss has been handed to the retry schedule; rejects when a
   * first connection fails or the node refuses the page.
   */
  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url);
      ws.binaryType = "arraybuffer";
      this.socket = ws;
      let refused = false;
      // Until the welcome, the watchdog also covers a node that accepts the connection and never answers.
      this.lastHeard = performance.now();
      this.watch(ws, NODE_SILENT_MIN_MS, resolve, reject);
      ws.onopen = () => this.sendOn(ws, { kind: "hello", key: this.options.key, secret: this.options.secret, name: this.options.name, profile: this.profile! });
      ws.onmessage = (e: MessageEvent) => {
        // A socket replaced by a newer one has nothing more to say.
        if (this.socket !== ws || !(e.data instanceof ArrayBuffer)) return;
        this.lastHeard = performance.now();
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
          this.joinedBefore = true;
          this.welcomes++;
          this.schedule.reset();
          this.update({ deviceId: msg.deviceId });
          this.options.onStatus(`Joined through node ${msg.nodeId.slice(-8)} as ${msg.deviceId}`, "joined");
          clearInterval(this.heartbeat);
          this.heartbeat = setInterval(() => void this.beat(), msg.heartbeatMs);
          this.watch(ws, Math.max(NODE_SILENT_MIN_MS, NODE_SILENT_PERIODS * msg.heartbeatMs), resolve, reject);
          return resolve();
        }
        if (msg.kind === "beat") return;
        if (msg.kind === "refused") {
          refused = true;
          this.options.onStatus(`Refused: ${msg.message}`, "error");
          return reject(new Error(msg.message));
        }
        this.work = this.work.then(() => this.handle(ws, msg, payload)).catch((err: unknown) => {
          this.options.onStatus(`Error: ${err instanceof Error ? err.message : String(err)}`, "error");
        });
      };
      ws.onclose = (e: CloseEvent) => this.lost(ws, e.code, refused, resolve, reject);
    });
  }

  /** The socket `ws` is gone (closed, or abandoned as silent): retry, or say why not. */
  private lost(ws: WebSocket, code: number, refused: boolean, resolve: () => void, reject: (e: Error) => void): void {
    if (this.socket !== ws) return;
    this.socket = undefined;
    clearInterval(this.heartbeat);
    clearInterval(this.watchdog);
    // The node's runners for this page's stages died with the socket; after a rejoin it asks for
    // layers again, so what was loaded goes (its sequences' caches belong to the old runners).
    this.dropStages();
    if (this.left || refused) return;
    if (shouldReconnect({ code, left: this.left, refused, joinedBefore: this.joinedBefore })) {
      this.retryLater();
      return resolve();
    }
    if (code !== REPLACED_CLOSE_CODE) return reject(new Error("the node closed the connection"));
    this.options.onStatus("This device joined again from another tab or window, so this page stopped; reload it to take over.", "error");
    reject(new Error("another tab of this device took over"));
  }

  /** Abandons `ws` once the node has been silent for `silentMs` (see NODE_SILENT_PERIODS). */
  private watch(ws: WebSocket, silentMs: number, resolve: () => void, reject: (e: Error) => void): void {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (this.socket !== ws || performance.now() - this.lastHeard <= silentMs) return;
      // 1006: what the browser reports for a connection lost without a close frame.
      this.lost(ws, 1006, false, resolve, reject);
      ws.close();
    }, Math.min(silentMs, 2_000));
  }

  /** The next try after the schedule's pause, shown on the page as it counts. */
  private retryLater(): void {
    const delay = this.schedule.next();
    this.options.onStatus(`Lost the connection to the node; reconnecting in ${(delay / 1000).toFixed(1)} s (try ${this.schedule.attempts})…`, "reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.left) return;
      this.options.onStatus(`Reconnecting (try ${this.schedule.attempts})…`, "reconnecting");
      // A refusal has already been shown; nothing else is left to do with the error.
      this.connect().catch(() => undefined);
    }, delay);
  }

  private dropStages(): void {
    if (this.stages.size === 0) return;
    this.stages.clear();
    this.showStages();
  }

  private async beat(): Promise<void> {
    const bat = await battery();
    this.send({ kind: "heartbeat", ...(bat ? { battery: bat } : {}) });
  }

  private send(msg: PageMessage, payload?: Uint8Array): void {
    if (this.socket) this.sendOn(this.socket, msg, payload);
  }

  /**
   * Answers go on the socket the question came in on: an answer to a closed socket's question would
   * reach a newer session that never asked it (and that session would rightly end the page).
   */
  private sendOn(ws: WebSocket, msg: PageMessage, payload?: Uint8Array): void {
    if (ws === this.socket && ws.readyState === WebSocket.OPEN) ws.send(encodeJoinFrame(msg, payload));
  }

  private async handle(ws: WebSocket, msg: NodeMessage, payload: Uint8Array): Promise<void> {
    if (ws !== this.socket) return;
    switch (msg.kind) {
      case "load":
        return this.load(ws, msg.instanceId, msg.start, msg.end);
      case "unload":
        this.stages.delete(msg.instanceId);
        return this.showStages();
      case "free":
        return this.stages.get(msg.instanceId)?.stage.free(msg.seq);
      case "run":
        return this.run(ws, msg, payload);
      default:
        return;
    }
  }

  private async load(ws: WebSocket, instanceId: string, start: number, end: number): Promise<void> {
    const held = this.stages.get(instanceId);
    if (held && held.range.start === start && held.range.end === end) return this.sendOn(ws, { kind: "loaded", instanceId, weightBytes: held.weightBytes });
    this.options.onStatus(`Loading layers ${start}–${end - 1} of ${instanceId}…`, "joined");
    try {
      const headers: Record<string, string> = this.options.key ? { "x-tessera-cluster-key": this.options.key } : {};
      const stage = await loadPageStage(this.backend!, `/join/model/${encodeURIComponent(instanceId)}`, headers, { start, end });
      // Lost the socket while loading: the node that asked is gone, and a rejoin asks afresh.
      if (ws !== this.socket) return;
      this.stages.set(instanceId, stage);
      this.sendOn(ws, { kind: "loaded", instanceId, weightBytes: stage.weightBytes });
      this.options.onStatus(`Running layers ${start}–${end - 1} of ${instanceId}`, "joined");
    } catch (e) {
      this.sendOn(ws, { kind: "load-failed", instanceId, message: (e instanceof Error ? e.message : String(e)).slice(0, 1000) });
      this.options.onStatus(`Could not load ${instanceId}: ${e instanceof Error ? e.message : String(e)}`, "error");
    }
    this.showStages();
  }

  private showStages(): void {
    const stages = [...this.stages.entries()].map(([instanceId, s]) => ({ instanceId, start: s.range.start, end: s.range.end }));
    this.update({ stages, gpuBytes: [...this.stages.values()].reduce((n, s) => n + s.weightBytes, 0) });
  }

  private async run(ws: WebSocket, msg: Extract<NodeMessage, { kind: "run" }>, payload: Uint8Array): Promise<void> {
    const stage = this.stages.get(msg.instanceId);
    const fail = (message: string): PageOutput[] => msg.steps.map((s) => ({ seq: s.seq, kind: "error", message }));
    if (!stage) return this.sendOn(ws, { kind: "ran", instanceId: msg.instanceId, id: msg.id, outputs: fail(`instance ${msg.instanceId} is not loaded on this page`) });
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
    this.sendOn(ws, { kind: "ran", instanceId: msg.instanceId, id: msg.id, outputs: wire }, f32ToBytes(all));
    const span = this.decodeTimes.length > 1 ? (now - this.decodeTimes[0]) / 1000 : 0;
    this.update({ tokPerSec: span > 0 ? (this.decodeTimes.length - 1) / span : 0 });
  }

  /** Leaves: the node tells the cluster this device left, then the socket closes. */
  leave(): void {
    this.left = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    // While reconnecting there is no socket to say it on: the node already stopped vouching, so the
    // master times the device out instead of recording it as left.
    this.send({ kind: "leave" });
    clearInterval(this.heartbeat);
    setTimeout(() => this.socket?.close(), 200);
    this.options.onStatus("Left the cluster", "left");
    void this.backend?.dispose();
  }
}
