import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { PrivateKey } from "@libp2p/interface";
import { writeFileAtomic } from "./atomic-file.js";
import { IdentityError } from "./errors.js";

export const IDENTITY_FILE = "identity.key";

export interface Identity {
  privateKey: PrivateKey;
  peerId: string;
}

/**
 * Loads the node's Ed25519 key from `<dataDir>/identity.key`, creating it on first run, so the peer id stays
 * the same across restarts (peers and the cluster state refer to nodes by peer id).
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  const path = join(dataDir, IDENTITY_FILE);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (bytes !== undefined) return fromKey(decode(bytes, path));
  const privateKey = await generateKeyPair("Ed25519");
  await writeFileAtomic(path, privateKeyToProtobuf(privateKey), 0o600);
  return fromKey(privateKey);
}

function fromKey(privateKey: PrivateKey): Identity {
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() };
}

function decode(bytes: Uint8Array, path: string): PrivateKey {
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new IdentityError(`${path} is not a libp2p private key: ${(err as Error).message}`);
  }
  // A non-Ed25519 key would still work for libp2p, but would silently change what we promise (Ed25519 ids).
  if (key.type !== "Ed25519") throw new IdentityError(`${path} holds a ${key.type} key; expected Ed25519`);
  return key;
}
