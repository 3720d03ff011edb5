// The dashboard's wiring: load /state, follow /events, and redraw on each event (debounced, so a
// burst of events costs one /state read). The log keeps a node's telemetry only when it changes
// enough, so a slow refresh also picks up the newest samples between events.
/* global document, setTimeout, clearTimeout, setInterval */
import { apiJson, followEvents, apiKey, setApiKey } from "./api.js";
import { ChatPanel } from "./chat.js";
import { EventLog } from "./event-log.js";
import { renderDevices } from "./devices.js";
import { renderInstances } from "./instances.js";
import { renderTopology } from "./topology.js";
import { shortId } from "./format.js";
import { setupAddDevice } from "./add-device.js";

const REFRESH_DEBOUNCE_MS = 200;
const TELEMETRY_REFRESH_MS = 10_000;
/** How many past events the log shows when the page opens. */
const HISTORY_EVENTS = 200;
const START_RETRY_MS = 3000;

const $ = (id) => document.getElementById(id);

const view = {
  state: null,
  predictions: new Map(),
  measured: new Map(),
  apiModels: [],
  lastError: null,
};

function showError(err) {
  const box = $("error");
  box.hidden = !err;
  box.textContent = err ? String(err.message ?? err) : "";
}

function setConnection(state, err) {
  const badge = $("connection");
  badge.dataset.state = state;
  badge.textContent = state === "live" ? "live" : state === "lost" ? "disconnected" : "connecting";
  if (err) showError(err);
}

const chat = new ChatPanel({
  form: $("chat-form"), model: $("chat-model"), maxTokens: $("chat-max-tokens"), temperature: $("chat-temperature"),
  log: $("chat-log"), input: $("chat-input"), send: $("chat-send"), stop: $("chat-stop"), clear: $("chat-clear"),
}, (instanceId, measured) => {
  view.measured.set(instanceId, measured);
  render();
});
const events = new EventLog($("events"), $("events-quiet"));

function render() {
  const s = view.state;
  if (!s) return;
  const alive = Object.values(s.nodes).filter((n) => n.status === "alive").length;
  $("cluster-summary").textContent = `${alive} of ${Object.keys(s.nodes).length} devices alive · this node ${shortId(s.node_id)} · master ${s.master_id ? shortId(s.master_id) : "none"} · event #${s.last_event_index}`;
  renderTopology($("topology"), s);
  renderDevices($("devices"), s);
  renderInstances($("instances"), s, view.predictions, view.measured);
  const models = Object.values(s.instances).map((i) => ({ value: i.instanceId, label: `${i.instanceId} (${i.model.split(/[\\/]/).at(-1)})` }));
  for (const m of view.apiModels) models.push({ value: m, label: m });
  chat.setModels(models);
}

/** Reads /state and the predictions; `withModels` also asks /v1/models (not on every event: it may scan the models folder). */
async function refresh(withModels = false) {
  try {
    const [state, predictions, models] = await Promise.all([
      apiJson("/state"),
      apiJson("/instance/predictions").catch(() => ({ instances: [] })),
      withModels ? apiJson("/v1/models").catch(() => null) : null,
    ]);
    view.state = state;
    view.predictions = new Map(predictions.instances.map((p) => [p.instance_id, p]));
    if (models) view.apiModels = (models.data ?? []).map((m) => m.id).filter((id) => typeof id === "string");
    showError(null);
    render();
    return true;
  } catch (err) {
    view.lastError = err;
    showError(err);
    return false;
  }
}

let pending = null;
let modelsStale = false;
/** One refresh at most every REFRESH_DEBOUNCE_MS however fast events come. */
function refreshSoon() {
  pending ??= setTimeout(() => {
    pending = null;
    const withModels = modelsStale;
    modelsStale = false;
    void refresh(withModels);
  }, REFRESH_DEBOUNCE_MS);
}

let stopEvents = null;
let retry = null;
async function start() {
  clearTimeout(retry);
  stopEvents?.();
  stopEvents = null;
  if (!(await refresh(true))) {
    // A node that is still starting (or restarting) is tried again; a missing key waits for the form.
    if (view.lastError?.status !== 401) retry = setTimeout(() => void start(), START_RETRY_MS);
    return;
  }
  $("events").replaceChildren();
  const since = Math.max(0, view.state.last_event_index + 1 - HISTORY_EVENTS);
  let wasLost = false;
  stopEvents = followEvents(since, (e) => {
    events.add(view.state, e);
    if (e.event.type === "InstanceCreated" || e.event.type === "InstanceDeleted") modelsStale = true;
    if (e.index > view.state.last_event_index) refreshSoon();
  }, (status, err) => {
    setConnection(status, err);
    if (status === "lost") wasLost = true;
    if (status === "live" && wasLost) {
      wasLost = false;
      refreshSoon();
    }
  });
}

$("api-key").value = apiKey();
$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setApiKey($("api-key").value.trim());
  void start();
});
setupAddDevice($("add-device"), $("add-device-panel"), $("add-device-body"), $("add-device-close"));
setInterval(() => void refresh(true), TELEMETRY_REFRESH_MS);
void start();
