import "./polyfill.js"; // must stay first: libp2p 3 needs Promise.withResolvers, which Node 20 lacks
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify, type Identify } from "@libp2p/identify";
import { ping, type Ping } from "@libp2p/ping";
import { gossipsub, type GossipSub } from "@libp2p/gossipsub";
import { preSharedKey } from "@libp2p/pnet";
import { mdns } from "@libp2p/mdns";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { PeerId, PeerInfo } from "@libp2p/interface";
import type { ZodType } from "zod";
import { loadOrCreateIdentity } from "./identity.js";
import { clusterHint, OPEN_CLUSTER_HINT, parseClusterKey, toSwarmKey } from "./cluster-key.js";
import { NetConfigError } from "./errors.js";
import { parsePeerAddress } from "./peer-address.js";
import { ManualPeers } from "./redial.js";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff.js";
import { BroadcastDiscovery, type BroadcastOptions, type DiscoveredPeer } from "./broadcast.js";
import {
  ChannelRegistry,
  MAX_CHANNEL_BYTES,
  TOPIC_NAMES,
  wireTopic,
  type Channel,
  type ChannelOptions,
  type TopicName,
} from "./topics.js";

export interface HostOptions {
  /** Holds identity.key (the node's stable peer id). */
  dataDir: string;
  /** Default "0.0.0.0" (reachable on the LAN); tests use "127.0.0.1". */
  listenHost?: "127.0.0.1" | "0.0.0.0";
  /** TCP port; 0 (the default) lets the OS choose. */
  port?: number;
  /** The cluster's pre-shared key (`tsk_...`). Exactly one of clusterKey / open must be given. */
  clusterKey?: string;
  /** Run without a pre-shared key; such a node can only talk to other open nodes. */
  open?: boolean;
  /** mDNS discovery (multicasts on the LAN). Default false. */
  mdns?: boolean;
  /** UDP broadcast discovery; default off. */
  broadcast?: BroadcastOptions | false;
  /** Manual peers, `host:port` or multiaddr; dialled at start and redialled when lost. */
  peers?: string[];
  /** Redial backoff; default 0.5 s doubling to 30 s, ±20 % jitter. */
  redial?: Partial<BackoffPolicy>;
}

export type PeerEvent = { peerId: string; connected: boolean };

export interface TesseraHost {
  readonly peerId: string;
  /** Listen addresses including /p2p/<peerId>. */
  readonly multiaddrs: string[];
  /** The TCP port actually bound. */
  readonly port: number;
  /** Public tag of the cluster key (or "open"), as sent in UDP announces. */
  readonly clusterHint: string;
  /** Dials a `host:port` or multiaddr; resolves to the remote peer id. */
  dial(addr: string): Promise<string>;
  /** Peer ids with an open connection. */
  peers(): string[];
  /** Calls back on every peer connect/disconnect; returns an unsubscribe function. */
  onPeer(handler: (e: PeerEvent) => void): () => void;
  channel<T>(topic: TopicName, schema: ZodType<T>, opts?: ChannelOptions): Channel<T>;
  /** Peers known to be subscribed to a topic (useful to wait until a topic is ready). */
  topicPeers(topic: TopicName): string[];
  /** Peers in this node's gossipsub mesh for a topic (they get relayed messages without a gossip round). */
  meshPeers(topic: TopicName): string[];
  stop(): Promise<void>;
  /** The underlying libp2p node, for diagnostics and tests; prefer the methods above. */
  readonly node: Libp2p<HostServices>;
}

export interface HostServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
}

/**
 * Gossipsub tuned for clusters of 2–8 nodes: flood own messages to every subscribed peer (no reliance on a
 * formed mesh), allow publishing when alone, and a 500 ms heartbeat so meshes and gossip repair quickly.
 */
export const GOSSIPSUB_SETTINGS = {
  floodPublish: true,
  allowPublishToZeroTopicPeers: true,
  heartbeatInterval: 500,
  D: 8,
  Dlo: 2,
  Dhi: 12,
  emitSelf: false,
  // Room for the largest channel message plus the RPC framing, so an oversize message reaches our validator
  // (and is counted) instead of breaking the stream.
  maxInboundDataLength: 2 * MAX_CHANNEL_BYTES,
  allowedTopics: TOPIC_NAMES.map(wireTopic),
} as const;

export async function createHost(opts: HostOptions): Promise<TesseraHost> {
  const hasKey = opts.clusterKey !== undefined;
  const isOpen = opts.open === true;
  if (hasKey === isOpen) {
    throw new NetConfigError("give exactly one of clusterKey (a private cluster) or open: true");
  }
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new NetConfigError(`port must be 0..65535, got ${port}`);
  const listenHost = opts.listenHost ?? "0.0.0.0";
  if (listenHost !== "0.0.0.0" && listenHost !== "127.0.0.1") {
    throw new NetConfigError(`listenHost must be "0.0.0.0" or "127.0.0.1"`);
  }
  if (hasKey) parseClusterKey(opts.clusterKey as string);
  const manual: Multiaddr[] = (opts.peers ?? []).map(parsePeerAddress);
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...opts.redial };

  const identity = await loadOrCreateIdentity(opts.dataDir);
  const node = await createLibp2p<HostServices>({
    privateKey: identity.privateKey,
    addresses: { listen: [`/ip4/${listenHost}/tcp/${port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(hasKey ? { connectionProtector: preSharedKey({ psk: toSwarmKey(opts.clusterKey as string) }) } : {}),
    peerDiscovery: opts.mdns === true ? [mdns()] : [],
    connectionManager: {
      // Connections from this machine skip the per-host inbound rate limit (several local nodes, restarts).
      allow: ["/ip4/127.0.0.0/ipcidr/8"],
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({ ...GOSSIPSUB_SETTINGS, allowedTopics: [...GOSSIPSUB_SETTINGS.allowedTopics] }),
    },
  });

  let boundPort: number;
  try {
    boundPort = tcpPort(node);
  } catch (err) {
    await node.stop();
    throw err;
  }
  const hint = hasKey ? clusterHint(opts.clusterKey as string) : OPEN_CLUSTER_HINT;
  const channels = new ChannelRegistry(node.services.pubsub);
  const manualPeers = new ManualPeers(node, manual, policy);
  const peerHandlers = new Set<(e: PeerEvent) => void>();
  const emitPeer = (e: PeerEvent): void => {
    for (const h of peerHandlers) {
      try {
        h(e);
      } catch {
        // A listener's failure must not stop libp2p's event dispatch.
      }
    }
  };
  const onConnect = (evt: CustomEvent<PeerId>): void => emitPeer({ peerId: evt.detail.toString(), connected: true });
  const onDisconnect = (evt: CustomEvent<PeerId>): void =>
    emitPeer({ peerId: evt.detail.toString(), connected: false });
  node.addEventListener("peer:connect", onConnect);
  node.addEventListener("peer:disconnect", onDisconnect);

  const dialing = new Set<string>();
  const dialDiscovered = (peerId: string, addrs: Multiaddr[]): void => {
    if (peerId === identity.peerId || dialing.has(peerId) || isConnected(node, peerId) || addrs.length === 0) return;
    dialing.add(peerId);
    // Failures are expected (another cluster's node, a stale announce); the next announce retries.
    node
      .dial(addrs)
      .catch(() => undefined)
      .finally(() => dialing.delete(peerId));
  };
  const onDiscovery = (evt: CustomEvent<PeerInfo>): void => dialDiscovered(evt.detail.id.toString(), evt.detail.multiaddrs);
  node.addEventListener("peer:discovery", onDiscovery);

  let broadcast: BroadcastDiscovery | undefined;
  if (opts.broadcast !== undefined && opts.broadcast !== false) {
    broadcast = new BroadcastDiscovery({
      ...opts.broadcast,
      self: { peerId: identity.peerId, port: boundPort, clusterHint: hint },
      onPeer: (p: DiscoveredPeer) =>
        dialDiscovered(p.peerId, [multiaddr(`/ip4/${p.host}/tcp/${p.port}/p2p/${p.peerId}`)]),
    });
    try {
      await broadcast.start();
    } catch (err) {
      await node.stop();
      throw err;
    }
  }
  manualPeers.start();

  let stopped = false;
  return {
    peerId: identity.peerId,
    get multiaddrs() {
      return node.getMultiaddrs().map((m) => m.toString());
    },
    port: boundPort,
    clusterHint: hint,
    node,
    async dial(addr: string): Promise<string> {
      const conn = await node.dial(parsePeerAddress(addr));
      return conn.remotePeer.toString();
    },
    peers: () => node.getPeers().map((p) => p.toString()),
    onPeer(handler) {
      peerHandlers.add(handler);
      return () => peerHandlers.delete(handler);
    },
    channel: (topic, schema, channelOpts) => channels.channel(topic, schema, channelOpts),
    topicPeers: (topic) => node.services.pubsub.getSubscribers(wireTopic(topic)).map((p) => p.toString()),
    meshPeers: (topic) => {
      // getMeshPeers exists on the implementation but not on the exported GossipSub interface.
      const ps = node.services.pubsub as GossipSub & { getMeshPeers?: (t: string) => string[] };
      return ps.getMeshPeers?.(wireTopic(topic)) ?? [];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      manualPeers.stop();
      await broadcast?.stop();
      node.removeEventListener("peer:discovery", onDiscovery);
      channels.close();
      await node.stop();
      node.removeEventListener("peer:connect", onConnect);
      node.removeEventListener("peer:disconnect", onDisconnect);
      peerHandlers.clear();
    },
  };
}

function isConnected(node: Libp2p, peerId: string): boolean {
  return node.getPeers().some((p) => p.toString() === peerId);
}

/** The TCP port libp2p bound (the OS picks it when asked for port 0). */
function tcpPort(node: Libp2p): number {
  for (const ma of node.getMultiaddrs()) {
    const tcpPart = ma.getComponents().find((c) => c.name === "tcp");
    if (tcpPart?.value !== undefined) return Number(tcpPart.value);
  }
  throw new NetConfigError("libp2p reported no TCP listen address");
}
