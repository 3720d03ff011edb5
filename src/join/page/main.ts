// The /join page: opens the browser's WebGPU, measures it, joins the cluster through the node that
// served the page (a WebSocket it relays for us), and runs whatever layer ranges the master places
// here. A lost connection is retried by the client (status "reconnecting") until the user leaves. It
// also exposes `tesseraPage.engineCheck` so tests can run layers without joining.
import { GREEDY_CHECK, engineCheck } from "./engine-check.js";
import { JoinClient, type JoinState } from "./join-client.js";
import { deviceSecret, joinKey } from "./device-id.js";

// The project compiles without the DOM library (it is a Node project), so the page declares the little
// of the DOM it touches.
interface PageElement {
  textContent: string | null;
  disabled: boolean;
  readonly dataset: Record<string, string | undefined>;
  addEventListener(type: "click", listener: () => void): void;
}
interface PageGlobals {
  readonly document: { getElementById(id: string): PageElement | null };
  readonly location: { readonly hash: string; readonly host: string; readonly protocol: string };
  tesseraPage?: { engineCheck: typeof engineCheck; greedy: typeof GREEDY_CHECK; client?: JoinClient };
}
const page = globalThis as unknown as PageGlobals;
const { location } = page;

const $ = (id: string): PageElement => {
  const el = page.document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

function status(text: string, state: JoinState = "starting"): void {
  $("status").textContent = text;
  $("status").dataset["state"] = state;
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

const hooks = { engineCheck, greedy: GREEDY_CHECK } as NonNullable<PageGlobals["tesseraPage"]>;
page.tesseraPage = hooks;

async function main(): Promise<void> {
  const key = joinKey(location.hash);
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.has("nojoin")) return status("Not joining (#nojoin): engine checks only.");
  const client = new JoinClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/join/socket`,
    key,
    secret: deviceSecret(),
    name: `browser ${navigator.platform || "device"}`.slice(0, 128),
    onStatus: (text, state) => status(text, state),
    onView: (v) => {
      $("device-id").textContent = v.deviceId ?? "–";
      $("adapter").textContent = v.adapter ?? "–";
      $("rate").textContent = v.rateBytesPerSec ? `${(v.rateBytesPerSec / 1e9).toFixed(3)} GB/s of Q8_0 weights` : "–";
      $("layers").textContent = v.stages.length === 0 ? "none yet" : v.stages.map((s) => `${s.instanceId}: layers ${s.start}–${s.end - 1}`).join("; ");
      $("speed").textContent = v.tokPerSec > 0 ? `${v.tokPerSec.toFixed(1)} tok/s (last decode steps)` : "–";
      $("memory").textContent = v.gpuBytes > 0 ? mib(v.gpuBytes) : "–";
    },
  });
  hooks.client = client;
  const leave = $("leave");
  leave.addEventListener("click", () => {
    leave.disabled = true;
    client.leave();
  });
  await client.start();
  leave.disabled = false;
}

main().catch((e: unknown) => status(`Could not join: ${e instanceof Error ? e.message : String(e)}`, "error"));
