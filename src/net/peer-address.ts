import { isIP } from "node:net";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { PeerAddressError } from "./errors.js";

/**
 * Parses a manual peer entry: a full multiaddr (`/ip4/10.0.0.2/tcp/4001[/p2p/<id>]`) or `host:port`, where host
 * is an IPv4 address, a bracketed IPv6 address (`[::1]:4001`) or a DNS name. Throws PeerAddressError otherwise.
 */
export function parsePeerAddress(entry: string): Multiaddr {
  const s = entry.trim();
  if (s.startsWith("/")) {
    let ma: Multiaddr;
    try {
      ma = multiaddr(s);
    } catch (err) {
      throw new PeerAddressError(`"${entry}" is not a valid multiaddr: ${(err as Error).message}`);
    }
    const names = ma.getComponents().map((c) => c.name);
    if (!names.includes("tcp")) throw new PeerAddressError(`"${entry}" has no /tcp/ part; Tessera peers use TCP`);
    return ma;
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (m === null) throw new PeerAddressError(`"${entry}" is neither host:port nor a multiaddr`);
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new PeerAddressError(`"${entry}": port must be 1..65535`);
  if (m[1] !== undefined && isIP(host) !== 6) throw new PeerAddressError(`"${entry}": [${host}] is not an IPv6 address`);
  const family = isIP(host);
  if (family === 4) return multiaddr(`/ip4/${host}/tcp/${port}`);
  if (family === 6) return multiaddr(`/ip6/${host}/tcp/${port}`);
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(host)) {
    throw new PeerAddressError(`"${entry}": "${host}" is not an IP address or host name`);
  }
  return multiaddr(`/dns/${host}/tcp/${port}`);
}
