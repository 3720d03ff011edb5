import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-file.js";
import { ClusterKeyError } from "./errors.js";

// A cluster key is the pre-shared secret of a private libp2p network (pnet): 32 random bytes, printed as
// `tsk_` + base64url so it survives copy-paste into a shell (`tessera start --join tsk_...`).

export const CLUSTER_KEY_FILE = "cluster.key";
export const CLUSTER_KEY_PREFIX = "tsk_";
const KEY_BYTES = 32;
const BODY = /^[A-Za-z0-9_-]{43}$/; // base64url of 32 bytes, unpadded

/** A new random cluster key in its printable form. */
export function generateClusterKey(): string {
  return CLUSTER_KEY_PREFIX + randomBytes(KEY_BYTES).toString("base64url");
}

/** The 32 secret bytes of a printable key; throws ClusterKeyError when it is malformed. */
export function parseClusterKey(text: string): Uint8Array {
  const s = text.trim();
  if (!s.startsWith(CLUSTER_KEY_PREFIX)) {
    throw new ClusterKeyError(`cluster key must start with "${CLUSTER_KEY_PREFIX}"`);
  }
  const body = s.slice(CLUSTER_KEY_PREFIX.length);
  if (!BODY.test(body)) {
    throw new ClusterKeyError(`cluster key must be "${CLUSTER_KEY_PREFIX}" followed by 43 base64url characters`);
  }
  const bytes = Buffer.from(body, "base64url");
  // 43 chars carry 258 bits; the last 2 must be zero, or two spellings would name one key.
  if (bytes.length !== KEY_BYTES || bytes.toString("base64url") !== body) {
    throw new ClusterKeyError("cluster key is not a canonical base64url encoding of 32 bytes");
  }
  return new Uint8Array(bytes);
}

/** The key in the v1 swarm-key file format that @libp2p/pnet's `preSharedKey({ psk })` expects. */
export function toSwarmKey(text: string): Uint8Array {
  const hex = Buffer.from(parseClusterKey(text)).toString("hex");
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`);
}

/**
 * A short, public tag of the key, sent in UDP announces so nodes skip clusters they could not join anyway.
 * 32 bits of a domain-separated SHA-256: enough to tell clusters apart, useless for finding the key.
 */
export function clusterHint(text: string): string {
  const h = createHash("sha256");
  h.update("tessera cluster hint v1\0");
  h.update(parseClusterKey(text));
  return h.digest("hex").slice(0, 8);
}

/** The hint used by open (keyless) nodes. */
export const OPEN_CLUSTER_HINT = "open";

/** The key stored in `<dataDir>/cluster.key`, or undefined when there is none. */
export async function loadClusterKey(dataDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, CLUSTER_KEY_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const key = text.trim();
  parseClusterKey(key);
  return key;
}

/** Stores the key (atomically, mode 0600) so a restarted node rejoins the same cluster. */
export async function saveClusterKey(dataDir: string, key: string): Promise<void> {
  parseClusterKey(key);
  await writeFileAtomic(join(dataDir, CLUSTER_KEY_FILE), key.trim() + "\n", 0o600);
}

/** The stored key, or a new one that is stored first; `created` tells the CLI to print the join hint. */
export async function loadOrCreateClusterKey(dataDir: string): Promise<{ key: string; created: boolean }> {
  const existing = await loadClusterKey(dataDir);
  if (existing !== undefined) return { key: existing, created: false };
  const key = generateClusterKey();
  await saveClusterKey(dataDir, key);
  return { key, created: true };
}
