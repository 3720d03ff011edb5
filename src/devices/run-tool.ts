// Runs an external probe (nvidia-smi, sysctl, ...) with a deadline. Never throws: a missing tool, a
// non-zero exit, a timeout or empty output all come back as a failure the caller turns into "unknown".
import { execFile } from "node:child_process";

export const DEFAULT_TOOL_TIMEOUT_MS = 3000;
/** Enough for every probe here; a tool printing more is misbehaving and is cut off. */
const MAX_OUTPUT_BYTES = 4 << 20;

export type ToolFailure = "missing" | "exit" | "timeout" | "empty" | "error";

export type ToolResult =
  | { readonly ok: true; readonly stdout: string }
  | { readonly ok: false; readonly failure: ToolFailure; readonly detail: string };

/** A command runner; profile collection takes one so tests can hand in a fake machine's tools. */
export type ToolRunner = (command: string, args: readonly string[]) => Promise<ToolResult>;

export function runTool(command: string, args: readonly string[], timeoutMs = DEFAULT_TOOL_TIMEOUT_MS): Promise<ToolResult> {
  return new Promise((resolve) => {
    try {
      execFile(command, args, { timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, encoding: "utf8", windowsHide: true }, (err, stdout) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          if (e.code === "ENOENT") resolve({ ok: false, failure: "missing", detail: `${command}: not installed` });
          else if (e.killed) resolve({ ok: false, failure: "timeout", detail: `${command}: no answer within ${timeoutMs} ms` });
          else if (typeof e.code === "number") resolve({ ok: false, failure: "exit", detail: `${command}: exited with status ${e.code}` });
          else resolve({ ok: false, failure: "error", detail: `${command}: ${e.message.split("\n")[0]}` });
          return;
        }
        if (stdout.trim() === "") resolve({ ok: false, failure: "empty", detail: `${command}: printed nothing` });
        else resolve({ ok: true, stdout });
      });
    } catch (e) {
      // execFile throws synchronously for some argument errors; still "unknown", never a crash.
      resolve({ ok: false, failure: "error", detail: `${command}: ${e instanceof Error ? e.message : String(e)}` });
    }
  });
}

export const defaultToolRunner: ToolRunner = (command, args) => runTool(command, args);
