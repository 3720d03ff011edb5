// A pipeline stage that dies, and peers that misbehave: SIGKILL of the middle stage mid-generation
// ends the request with a clear error in bounded time and the state shows its runner failed; garbage
// and impostor frames on the pipeline protocol are refused without harming the node.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { peerIdFromString } from "@libp2p/peer-id";
import { encodeFrame, FramedStream, generateClusterKey } from "../net/index.js";
import { PIPELINE_LIMITS, PIPELINE_PROTOCOL, PipelineFrameSchema } from "../shard/protocol.js";
import { complete, completeStreaming, createInstance, nodeIds, runnersOf, untilReady } from "../testing/api-client.js";
import { ClusterClient } from "../testing/cluster-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, tempDir } from "../testing/paths.js";

test("killing the middle stage fails the stream clearly and marks its runner failed; hostile links are refused", { timeout: 180_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  let client: ClusterClient | undefined;
  try {
    const first = await startNode(join(tmp.dir, "n0"), ["--name", "n0", "--join", key, "--threads", "1"]);
    const nodes: RunningNode[] = [first];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), ["--name", `n${i}`, "--join", key, "--threads", "1", "--peer", `127.0.0.1:${first.port}`]));
    await until(nodes, agreed(3));
    const ids = await nodeIds(nodes);
    await createInstance(nodes[0], STORIES_260K, [{ node_id: ids[0], start: 0, end: 2 }, { node_id: ids[1], start: 2, end: 4 }, { node_id: ids[2], start: 4, end: 5 }], "three");
    await untilReady(nodes, ["three"]);

    // Hostile traffic on the pipeline protocol, from a member that holds no stage.
    client = await ClusterClient.connect(join(tmp.dir, "client"), key, `127.0.0.1:${first.port}`);
    await client.host.dial(`127.0.0.1:${nodes[1].port}`);
    await client.host.dial(`127.0.0.1:${nodes[2].port}`);
    const garbage = await client.host.node.dialProtocol(peerIdFromString(ids[1]), PIPELINE_PROTOCOL);
    garbage.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]));
    const impostor = new FramedStream(await client.host.node.dialProtocol(peerIdFromString(ids[1]), PIPELINE_PROTOCOL), PipelineFrameSchema, PIPELINE_LIMITS, ids[1]);
    const impostorClosed = new Promise<void>((resolve) => impostor.onClose(() => resolve()));
    // A well-formed hello claiming to be stage 0, from the wrong peer.
    await impostor.send({ kind: "hello", instanceId: "three", stage: 0 });
    await impostor.send({ kind: "step", seq: "evil", pos: 0, nTok: 1, sample: false }, new Uint8Array(64 * 4));
    const badJson = await client.host.node.dialProtocol(peerIdFromString(ids[2]), PIPELINE_PROTOCOL);
    badJson.send(encodeFrame({ kind: "hello", instanceId: "three", stage: "one" }));
    await impostorClosed;
    const healthy = await complete(nodes[1], "/v1/completions", { model: "three", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
    assert.equal(healthy.status, 200, "the instance still serves after the hostile links");
    assert.equal(healthy.tokens.length, 8);
    await client.host.stop();
    client = undefined;

    // A long generation, streamed through node 0 (the head); kill stage 1 once tokens flow.
    const victim = nodes[1];
    let killedAt = 0;
    const result = await completeStreaming(nodes[0], "/v1/completions", { model: "three", prompt: "Once upon a time", max_tokens: 1900, temperature: 0 }, (n) => {
      if (n === 5) {
        killedAt = Date.now();
        victim.proc.kill("SIGKILL");
      }
    });
    const endedAfter = Date.now() - killedAt;
    t.diagnostic(`stream ended ${endedAfter} ms after SIGKILL of the middle stage, after ${result.tokens.length} tokens: ${result.error}`);
    assert.ok(killedAt > 0, "the stream produced tokens before the kill");
    assert.match(result.error ?? "", /stage 1 of instance three .* was lost/);
    assert.ok(result.tokens.length < 1900);
    assert.notEqual(result.finishReason, "length");

    const survivors = [nodes[0], nodes[2]];
    const after = await until(survivors, (states) => states.every((s) => runnersOf(s)[`three#${ids[1]}`]?.status === "failed"));
    t.diagnostic(`runner of the killed stage: ${JSON.stringify(runnersOf(after[0])[`three#${ids[1]}`])}`);
    const refused = await complete(nodes[2], "/v1/completions", { model: "three", prompt: "x", max_tokens: 4 });
    assert.equal(refused.status, 503);
    assert.match(refused.error ?? "", /not ready/);
    for (const n of survivors) assert.equal(n.proc.exitCode, null);
  } finally {
    await client?.host.stop();
    await killAll();
    tmp.cleanup();
  }
});
