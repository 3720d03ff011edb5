// The page's identity in the cluster: a random secret kept in localStorage (so a reloaded tab comes
// back as the same device), from which the node derives the public device id. Only the node that
// receives the secret can tie a reconnecting tab to its id; other pages cannot claim it without it.
const STORAGE_KEY = "tessera-device-secret";

export function deviceSecret(): string {
  let secret: string | null = null;
  try {
    secret = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage may be off (private mode): a fresh secret per visit still works, as a new device.
  }
  if (secret && /^[0-9a-f]{64}$/.test(secret)) return secret;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  secret = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  try {
    localStorage.setItem(STORAGE_KEY, secret);
  } catch {
    // See above.
  }
  return secret;
}

/** The cluster key from the join link's fragment (`/join#key=...`), which never reaches a server. */
export function joinKey(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, "")).get("key") ?? "";
}
