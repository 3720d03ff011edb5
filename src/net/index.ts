import "./polyfill.js"; // first, before anything that loads libp2p
export * from "./errors.js";
export * from "./identity.js";
export * from "./cluster-key.js";
export * from "./peer-address.js";
export * from "./backoff.js";
export * from "./topics.js";
export * from "./broadcast.js";
export { createHost, GOSSIPSUB_SETTINGS } from "./host.js";
export type { HostOptions, HostServices, PeerEvent, TesseraHost } from "./host.js";
export * from "./frames.js";
export * from "./framed-stream.js";
export * from "./stream-send.js";
