// The complete models a holder serves, looked up by manifest sha256 or whole-file sha256. Requests name
// a model only by such an id, never by a path, so a peer can reach no file the node did not add here.
import { resolve } from "node:path";
import { loadOrCreateManifest, type ManifestRecord } from "./tensor-manifest.js";

export interface HeldModel {
  readonly path: string;
  readonly record: ManifestRecord;
}

/** What the range server needs: an id to a held model, or nothing. */
export interface ModelLookup {
  find(id: string): HeldModel | undefined;
}

export class ModelCatalog implements ModelLookup {
  private readonly byPath = new Map<string, HeldModel>();
  private readonly byId = new Map<string, HeldModel>();

  /** Adds a complete model (computing its manifest on first use); returns its manifest record. */
  async add(path: string): Promise<ManifestRecord> {
    const full = resolve(path);
    const record = await loadOrCreateManifest(full);
    this.remove(full);
    const held = { path: full, record };
    this.byPath.set(full, held);
    this.byId.set(record.sha256, held);
    this.byId.set(record.manifest.fileSha256, held);
    return record;
  }

  remove(path: string): void {
    const held = this.byPath.get(resolve(path));
    if (!held) return;
    this.byPath.delete(held.path);
    for (const [id, h] of this.byId) if (h === held) this.byId.delete(id);
  }

  find(id: string): HeldModel | undefined {
    return this.byId.get(id);
  }

  list(): HeldModel[] {
    return [...this.byPath.values()];
  }
}
