// Named errors of the networking layer, so callers (the CLI) can tell a user mistake from a network fault.

/** Bad options given to createHost (both or neither of clusterKey/open, bad port, ...). */
export class NetConfigError extends Error {
  override name = "NetConfigError";
}

/** A cluster key that is not a well-formed `tsk_` key. */
export class ClusterKeyError extends Error {
  override name = "ClusterKeyError";
}

/** A manual peer entry that is neither `host:port` nor a multiaddr. */
export class PeerAddressError extends Error {
  override name = "PeerAddressError";
}

/** An identity file that exists but cannot be used. */
export class IdentityError extends Error {
  override name = "IdentityError";
}

/** A message the caller tried to publish that is over the channel's byte limit. */
export class MessageTooLargeError extends Error {
  override name = "MessageTooLargeError";
}

/** A message the caller tried to publish that fails the channel's schema. */
export class MessageInvalidError extends Error {
  override name = "MessageInvalidError";
}

/** A second channel on one topic with a different schema or limit. */
export class ChannelConflictError extends Error {
  override name = "ChannelConflictError";
}
