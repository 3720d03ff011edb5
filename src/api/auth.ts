// API keys: with a key set, every route but the dashboard's static files needs
// `Authorization: Bearer KEY`. Keys are compared in constant time (both sides hashed first, so neither
// the content nor the length of the key leaks through timing). A browser's EventSource cannot send
// headers, so GET requests may carry the key in a `tessera_api_key` cookie instead; only reads, so a
// page on another site cannot make a browser that holds the cookie run anything.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http.js";

/** The dashboard's static files: a browser loads these before it can know the key. */
export function isPublicPath(path: string): boolean {
  return path === "/" || path === "/join" || path === "/dashboard" || path.startsWith("/dashboard/");
}

/** A key must be something a header can carry unchanged; returns why not, or undefined when it is fine. */
export function apiKeyProblem(key: string): string | undefined {
  if (key.length === 0) return "the API key is empty";
  if (key.length > 512) return "the API key is longer than 512 characters";
  if (!/^[\x21-\x7e]+$/.test(key)) return "the API key must be printable ASCII without spaces";
  return undefined;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** The cookie a dashboard may set (SameSite=Strict) so that its EventSource to /events is let in. */
export const KEY_COOKIE = "tessera_api_key";

/** One cookie's value from a Cookie header, percent-decoded; undefined when absent or malformed. */
export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export interface ApiKeyCheck {
  /** Throws HttpError 401 (in OpenAI's shape) unless the request may use `path`. */
  (req: IncomingMessage, path: string): void;
}

/** A check that lets everything through without a key, and only bearers of the key with one. */
export function apiKeyCheck(key: string | undefined): ApiKeyCheck {
  if (key === undefined) return () => {};
  const expected = digest(key);
  return (req, path) => {
    if (isPublicPath(path)) return;
    const header = req.headers.authorization;
    const bearer = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const read = req.method === "GET" || req.method === "HEAD";
    const given = bearer ?? (read ? cookie(req.headers.cookie, KEY_COOKIE) : undefined);
    if (given === undefined) throw new HttpError(401, "this node needs an API key: send Authorization: Bearer <key>", "invalid_request_error", { code: "missing_api_key" });
    if (!timingSafeEqual(digest(given), expected)) throw new HttpError(401, "incorrect API key", "invalid_request_error", { code: "invalid_api_key" });
  };
}
