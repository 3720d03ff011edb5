// One download of a file at a time: two pulls writing the same `.part` would interleave their bytes.
// The lock is a file created exclusively, holding the owner's pid; a lock whose process is gone (a
// crash) is taken over.
import { open, readFile, rm } from "node:fs/promises";
import { DownloadBusyError } from "./errors.js";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock at `path` for `what`; the returned function releases it. */
export async function acquireLock(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, "wx", 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
    }
    const pid = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
      throw new DownloadBusyError(`${what} is already being downloaded by process ${pid}${pid === process.pid ? " (this one)" : ""}; wait for it or stop it (lock ${path})`);
    }
    await rm(path, { force: true });
  }
}
