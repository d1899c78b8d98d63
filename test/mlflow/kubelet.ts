// Runs a rendered Deployment's container the way the kubelet would, without a container runtime: its
// command with Kubernetes' `$(VAR)` expansion, its env with Secret references resolved from the rendered
// Secrets, each volume mount a temporary folder, and its probes as the kubelet sends them. The image is
// stood in for by a folder of programs put first on PATH (a Python virtual environment).
//
// Two things differ from a pod, both mapped: the pod's own network is loopback here, so each
// containerPort gets a free loopback port (the command's `--host 0.0.0.0 --port <containerPort>` say so),
// and there is no mount namespace, so an absolute path under a mount path in the command or env (a whole
// value, or after `=` or a URI's `scheme://`) is replaced by its folder: a command argument that merely
// equals a mount path would be taken for it too. The image's own `/tmp` (where a pod may point HOME) is
// mapped the same way, to a folder of the container's.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../cluster/controlPlane";

export type Manifest = Record<string, any>;

/**
 * Kubernetes' expansion of `$(NAME)` in command, args and env values: a defined NAME is replaced by its
 * value, `$$` is an escaped `$`, and anything else (an undefined name, `$x`) stays as written.
 */
export function expand(text: string, env: Record<string, string>): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const next = text[i + 1];
    if (text[i] !== "$" || next === undefined) {
      out += text[i];
    } else if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(" && text.indexOf(")", i + 2) !== -1) {
      const end = text.indexOf(")", i + 2);
      const name = text.slice(i + 2, end);
      out += Object.hasOwn(env, name) ? env[name] : text.slice(i, end + 1);
      i = end;
    } else {
      out += text[i];
    }
  }
  return out;
}

/** A Secret's value as the kubelet reads it: `data` (base64) or, in a rendered manifest, `stringData`. */
function secretValue(secrets: readonly Manifest[], name: string, key: string): string | undefined {
  const secret = secrets.find((s) => s.metadata.name === name);
  if (secret === undefined) return undefined;
  if (secret.stringData?.[key] !== undefined) return secret.stringData[key];
  return secret.data?.[key] === undefined ? undefined : Buffer.from(secret.data[key], "base64").toString();
}

/** The container's environment, in order, each value expanded with the ones before it. */
export function containerEnv(container: Manifest, secrets: readonly Manifest[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if (entry.valueFrom === undefined) {
      env[entry.name] = expand(entry.value ?? "", env);
      continue;
    }
    const ref = entry.valueFrom.secretKeyRef;
    if (ref === undefined) throw new Error(`env ${entry.name}: only value and secretKeyRef are supported here`);
    const value = secretValue(secrets, ref.name, ref.key);
    if (value === undefined && ref.optional !== true) {
      throw new Error(`CreateContainerConfigError: env ${entry.name} needs key ${JSON.stringify(ref.key)} of Secret ${JSON.stringify(ref.name)}, which is missing`);
    }
    if (value !== undefined) env[entry.name] = value;
  }
  return env;
}


export interface RunningContainer {
  /** The loopback port of each containerPort, by port name and by number. */
  port(nameOrNumber: string | number): number;
  /** The folder of each volume mount, by mount path. */
  mounts: Record<string, string>;
  process: ChildProcess;
  /** Everything the container printed so far. */
  output(): string;
  /** The resident memory of the container's processes, in bytes. */
  memory(): number;
  stop(): Promise<void>;
}

export interface RunOptions {
  /** The rendered Secrets that env references may name. */
  secrets: readonly Manifest[];
  /** The folder of programs that stands in for the image (`<folder>/bin` goes first on PATH). */
  image: string;
  /** Variables the image sets (PYTHONPATH for a layer on top of it). */
  imageEnv?: Record<string, string>;
}

/**
 * Replaces each mount path where it starts an absolute path in `text`: the whole value, after `=`, or
 * after a URI's `scheme://` (`file:///mlflow/x`) or `scheme:///` (`sqlite:////mlflow/x`), never a
 * host's name (`s3://mlflow/x`). One pass, the longest mount path first: a folder put in (under the
 * machine's /tmp) is not mapped again.
 */
function mapMounts(text: string, mounts: Record<string, string>): string {
  const mountPaths = Object.keys(mounts).sort((a, b) => b.length - a.length);
  if (mountPaths.length === 0) return text;
  const alternatives = mountPaths.map((mountPath) => mountPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  return text.replace(new RegExp(`(^|=|:///?)(${alternatives})(?=/|$)`, "g"), (_, before: string, mountPath: string) => `${before}${mounts[mountPath]}`);
}

/** Sums the resident memory of a process and all its descendants (Linux /proc). */
function treeMemory(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // The process ended meanwhile.
    }
  }
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    try {
      const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      total += Number(rss?.[1] ?? 0) * 1024;
    } catch {
      // The process ended meanwhile.
    }
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

function signalGroup(pid: number | undefined, name: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(-pid, name);
  } catch {
    // The group is gone already.
  }
}

/** The process groups of the containers not stopped yet: a test run that ends early takes them along. */
const groups = new Set<number>();
const killRunning = () => groups.forEach((pid) => signalGroup(pid, "SIGKILL"));
process.once("exit", killRunning);
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.once(name, () => {
    killRunning();
    process.exit(128 + (name === "SIGINT" ? 2 : 15));
  });
}

/** Starts the first container of a Deployment's pod template. */
export async function runContainer(deployment: Manifest, options: RunOptions): Promise<RunningContainer> {
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-pod-"));
  const mounts: Record<string, string> = {};
  for (const mount of container.volumeMounts ?? []) {
    mounts[mount.mountPath] = path.join(workdir, "volumes", mount.name);
    fs.mkdirSync(mounts[mount.mountPath], { recursive: true });
  }
  const ports = new Map<string | number, number>();
  for (const port of container.ports ?? []) {
    const local = await freePort();
    ports.set(port.containerPort, local);
    if (port.name !== undefined) ports.set(port.name, local);
  }

  const paths = { "/tmp": path.join(workdir, "tmp"), ...mounts };
  fs.mkdirSync(paths["/tmp"], { recursive: true });
  const env = Object.fromEntries(Object.entries(containerEnv(container, options.secrets)).map(([k, v]) => [k, mapMounts(v, paths)]));
  // Mapped before the expansion: the env values that `$(VAR)` brings in are mapped already.
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((arg) => expand(mapMounts(arg, paths), env));
  argv.forEach((arg, i) => {
    if (arg === "0.0.0.0") argv[i] = "127.0.0.1";
    if ((argv[i - 1] === "--port" || argv[i - 1] === "-p") && ports.has(Number(arg))) argv[i] = String(ports.get(Number(arg)));
  });
  const home = path.join(workdir, "home");
  fs.mkdirSync(home);
  const processEnv = { PATH: `${path.join(options.image, "bin")}:/usr/bin:/bin`, HOME: home, ...options.imageEnv, ...env };
  // A process group of its own, so that stopping it stops the workers the server starts.
  const child = spawn(argv[0], argv.slice(1), { cwd: home, env: processEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.on("error", (error) => (output += `\ncould not start ${argv[0]}: ${error.message}\n`));
  const signal = (name: NodeJS.Signals) => signalGroup(child.pid, name);
  if (child.pid !== undefined) groups.add(child.pid);
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));

  return {
    port(nameOrNumber) {
      const local = ports.get(nameOrNumber);
      if (local === undefined) throw new Error(`the container has no port ${JSON.stringify(nameOrNumber)}`);
      return local;
    },
    mounts,
    process: child,
    output: () => output,
    memory: () => treeMemory(child.pid!),
    async stop() {
      // As the kubelet does: SIGTERM to everything in the container, a grace period, then SIGKILL to
      // whatever is left, even when the first process has already exited.
      signal("SIGTERM");
      const alive = child.exitCode === null && child.signalCode === null && child.pid !== undefined;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([alive ? exited : Promise.resolve(), new Promise((resolve) => (timer = setTimeout(resolve, alive ? 10_000 : 500)))]);
      if (alive) await new Promise((resolve) => setTimeout(resolve, 500));
      clearTimeout(timer);
      signal("SIGKILL");
      if (child.pid !== undefined) groups.delete(child.pid);
      fs.rmSync(workdir, { recursive: true, force: true });
    },
  };
}

/** One HTTP probe as the kubelet sends it: success is a status from 200 to 399 within the timeout. */
export async function probe(spec: Manifest, running: RunningContainer): Promise<boolean> {
  const { path: probePath, port, httpHeaders } = spec.httpGet;
  const headers = Object.fromEntries((httpHeaders ?? []).map((h: { name: string; value: string }) => [h.name, h.value]));
  try {
    const response = await fetchWithHost(`http://127.0.0.1:${running.port(port)}${probePath}`, headers, (spec.timeoutSeconds ?? 1) * 1000);
    return response.status >= 200 && response.status < 400;
  } catch {
    return false;
  }
}

/** A GET whose Host header may differ from the address (fetch does not allow setting Host). */
export function fetchWithHost(url: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, timeout: timeoutMs }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers["content-type"] ?? "") }));
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/**
 * Waits for the container's startup probe to pass, polling faster than the kubelet would, and returns
 * the seconds it took; fails once the probe's budget (initial delay + period × failure threshold) is spent
 * or the container exits.
 */
export async function awaitStartup(container: Manifest, running: RunningContainer, started: number): Promise<number> {
  const startup = container.startupProbe;
  const budget = (startup.initialDelaySeconds ?? 0) + startup.periodSeconds * startup.failureThreshold;
  for (;;) {
    const elapsed = (Date.now() - started) / 1000;
    if (await probe(startup, running)) return elapsed;
    if (running.process.exitCode !== null) throw new Error(`the container exited with ${running.process.exitCode}:\n${running.output().slice(-3000)}`);
    if (elapsed > budget) throw new Error(`the startup probe failed for ${budget} s, its whole budget:\n${running.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
