// The dashboard's file serving: which URL paths name a file (and which are refused however they are
// spelled), content types, methods, and that every script the page loads is there.
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { dashboardFile, isDashboardPath, serveDashboard, STATIC_ROOT } from "./serve.js";

test("dashboardFile maps / and /dashboard/* to plain file names and refuses everything else", () => {
  assert.equal(dashboardFile("/"), "index.html");
  assert.equal(dashboardFile("/dashboard"), "index.html");
  assert.equal(dashboardFile("/dashboard/"), "index.html");
  assert.equal(dashboardFile("/dashboard/app.js"), "app.js");
  assert.equal(dashboardFile("/dashboard/style.css"), "style.css");
  assert.equal(dashboardFile("/dashboard/event-log.js"), "event-log.js");
  const refused = [
    "/state", "/dashboardx/app.js", "/index.html",
    "/dashboard/../package.json", "/dashboard/..", "/dashboard/.", "/dashboard/%2e%2e/package.json",
    "/dashboard/..%2fpackage.json", "/dashboard/%2e%2e%2f%2e%2e%2fpackage.json", "/dashboard/a/b.js",
    "/dashboard/%2Fetc%2Fpasswd", "/dashboard/..%5cwin.ini", "/dashboard/x%00.js", "/dashboard/%zz.js",
    "/dashboard/.hidden.js", "/dashboard/serve.ts", "/dashboard/app", "/dashboard/app.js.map", "/dashboard/a..js",
  ];
  for (const p of refused) assert.equal(dashboardFile(p), null, p);
  assert.ok(isDashboardPath("/") && isDashboardPath("/dashboard") && isDashboardPath("/dashboard/app.js"));
  assert.ok(!isDashboardPath("/state") && !isDashboardPath("/dashboardx") && !isDashboardPath("/v1/models"));
});

let server: Server;
let port = 0;

before(async () => {
  server = createServer((req, res) => {
    void serveDashboard(req.method ?? "GET", req.url ?? "/", res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((r) => server.close(() => r())));

/** A raw request: the path goes out exactly as written (fetch would normalise `..`). */
function get(path: string, method = "GET"): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("serveDashboard answers with content types, 404 for unknown or escaping paths, 405 for writes", async () => {
  const index = await get("/");
  assert.equal(index.status, 200);
  assert.equal(index.type, "text/html; charset=utf-8");
  assert.equal(index.body, readFileSync(join(STATIC_ROOT, "index.html"), "utf8"));
  const js = await get("/dashboard/app.js");
  assert.equal(js.status, 200);
  assert.equal(js.type, "text/javascript; charset=utf-8");
  assert.equal((await get("/dashboard/style.css")).type, "text/css; charset=utf-8");
  const head = await get("/dashboard/style.css", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
  for (const p of ["/dashboard/../package.json", "/dashboard/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json", "/dashboard/..%2f..%2fserve.ts", "/dashboard/nope.js", "/dashboard/%zz"]) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.equal(r.type, "application/json");
    assert.match(r.body, /no dashboard file/);
  }
  const post = await get("/", "POST");
  assert.equal(post.status, 405);
});

test("every file the page loads is served: the page's links and each module's imports", async () => {
  const names = new Set(readdirSync(STATIC_ROOT));
  const wanted = new Set<string>();
  for (const m of readFileSync(join(STATIC_ROOT, "index.html"), "utf8").matchAll(/(?:src|href)="\/dashboard\/([^"]+)"/g)) wanted.add(m[1]);
  for (const name of names) {
    if (!name.endsWith(".js")) continue;
    for (const m of readFileSync(join(STATIC_ROOT, name), "utf8").matchAll(/from "\.\/([^"]+)"/g)) wanted.add(m[1]);
  }
  assert.ok(wanted.has("app.js") && wanted.has("style.css") && wanted.has("api.js"));
  for (const name of wanted) assert.equal((await get(`/dashboard/${name}`)).status, 200, name);
});
