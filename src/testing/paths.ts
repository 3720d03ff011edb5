// Where tests find the shared reference data: ../shared beside the checkout, never a copy in the repo.
import { fileURLToPath } from "node:url";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Repository root, from dist/testing/ or src/testing/. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const STORIES_260K = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));
export const TESSERA_BIN = join(REPO_ROOT, "bin", "tessera.js");

/** The greedy text ../shared/models/SOURCE.md gives for stories260K (llama.cpp's output). */
export function stories260KExpectedText(): string {
  const source = readFileSync(STORIES_260K.replace(/stories260K\.gguf$/, "SOURCE.md"), "utf8");
  const block = /```\n(Once upon a time[^\n]*)\n```/.exec(source);
  if (!block) throw new Error("SOURCE.md no longer holds the expected greedy text in a code block");
  return block[1];
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = "tessera-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
