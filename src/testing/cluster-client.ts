// A bare cluster member for tests and benchmarks: a keyed libp2p host that can propose events to the
// master (as any node may) and publish raw bytes on any topic, the way a hostile member could.
import { createHost, wireTopic, type TesseraHost, type TopicName } from "../net/index.js";
import { LocalEventsSchema, type LocalEvents } from "../runtime/messages.js";
import type { Event } from "../cluster/index.js";

export class ClusterClient {
  private constructor(readonly host: TesseraHost) {}

  static async connect(dataDir: string, clusterKey: string, peer: string): Promise<ClusterClient> {
    const host = await createHost({ dataDir, listenHost: "127.0.0.1", port: 0, clusterKey, peers: [peer] });
    const client = new ClusterClient(host);
    const deadline = Date.now() + 20_000;
    while (host.topicPeers("local_events").length === 0) {
      if (Date.now() > deadline) throw new Error("cluster client: no peer subscribed to local_events");
      await new Promise((r) => setTimeout(r, 100));
    }
    return client;
  }

  /** Proposes events on local_events; the master sequences them. */
  async propose(events: readonly Event[]): Promise<void> {
    const channel = this.host.channel("local_events", LocalEventsSchema, { maxBytes: 256 * 1024 });
    await channel.publish({ origin: this.host.peerId, events: [...events] } as LocalEvents);
  }

  /** Publishes bytes unchecked, bypassing every local validation. */
  async publishRaw(topic: TopicName, bytes: Uint8Array): Promise<void> {
    await this.host.node.services.pubsub.publish(wireTopic(topic), bytes);
  }

  stop(): Promise<void> {
    return this.host.stop();
  }
}
