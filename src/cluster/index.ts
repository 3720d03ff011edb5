// The cluster core's public surface: the event and command vocabulary, the replicated state and its
// reducer, hashing, election rules, log ordering and the on-disk event log.
export * from "./errors.js";
export type { DeepReadonly } from "./readonly.js";
export * from "./bounded.js";
export * from "./events.js";
export * from "./commands.js";
export * from "./needs.js";
export * from "./holders.js";
export * from "./state.js";
export { apply, applyAll, assertNever } from "./apply.js";
export * from "./hash.js";
export * from "./election.js";
export * from "./log.js";
export { crc32 } from "./crc32.js";
export * from "./log-file.js";
