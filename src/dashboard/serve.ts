// The dashboard's static files: GET / is its page, /dashboard/* its scripts and styles. They are plain
// ES modules, served as they are in src/dashboard/static (no bundler, no build step), so a fresh clone
// serves them after `npm run build`. Only files directly in that folder with a known type are served;
// anything else — dot files, sub-paths, `..`, encoded slashes — is a 404.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { error } from "../api/http.js";

export const DASHBOARD_PREFIX = "/dashboard/";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/**
 * The static folder: beside this module when run from src/ (or when a build copied it into dist/),
 * otherwise the source tree's copy, found from dist/dashboard/.
 */
function defaultRoot(): string {
  const beside = fileURLToPath(new URL("./static/", import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL("../../src/dashboard/static/", import.meta.url));
}

export const STATIC_ROOT = defaultRoot();

/** Is this URL path the dashboard's, so that it is answered here (and needs no API key)? */
export function isDashboardPath(pathname: string): boolean {
  return pathname === "/" || pathname === "/dashboard" || pathname.startsWith(DASHBOARD_PREFIX);
}

/**
 * The file name a dashboard URL path names, or null when it names none that may be served. Pure, so
 * its refusals can be tested on every odd path. `pathname` is as it arrives (still percent-encoded).
 */
export function dashboardFile(pathname: string): string | null {
  if (pathname === "/" || pathname === "/dashboard" || pathname === DASHBOARD_PREFIX) return "index.html";
  if (!pathname.startsWith(DASHBOARD_PREFIX)) return null;
  let name: string;
  try {
    name = decodeURIComponent(pathname.slice(DASHBOARD_PREFIX.length));
  } catch {
    return null;
  }
  // One plain file name: no separators of either kind, no NUL, no hidden or relative names.
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name) || name.includes("..")) return null;
  return CONTENT_TYPES[extname(name)] === undefined ? null : name;
}

/** Answers a dashboard path: the file, 404 for an unknown one, 405 for a method other than GET/HEAD. */
export async function serveDashboard(method: string, pathname: string, res: ServerResponse, root = STATIC_ROOT): Promise<void> {
  if (method !== "GET" && method !== "HEAD") return error(res, 405, `${method} is not allowed on ${pathname}`);
  const name = dashboardFile(pathname);
  if (name === null) return error(res, 404, `no dashboard file ${pathname}`, "not_found");
  let body: Buffer;
  try {
    body = await readFile(join(root, name));
  } catch {
    return error(res, 404, `no dashboard file ${pathname}`, "not_found");
  }
  // no-cache: a node restarted with new code must not leave a browser running old scripts.
  res.writeHead(200, { "content-type": CONTENT_TYPES[extname(name)]!, "content-length": body.length, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
  res.end(method === "HEAD" ? undefined : body);
}
