// The model store: where models live, what a node holds, and pulling from the Hub.
export { resolveModelDir, MODELS_DIR_ENV, type ModelDirOptions } from "./model-dir.js";
export { parseModelRef, resolveModelRef, hubFilePath, modelName, isHubRepo, type ModelRef, type ResolvedModel } from "./model-ref.js";
export { ModelIndexEntrySchema, ModelIndexSchema, type ModelIndexEntry } from "./index-entry.js";
export { scanModels, indexModelFile, headerFacts, cachedSha256, type ScanOptions } from "./scan.js";
export { HubOriginSchema, type HubOrigin } from "./sidecar.js";
export { hubConfigFromEnv, listRepoFiles, resolveUrl, DEFAULT_HF_ENDPOINT, DEFAULT_REVISION, type HubConfig, type RepoFile } from "./hub-client.js";
export { pickGgufFile, PREFERRED_QUANTS } from "./pick-file.js";
export { downloadFile, partPath, type DownloadProgress, type DownloadSpec } from "./download.js";
export { pullModel, chooseRepoFile, type PullOptions, type PullResult } from "./pull.js";
export { removeModel, type RemoveResult } from "./remove.js";
export { scanDownloads, ModelDownloadSchema, type ModelDownload } from "./downloads.js";
export { formatBytes } from "./disk-space.js";
export * from "./errors.js";
