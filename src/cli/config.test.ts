// Configuration: flags over TESSERA_* variables over the YAML file, errors that name the bad key, and
// one real `tessera start` that takes its API port from the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { QUIET } from "../testing/cluster-procs.js";
import { TESSERA_BIN, tempDir } from "../testing/paths.js";
import { CliError } from "./args.js";
import { apiTarget, configPath, configValue, envName, loadConfig, parseConfigText, START_CONFIG_KEYS, withConfig } from "./config.js";

function withYaml<T>(yaml: string, body: (path: string, home: string) => T): T {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, "config.yaml");
    writeFileSync(path, yaml);
    return body(path, tmp.dir);
  } finally {
    tmp.cleanup();
  }
}

test("a flag beats the environment, which beats the file; keys not set anywhere stay unset", () => {
  withYaml("threads: 3\napi-port: 6000\nmodels-dir: ~/models\nname: from-yaml\npeer: [a:1, b:2]\nopen: true\n", (path, home) => {
    const config = loadConfig({ TESSERA_CONFIG: path, TESSERA_THREADS: "2", TESSERA_NAME: "from-env", TESSERA_OPEN: "false" }, home);
    const flags = { threads: "1", "api-port": undefined, name: undefined, "models-dir": undefined, peer: undefined, open: undefined, port: undefined };
    const f = withConfig(flags, START_CONFIG_KEYS, config);
    assert.equal(f.threads, "1", "flag");
    assert.equal(f.name, "from-env", "environment over file");
    assert.equal(f.open, false, "a false variable overrides a true key");
    assert.equal(f["api-port"], "6000", "file, as the flag's text");
    assert.equal(f["models-dir"], join(home, "models"), "~ expands");
    assert.deepEqual(f.peer, ["a:1", "b:2"]);
    assert.equal(f.port, undefined);
    assert.equal(withConfig({ threads: undefined }, START_CONFIG_KEYS, config).threads, "2", "environment over file");
    assert.equal(withConfig({ threads: undefined }, ["port"], config).threads, undefined, "only the keys asked for");
  });
});

test("variables: names, kinds and checks", () => {
  assert.equal(envName("api-port"), "TESSERA_API_PORT");
  assert.equal(envName("join"), "TESSERA_CLUSTER_KEY");
  const config = loadConfig({ TESSERA_PEER: "h:1, h:2", TESSERA_NO_MDNS: "1", TESSERA_MODELS_DIR: "", TESSERA_CLUSTER_KEY: "tsk_x" }, "/nonexistent-home");
  assert.deepEqual(configValue(config, "peer"), ["h:1", "h:2"]);
  assert.equal(configValue(config, "no-mdns"), true);
  assert.equal(configValue(config, "models-dir"), undefined, "an empty variable is unset");
  assert.equal(configValue(config, "join"), "tsk_x");
  const bad: [Record<string, string>, string, RegExp][] = [
    [{ TESSERA_THREADS: "many" }, "threads", /^TESSERA_THREADS: expected a number, got "many"$/],
    [{ TESSERA_THREADS: "0" }, "threads", /^TESSERA_THREADS: .*>=1/],
    [{ TESSERA_API_PORT: "70000" }, "api-port", /^TESSERA_API_PORT: .*65535/],
    [{ TESSERA_OPEN: "maybe" }, "open", /^TESSERA_OPEN: expected true or false/],
    [{ TESSERA_API: "localhost:1" }, "api", /^TESSERA_API: must be an http/],
  ];
  for (const [env, key, pattern] of bad) {
    const c = loadConfig(env, "/nonexistent-home");
    assert.throws(() => configValue(c, key as never), (e: unknown) => e instanceof CliError && pattern.test(e.message), JSON.stringify(env));
  }
  // A bad variable for `start` does not get in the way of a client command that does not read it.
  assert.equal(apiTarget({}, 52415, loadConfig({ TESSERA_THREADS: "many" }, "/nonexistent-home")).url, "http://127.0.0.1:52415");
});

test("the file: errors name the file and the key", () => {
  const cases: [string, RegExp][] = [
    ["thread: 2\n", /config\.yaml: unknown key "thread" \(did you mean "threads"\?\)/],
    ["colour: blue\n", /unknown key "colour" \(known keys: name, port, api-port/],
    ["threads: two\n", /config\.yaml: key "threads": .*expected number/],
    ["api-port: 99999\n", /key "api-port": .*65535/],
    ["telemetry-ms: 50\n", /key "telemetry-ms": must be 0 \(off\) or at least 100/],
    ["listen: 10.0.0.1\n", /key "listen"/],
    ["peer: [1, 2]\n", /key "peer\.0"/],
    ["- a\n- b\n", /expected a mapping/],
    ["threads: [\n", /not valid YAML/],
  ];
  for (const [yaml, pattern] of cases) {
    assert.throws(() => parseConfigText(yaml, "/x/config.yaml"), (e: unknown) => e instanceof CliError && pattern.test(e.message) && !e.message.includes("\n"), yaml);
  }
  assert.deepEqual(parseConfigText("", "/x/config.yaml"), {});
  assert.deepEqual(parseConfigText("# only a comment\n", "/x/config.yaml"), {});
  assert.deepEqual(parseConfigText("peer: h:1\nmax-memory: 8GiB\n", "/x/config.yaml"), { peer: ["h:1"], "max-memory": "8GiB" });
});

test("where the file is: TESSERA_CONFIG (which must exist), else ~/.tessera/config.yaml when present", () => {
  withYaml("api-port: 7000\n", (path, home) => {
    assert.equal(configPath({}, home), undefined);
    assert.throws(() => configPath({ TESSERA_CONFIG: join(home, "missing.yaml") }, home), /TESSERA_CONFIG names .*missing\.yaml, which does not exist/);
    mkdirSync(join(home, ".tessera"));
    writeFileSync(join(home, ".tessera", "config.yaml"), "api-port: 7100\napi-key: from-file\n");
    assert.equal(configPath({}, home), join(home, ".tessera", "config.yaml"));
    assert.equal(configPath({ TESSERA_CONFIG: path }, home), path);

    // Client commands: --api, else TESSERA_API, else the file's api, else this machine on the configured port.
    const fromHome = loadConfig({}, home);
    assert.deepEqual(apiTarget({}, 52415, fromHome), { url: "http://127.0.0.1:7100", headers: { authorization: "Bearer from-file" } });
    assert.equal(apiTarget({}, 52415, loadConfig({ TESSERA_API_PORT: "7200" }, home)).url, "http://127.0.0.1:7200");
    assert.equal(apiTarget({}, 52415, loadConfig({ TESSERA_API: "http://10.1.2.3:9" }, home)).url, "http://10.1.2.3:9");
    assert.deepEqual(apiTarget({ api: "http://h:1", "api-key": "flag" }, 52415, loadConfig({ TESSERA_API_KEY: "env" }, home)), { url: "http://h:1", headers: { authorization: "Bearer flag" } });
    assert.equal(apiTarget({}, 52415, loadConfig({ TESSERA_API_KEY: "env" }, home)).headers["authorization"], "Bearer env");
    assert.throws(() => apiTarget({ api: "ftp://h" }, 52415, fromHome), /--api must be an http/);
  });
});

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

test("tessera start takes its API port from the YAML file, and a bad file stops it with one line", { timeout: 90_000 }, async () => {
  const tmp = tempDir();
  try {
    const port = await freeTcpPort();
    const config = join(tmp.dir, "tessera.yaml");
    writeFileSync(config, `# a node for this test\napi-port: ${port}\nname: from-yaml\nno-mdns: true\nno-broadcast: true\nlisten: 127.0.0.1\n`);
    const proc = spawn(process.execPath, [TESSERA_BIN, "start", "--data-dir", join(tmp.dir, "d"), "--open", ...QUIET], {
      env: { ...process.env, HOME: tmp.dir, TESSERA_CONFIG: config },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    try {
      let out = "";
      proc.stderr.on("data", (c: Buffer) => (out += c.toString()));
      const api = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ready line: ${out}`)), 60_000);
        proc.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /ready api=(\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        void exited.then((code) => reject(new Error(`exited with ${code}: ${out}`)));
      });
      assert.equal(api, port);
      const state = (await (await fetch(`http://127.0.0.1:${port}/state`)).json()) as { node_id: string; nodes: Record<string, { name: string }> };
      const waitForSelf = Date.now() + 30_000;
      let self = state.nodes[state.node_id];
      while (self === undefined && Date.now() < waitForSelf) {
        await new Promise((r) => setTimeout(r, 200));
        const s = (await (await fetch(`http://127.0.0.1:${port}/state`)).json()) as typeof state;
        self = s.nodes[s.node_id];
      }
      assert.equal(self?.name, "from-yaml");

      // A client command finds the node through the same file's api-port.
      const list = spawnSync(process.execPath, [TESSERA_BIN, "list", "--json"], { env: { ...process.env, HOME: tmp.dir, TESSERA_CONFIG: config }, encoding: "utf8", timeout: 60_000 });
      assert.equal(list.status, 0, list.stderr);
      assert.deepEqual((JSON.parse(list.stdout) as { nodes: { name: string }[] }).nodes.map((n) => n.name), ["from-yaml"]);
    } finally {
      proc.kill("SIGTERM");
      await exited;
    }

    writeFileSync(config, "api_port: 1\n");
    const bad = spawn(process.execPath, [TESSERA_BIN, "start", "--data-dir", join(tmp.dir, "d")], { env: { ...process.env, HOME: tmp.dir, TESSERA_CONFIG: config }, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    bad.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => bad.on("exit", resolve));
    assert.equal(code, 1);
    assert.equal(err, `tessera start: ${config}: unknown key "api_port" (did you mean "api-port"?)\n`);
  } finally {
    tmp.cleanup();
  }
});
