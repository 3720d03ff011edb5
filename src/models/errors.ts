// Named errors of the model store. Each message is one line a user can act on; the CLI prints it as is.

/** A model name or path that does not name anything usable. */
export class ModelRefError extends Error {
  override readonly name = "ModelRefError";
}

/** The named model is not in the models directory (or at the path given). */
export class ModelNotFoundError extends Error {
  override readonly name = "ModelNotFoundError";
}

/** The Hub answered with an error, an unexpected shape, or something this client cannot use. */
export class HubError extends Error {
  override readonly name = "HubError";
  constructor(
    message: string,
    /** The HTTP status, when the error came from one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The transfer stopped before the whole file arrived; the `.part` file keeps what did, for a resume. */
export class DownloadInterruptedError extends Error {
  override readonly name = "DownloadInterruptedError";
  constructor(
    message: string,
    readonly receivedBytes: number,
    readonly totalBytes: number,
  ) {
    super(message);
  }
}

/** The downloaded bytes do not hash to what the Hub published; nothing was kept. */
export class ChecksumMismatchError extends Error {
  override readonly name = "ChecksumMismatchError";
}

/** The disk (or quota, or file size limit) has no room left; the `.part` file is kept for a resume. */
export class DiskFullError extends Error {
  override readonly name = "DiskFullError";
  constructor(
    message: string,
    /** Bytes still to write when the disk filled up. */
    readonly neededBytes: number,
    /** Bytes free to this user on the models directory's filesystem, when known. */
    readonly availableBytes: number | undefined,
  ) {
    super(message);
  }
}

/** Another process is downloading the same file into the same models directory. */
export class DownloadBusyError extends Error {
  override readonly name = "DownloadBusyError";
}

/** The models directory (or a folder in it) cannot be written: permissions or a read-only filesystem. */
export class ModelsDirNotWritableError extends Error {
  override readonly name = "ModelsDirNotWritableError";
}
