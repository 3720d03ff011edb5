import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePeerAddress } from "./peer-address.js";
import { PeerAddressError } from "./errors.js";
import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";

test("host:port forms become TCP multiaddrs", () => {
  assert.equal(parsePeerAddress("10.0.0.2:4001").toString(), "/ip4/10.0.0.2/tcp/4001");
  assert.equal(parsePeerAddress(" [::1]:4001 ").toString(), "/ip6/::1/tcp/4001");
  assert.equal(parsePeerAddress("gpu-box.local:52415").toString(), "/dns/gpu-box.local/tcp/52415");
});

test("multiaddrs pass through, with or without /p2p/", () => {
  const id = "12D3KooWBZgkXkmBGF9EMqhag6tkHeef96EvPm32X79ddkoLVEE8";
  assert.equal(parsePeerAddress("/ip4/127.0.0.1/tcp/9").toString(), "/ip4/127.0.0.1/tcp/9");
  assert.equal(parsePeerAddress(`/ip4/127.0.0.1/tcp/9/p2p/${id}`).toString(), `/ip4/127.0.0.1/tcp/9/p2p/${id}`);
});

test("garbage is rejected with PeerAddressError", () => {
  for (const bad of ["", "host", "host:", ":80", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:80:90", "[1.2.3.4]:80",
    "bad_host!:80", "/ip4/1.2.3.4", "/ip4/999.1.1.1/tcp/1", "/nonsense/x", "http://x:80"]) {
    assert.throws(() => parsePeerAddress(bad), PeerAddressError, JSON.stringify(bad));
  }
});

test("backoff doubles from 0.5 s to a 30 s cap, with bounded jitter", () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual([0, 1, 2, 3, 6, 7, 20, 1000].map((a) => backoffDelay(a, DEFAULT_BACKOFF, mid)),
    [500, 1000, 2000, 4000, 30_000, 30_000, 30_000, 30_000]);
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, () => 0), 400);
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, () => 1), 600);
  assert.equal(backoffDelay(9, DEFAULT_BACKOFF, () => 1), 36_000);
});
