// GET /join-link: the links a phone or laptop on the LAN opens to join this cluster as a browser device
// (`http://<address>:<api port>/join#key=<cluster key>`), each with a QR code, for the dashboard's
// "Add a device" panel. It carries the cluster key, so it sits behind the API key like every data
// route (it is not under /join, whose routes bypass the API key). Which addresses are listed follows
// from where the API listens: on all interfaces (a key is set) every non-internal IPv4 address of this
// machine; on 127.0.0.1 only the loopback link, with a note saying why nothing else can reach it.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { networkInterfaces } from "node:os";
import { renderSVG } from "uqr";
import { z } from "zod";
import { error, json } from "./http.js";

export const JOIN_LINK_PATH = "/join-link";

/** One way to reach this node's /join page. */
export const JoinLinkSchema = z.strictObject({
  /** The IPv4 address (or 127.0.0.1) in the link. */
  address: z.string().min(1),
  /** The join link, with the cluster key in its fragment (a fragment never reaches any server). */
  url: z.string().url(),
  /** The link as a QR code: an SVG document, black modules on white. */
  qr_svg: z.string().startsWith("<svg"),
});

/** The body of GET /join-link. */
export const JoinLinksSchema = z.strictObject({
  /** Most likely first: the address the request itself came in on, when it is one of them. */
  links: z.array(JoinLinkSchema),
  /** Whether devices other than this machine can open the links (the API listens beyond loopback). */
  reachable_from_lan: z.boolean(),
  /** An open cluster (started with --open) has no key: its links carry none. */
  open_cluster: z.boolean(),
  /** Why the links may not work from another device, and what to do about it. */
  note: z.string().optional(),
});
export type JoinLinks = z.infer<typeof JoinLinksSchema>;

/** os.networkInterfaces()'s shape, reduced to what is read, so tests can hand in fixed tables. */
export interface InterfaceAddress {
  readonly address: string;
  readonly family: string | number;
  readonly internal: boolean;
}
export type InterfaceTable = Readonly<Record<string, readonly InterfaceAddress[] | undefined>>;

const isIpv4 = (a: InterfaceAddress): boolean => a.family === "IPv4" || a.family === 4;
/** 169.254/16 is what a machine gives itself when no DHCP answered: no phone on the LAN shares it. */
const isLinkLocal = (address: string): boolean => address.startsWith("169.254.");

/** This machine's addresses a device on the LAN could use: non-internal, non-link-local IPv4, in table order, once each. */
export function lanAddresses(table: InterfaceTable): string[] {
  const out: string[] = [];
  for (const entries of Object.values(table)) {
    for (const a of entries ?? []) {
      if (isIpv4(a) && !a.internal && !isLinkLocal(a.address) && !out.includes(a.address)) out.push(a.address);
    }
  }
  return out;
}

/** Where the API listens: all interfaces, loopback only, or one address. */
export function bindKind(bind: string): "any" | "loopback" | "one" {
  if (bind === "0.0.0.0" || bind === "::") return "any";
  if (bind.startsWith("127.") || bind === "::1" || bind === "localhost") return "loopback";
  return "one";
}

/** A socket's local address as IPv4 text (an IPv4 connection to a dual-stack socket reads `::ffff:a.b.c.d`). */
function plainIpv4(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:/, "");
}

export interface JoinHosts {
  readonly hosts: readonly string[];
  readonly reachableFromLan: boolean;
  readonly note?: string;
}

const LOOPBACK_NOTE = "This node's API listens on 127.0.0.1 only (no API key is set), so other devices cannot open this link; "
  + "it works in a browser on this machine. To add a phone or another computer, restart the node with --api-key KEY "
  + "(or TESSERA_API_KEY): the API then listens on every interface and this panel lists the LAN addresses.";
const NO_LAN_NOTE = "This machine has no network address other than loopback, so other devices cannot reach it yet; "
  + "connect it to the same network as the device you want to add, then open this panel again.";

/**
 * The hosts to put in join links. `bind` is the address the API server listens on; `requestAddress`
 * the local address a request reached (the dashboard's own host is the address most likely to work
 * from the same LAN, so it goes first when it is one of the listed ones).
 */
export function joinHosts(bind: string, table: InterfaceTable, requestAddress?: string): JoinHosts {
  const kind = bindKind(bind);
  if (kind === "loopback") return { hosts: ["127.0.0.1"], reachableFromLan: false, note: LOOPBACK_NOTE };
  if (kind === "one") return { hosts: [bind], reachableFromLan: true };
  const lan = lanAddresses(table);
  if (lan.length === 0) return { hosts: ["127.0.0.1"], reachableFromLan: false, note: NO_LAN_NOTE };
  const first = plainIpv4(requestAddress);
  const ordered = first !== undefined && lan.includes(first) ? [first, ...lan.filter((a) => a !== first)] : lan;
  return { hosts: ordered, reachableFromLan: true };
}

/** `http://host:port/join`, with `#key=<cluster key>` when the cluster has a key. */
export function joinUrl(host: string, port: number, clusterKey: string | undefined): string {
  const base = `http://${host}:${port}/join`;
  return clusterKey === undefined ? base : `${base}#key=${encodeURIComponent(clusterKey)}`;
}

/** The whole answer: one link and QR code per host. */
export function joinLinks(hosts: JoinHosts, port: number, clusterKey: string | undefined): JoinLinks {
  const links = hosts.hosts.map((address) => {
    const url = joinUrl(address, port, clusterKey);
    // Medium error correction: phone cameras read it off a screen at an angle or with glare.
    return { address, url, qr_svg: renderSVG(url, { ecc: "M", border: 2, pixelSize: 8 }) };
  });
  return { links, reachable_from_lan: hosts.reachableFromLan, open_cluster: clusterKey === undefined, ...(hosts.note ? { note: hosts.note } : {}) };
}

/** Answers GET /join-link for `server` (authorized by the caller). */
export function serveJoinLink(server: Server, clusterKey: string | undefined, req: IncomingMessage, res: ServerResponse): void {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") return error(res, 405, `${method} is not allowed on ${JOIN_LINK_PATH}`);
  const bound = server.address();
  if (bound === null || typeof bound === "string") return error(res, 500, "the API server is not listening on a TCP port");
  const hosts = joinHosts(bound.address, networkInterfaces(), req.socket.localAddress);
  return json(res, 200, joinLinks(hosts, bound.port, clusterKey));
}
