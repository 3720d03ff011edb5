// GET /join-link: which addresses go in the join links (fixed interface tables), how a link carries the
// cluster key, and, on real `tessera start` nodes, that the route needs the API key when one is set,
// lists this machine's LAN addresses when the API listens on every interface, and only the loopback
// link (with a note) when it listens on 127.0.0.1. No request goes anywhere but 127.0.0.1.
import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { killAll, QUIET, startNode } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";
import { bindKind, joinHosts, joinLinks, JoinLinksSchema, joinUrl, lanAddresses, type InterfaceTable } from "./join-link.js";

const v4 = (address: string, internal = false) => ({ address, family: "IPv4", internal });
const v6 = (address: string, internal = false) => ({ address, family: "IPv6", internal });

/** A laptop on Wi-Fi with a docker bridge, a link-local leftover and IPv6 everywhere. */
const LAPTOP: InterfaceTable = {
  lo: [v4("127.0.0.1", true), v6("::1", true)],
  wlan0: [v4("192.168.1.23"), v6("fe80::1"), v6("2001:db8::23")],
  docker0: [v4("172.17.0.1")],
  eth1: [v4("169.254.10.3")],
  // Node 18.0–18.3 reported the family as a number.
  tun0: [{ address: "10.8.0.2", family: 4, internal: false }],
  // The same address on a second interface is listed once.
  br0: [v4("192.168.1.23")],
  gone: undefined,
};

test("lanAddresses keeps non-internal, non-link-local IPv4 addresses, in table order, once each", () => {
  assert.deepEqual(lanAddresses(LAPTOP), ["192.168.1.23", "172.17.0.1", "10.8.0.2"]);
  assert.deepEqual(lanAddresses({ lo: [v4("127.0.0.1", true), v6("::1", true)] }), []);
  assert.deepEqual(lanAddresses({}), []);
});

test("joinHosts: all interfaces list the LAN addresses (the request's own first); loopback and no network say why", () => {
  assert.deepEqual(joinHosts("0.0.0.0", LAPTOP), { hosts: ["192.168.1.23", "172.17.0.1", "10.8.0.2"], reachableFromLan: true });
  // The dashboard was opened at the tunnel's address: that one is the likeliest to work, so it leads.
  assert.deepEqual(joinHosts("0.0.0.0", LAPTOP, "::ffff:10.8.0.2").hosts, ["10.8.0.2", "192.168.1.23", "172.17.0.1"]);
  assert.deepEqual(joinHosts("::", LAPTOP, "10.8.0.2").hosts, ["10.8.0.2", "192.168.1.23", "172.17.0.1"]);
  // A request over loopback says nothing about the LAN: the table's order stands.
  assert.deepEqual(joinHosts("0.0.0.0", LAPTOP, "127.0.0.1").hosts, ["192.168.1.23", "172.17.0.1", "10.8.0.2"]);

  const local = joinHosts("127.0.0.1", LAPTOP, "127.0.0.1");
  assert.deepEqual(local.hosts, ["127.0.0.1"]);
  assert.equal(local.reachableFromLan, false);
  assert.match(local.note ?? "", /127\.0\.0\.1 only/);
  assert.match(local.note ?? "", /--api-key/);

  const offline = joinHosts("0.0.0.0", { lo: [v4("127.0.0.1", true)], eth1: [v4("169.254.10.3")] });
  assert.deepEqual(offline.hosts, ["127.0.0.1"]);
  assert.equal(offline.reachableFromLan, false);
  assert.match(offline.note ?? "", /no network address/);

  assert.deepEqual(joinHosts("192.168.1.23", LAPTOP), { hosts: ["192.168.1.23"], reachableFromLan: true });
  assert.deepEqual(["0.0.0.0", "::", "127.0.0.1", "127.0.1.1", "::1", "10.0.0.5"].map(bindKind), ["any", "any", "loopback", "loopback", "loopback", "one"]);
});

test("joinUrl puts the cluster key in the fragment, percent-encoded; an open cluster's link has none", () => {
  assert.equal(joinUrl("192.168.1.23", 52415, "tessera-abc_-x"), "http://192.168.1.23:52415/join#key=tessera-abc_-x");
  const odd = joinUrl("10.0.0.1", 8080, "a b&c=d#e");
  assert.equal(odd, "http://10.0.0.1:8080/join#key=a%20b%26c%3Dd%23e");
  assert.equal(new URLSearchParams(new URL(odd).hash.slice(1)).get("key"), "a b&c=d#e");
  assert.equal(joinUrl("127.0.0.1", 1, undefined), "http://127.0.0.1:1/join");
});

test("joinLinks: one link and QR code per host, in the documented shape", () => {
  const key = generateClusterKey();
  const body = JoinLinksSchema.parse(joinLinks(joinHosts("0.0.0.0", LAPTOP), 52415, key));
  assert.deepEqual(body.links.map((l) => l.address), ["192.168.1.23", "172.17.0.1", "10.8.0.2"]);
  assert.deepEqual(body.links.map((l) => l.url), ["192.168.1.23", "172.17.0.1", "10.8.0.2"].map((h) => `http://${h}:52415/join#key=${key}`));
  for (const l of body.links) assert.match(l.qr_svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 (\d+) \1">.*<path [^>]*d="M/s);
  // Different links make different codes.
  assert.notEqual(body.links[0].qr_svg, body.links[1].qr_svg);
  assert.equal(body.reachable_from_lan, true);
  assert.equal(body.open_cluster, false);
  assert.equal(body.note, undefined);

  const open = JoinLinksSchema.parse(joinLinks(joinHosts("127.0.0.1", LAPTOP), 9, undefined));
  assert.equal(open.open_cluster, true);
  assert.equal(open.links[0].url, "http://127.0.0.1:9/join");
  assert.ok(open.note);
});

test("GET /join-link on real nodes: needs the API key when one is set; LAN links when keyed, the loopback link and a note when not", { timeout: 90_000 }, async () => {
  const tmp = tempDir();
  const apiKey = "join-link-test-key";
  const clusterKey = generateClusterKey();
  try {
    const keyed = await startNode(join(tmp.dir, "keyed"), ["--name", "keyed", "--join", clusterKey, "--threads", "1", ...QUIET, "--api-key", apiKey]);
    const url = `http://127.0.0.1:${keyed.api}/join-link`;
    const without = await fetch(url);
    assert.equal(without.status, 401);
    const refusal = (await without.json()) as { error: { code: string } };
    assert.equal(refusal.error.code, "missing_api_key");
    assert.equal((await fetch(url, { headers: { authorization: "Bearer wrong" } })).status, 401);
    assert.equal((await fetch(url, { method: "POST", headers: { authorization: `Bearer ${apiKey}` } })).status, 405);

    const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
    assert.equal(res.status, 200);
    const body = JoinLinksSchema.parse(await res.json());
    // Keyed, the API listens on every interface: this machine's LAN addresses (or, with none, loopback and a note).
    const expected = joinHosts("0.0.0.0", networkInterfaces(), "127.0.0.1");
    assert.deepEqual(body.links.map((l) => l.address), expected.hosts);
    assert.equal(body.reachable_from_lan, expected.reachableFromLan);
    assert.equal(body.open_cluster, false);
    for (const link of body.links) {
      const u = new URL(link.url);
      assert.equal(u.protocol, "http:");
      assert.equal(u.hostname, link.address);
      assert.equal(u.port, String(keyed.api));
      assert.equal(u.pathname, "/join");
      assert.equal(new URLSearchParams(u.hash.slice(1)).get("key"), clusterKey, "the link carries the node's cluster key");
      assert.match(link.qr_svg, /^<svg[^>]*viewBox="0 0 \d+ \d+"/);
    }

    // No API key: loopback only, so the link is the loopback one and the note says how to open it up.
    const local = await startNode(join(tmp.dir, "local"), ["--name", "local", "--join", clusterKey, "--threads", "1", ...QUIET]);
    const localRes = await fetch(`http://127.0.0.1:${local.api}/join-link`);
    assert.equal(localRes.status, 200);
    const localBody = JoinLinksSchema.parse(await localRes.json());
    assert.deepEqual(localBody.links.map((l) => l.url), [`http://127.0.0.1:${local.api}/join#key=${clusterKey}`]);
    assert.equal(localBody.reachable_from_lan, false);
    assert.match(localBody.note ?? "", /--api-key/);
    // The loopback link opens the join page.
    const page = await fetch(localBody.links[0].url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
