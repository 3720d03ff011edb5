// `tessera start`: runs a node until SIGINT/SIGTERM, then leaves the cluster cleanly.
import { homedir } from "node:os";
import { defaultThreads } from "../devices/default-threads.js";
import { join } from "node:path";
import { createApiServer, DEFAULT_API_PORT, listen } from "../api/server.js";
import { TelemetryApi } from "../api/telemetry.js";
import { LinkProber, DEFAULT_PROBE_INTERVAL_MS } from "../runtime/link-probe.js";
import { TesseraNode } from "../runtime/node.js";
import { RunnerManager } from "../runtime/runners.js";
import { DEFAULT_TELEMETRY_MS, followHistory, TelemetryPublisher } from "../runtime/telemetry.js";
import { apiKeyProblem } from "../api/auth.js";
import { CliError, isNonNegativeInt, numberFlag, parseFlags } from "./args.js";
import { START_CONFIG_KEYS, withConfig } from "./config.js";
import { parseByteSize } from "./byte-size.js";
import { isBackendChoice, type BackendChoice } from "../engine/backends/select.js";

export const START_USAGE = `tessera start [--name N] [--port P] [--api-port 52415] [--peer ADDR]... [--no-mdns] [--no-broadcast]
                [--data-dir DIR] [--join KEY | --open] [--force-master] [--listen 0.0.0.0|127.0.0.1]
                [--models-dir DIR] [--threads N] [--backend cpu|webgpu|auto] [--gpu N] [--max-memory SIZE] [--max-batch 16] [--step-timeout-ms 120000]
                [--telemetry-ms 2000] [--probe-ms 30000] [--rebalance-after-ms 20000]   (0 turns each off)
                [--api-key KEY]   (or TESSERA_API_KEY: the API then needs it and listens on all interfaces)`;

function backendFlag(text: string | undefined): BackendChoice {
  if (text === undefined) return "cpu";
  if (!isBackendChoice(text)) throw new CliError(`--backend must be cpu, webgpu or auto, got ${JSON.stringify(text)}`, 2);
  return text;
}

export async function startCommand(argv: string[]): Promise<number> {
  // Flags first, then TESSERA_* variables, then the YAML config file (config.ts).
  const f = withConfig(parseFlags(argv, {
    name: { type: "string" },
    port: { type: "string" },
    "api-port": { type: "string" },
    peer: { type: "string", multiple: true },
    "no-mdns": { type: "boolean" },
    "no-broadcast": { type: "boolean" },
    "data-dir": { type: "string" },
    join: { type: "string" },
    open: { type: "boolean" },
    "force-master": { type: "boolean" },
    listen: { type: "string" },
    "heartbeat-ms": { type: "string" },
    "master-timeout-ms": { type: "string" },
    "node-timeout-ms": { type: "string" },
    "models-dir": { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
    gpu: { type: "string" },
    "max-memory": { type: "string" },
    "rebalance-after-ms": { type: "string" },
    "max-batch": { type: "string" },
    "step-timeout-ms": { type: "string" },
    "telemetry-ms": { type: "string" },
    "probe-ms": { type: "string" },
    "api-key": { type: "string" },
  }), START_CONFIG_KEYS);
  const join_ = f.join ?? process.env.TESSERA_CLUSTER_KEY;
  if (join_ !== undefined && f.open) throw new CliError("--join and --open exclude each other", 2);
  const listenHost = f.listen ?? "0.0.0.0";
  // An empty TESSERA_API_KEY counts as unset; an empty --api-key is a mistake.
  const apiKey = f["api-key"] ?? (process.env.TESSERA_API_KEY || undefined);
  const keyProblem = apiKey === undefined ? undefined : apiKeyProblem(apiKey);
  if (keyProblem) throw new CliError(`--api-key: ${keyProblem}`, 2);
  if (listenHost !== "0.0.0.0" && listenHost !== "127.0.0.1") throw new CliError(`--listen must be 0.0.0.0 or 127.0.0.1`, 2);
  const ms = (flag: "heartbeat-ms" | "master-timeout-ms" | "node-timeout-ms") =>
    f[flag] === undefined ? undefined : numberFlag(f[flag], flag, 0, (n) => Number.isInteger(n) && n >= 50);
  const dataDir = f["data-dir"] ?? join(homedir(), ".tessera");
  const positive = (n: number) => Number.isInteger(n) && n >= 1;
  const runnerOptions = {
    modelsDir: f["models-dir"] ?? join(dataDir, "models"),
    threads: numberFlag(f.threads, "threads", defaultThreads(), positive),
    maxBatch: numberFlag(f["max-batch"], "max-batch", 16, (n) => positive(n) && n <= 256),
    stepTimeoutMs: numberFlag(f["step-timeout-ms"], "step-timeout-ms", 120_000, (n) => Number.isInteger(n) && n >= 100),
    backend: backendFlag(f.backend),
    ...(f.gpu !== undefined ? { gpu: numberFlag(f.gpu, "gpu", 0, isNonNegativeInt) } : {}),
  };
  // 0 turns telemetry (samples and the profile) or link probes off; anything else has a floor, so a
  // typo cannot flood the log.
  const telemetryMs = numberFlag(f["telemetry-ms"], "telemetry-ms", DEFAULT_TELEMETRY_MS, (n) => n === 0 || (Number.isInteger(n) && n >= 100));
  const probeMs = numberFlag(f["probe-ms"], "probe-ms", DEFAULT_PROBE_INTERVAL_MS, (n) => n === 0 || (Number.isInteger(n) && n >= 1000));
  // The most memory this node offers the cluster for weights and caches, e.g. to keep room for its owner.
  const maxMemoryText = f["max-memory"];
  const memoryLimitBytes = maxMemoryText === undefined ? undefined : parseByteSize(maxMemoryText);
  if (maxMemoryText !== undefined && (memoryLimitBytes === undefined || memoryLimitBytes <= 0)) {
    throw new CliError(`--max-memory must be a size such as 8GiB, 512M or a byte count, got ${JSON.stringify(maxMemoryText)}`, 2);
  }
  const node = await TesseraNode.start({
    dataDir,
    name: f.name,
    port: numberFlag(f.port, "port", 0, isNonNegativeInt),
    listenHost,
    peers: f.peer ?? [],
    mdns: f["no-mdns"] !== true,
    broadcast: f["no-broadcast"] !== true,
    clusterKey: join_,
    open: f.open === true,
    forceMaster: f["force-master"] === true,
    heartbeatMs: ms("heartbeat-ms"),
    masterTimeoutMs: ms("master-timeout-ms"),
    nodeTimeoutMs: ms("node-timeout-ms"),
    rebalanceAfterMs: numberFlag(f["rebalance-after-ms"], "rebalance-after-ms", 20_000, (n) => Number.isInteger(n) && n >= 0),
  });
  const runners = new RunnerManager(node, runnerOptions);
  await runners.start();
  // Chaos testing: with TESSERA_FAULT_INJECTION=1, SIGUSR2 crashes this node's stage threads.
  if (process.env.TESSERA_FAULT_INJECTION === "1") process.on("SIGUSR2", () => runners.injectCrash());
  const history = followHistory(node);
  // A node's sample counts as stale once three periods went by without a newer one.
  const telemetry = new TelemetryApi(node, history.history, { staleMs: 3 * (telemetryMs || DEFAULT_TELEMETRY_MS) });
  const server = createApiServer(node, runners, telemetry, { apiKey });
  // Without a key the API is for this machine only: anyone who can reach it could run the cluster.
  const apiHost = apiKey === undefined ? "127.0.0.1" : "0.0.0.0";
  const apiPort = await listen(server, numberFlag(f["api-port"], "api-port", DEFAULT_API_PORT, isNonNegativeInt), apiHost);
  const out = process.stdout;
  out.write(`tessera node ${node.nodeId} (${node.name})\n`);
  for (const a of node.host.multiaddrs) out.write(`  p2p ${a}\n`);
  if (apiKey === undefined) out.write(`  api http://127.0.0.1:${apiPort} (127.0.0.1 only: no API key is set; set one with --api-key or TESSERA_API_KEY to serve other machines)\n`);
  else out.write(`  api http://0.0.0.0:${apiPort} (all interfaces; every request but the dashboard's needs Authorization: Bearer <key>)\n`);
  if (node.clusterKey && node.clusterKeyCreated) out.write(`created a cluster key; to join another device run:\n  tessera start --join ${node.clusterKey}\n`);
  else if (node.clusterKey) out.write(`cluster key in ${f["data-dir"] ?? "~/.tessera"}; other devices join with: tessera start --join <key>\n`);
  else out.write(`open cluster: any device on the network may join\n`);
  out.write(`ready api=${apiPort} port=${node.host.port}\n`);
  // Started after "ready": the profile's benchmark and the first probes must not hold up the start.
  const publisher = telemetryMs > 0 ? new TelemetryPublisher(node, { periodMs: telemetryMs, dataDir, threads: runnerOptions.threads, memoryLimitBytes, backend: runnerOptions.backend, ...(runnerOptions.gpu !== undefined ? { gpu: runnerOptions.gpu } : {}) }) : undefined;
  await publisher?.start();
  const prober = probeMs > 0 ? new LinkProber(node, { intervalMs: probeMs }) : undefined;
  await prober?.start();

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  server.closeAllConnections();
  server.close();
  await prober?.stop();
  await publisher?.stop();
  history.stop();
  await runners.stop();
  await node.stop();
  return 0;
}
