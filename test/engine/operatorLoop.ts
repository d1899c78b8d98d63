// The Pulumi Kubernetes Operator's part, played by the tests and the bench: for each `Stack` object that
// `render --operator` makes, a stack of this project whose config and environment are the Stack's, and a
// loop that runs `pulumi up` whenever the Stack's `pulumi.com/reconciliation-request` annotation changes
// (and on the Stack's resync, with `continueResyncOnCommitMatch`), as the workspace service account with
// a kubeconfig holding only its token. Like the operator, one update at a time per Stack: a request that
// arrives during a run is served by one more run after it.
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { dump } from "js-yaml";
import { Cluster, KubeObject, readObject } from "../cluster/cluster";
import { serviceAccountToken } from "../cluster/operatorSetup";
import { newStack, PulumiStack, RunResult } from "./pulumi";

export const RECONCILIATION_REQUEST = "pulumi.com/reconciliation-request";

/** One `pulumi up` the loop ran: why, when (performance.now() milliseconds), and how it ended. */
export interface LoopRun {
  request: string | undefined;
  /** When the loop saw the request that started this run. */
  seenAt: number;
  startedAt: number;
  endedAt: number;
  code: number;
  /** The engine's events (`--event-log`): what happened when, for the time split. */
  events: EngineEvent[];
  output: string;
}

/**
 * One line of Pulumi's engine event log. Its own `timestamp` is in whole seconds, too coarse for a time
 * split: `seenAt` is when the loop read the line (performance.now(), polled every 10 ms).
 */
export interface EngineEvent {
  sequence: number;
  timestamp: number;
  seenAt: number;
  [kind: string]: unknown;
}

/** One line of the log; a line cut by a truncation between two reads counts as no event. */
function parse(line: string): { sequence: number; timestamp: number; [kind: string]: unknown } {
  try {
    return JSON.parse(line);
  } catch {
    return { sequence: -1, timestamp: 0, unreadable: line.slice(0, 80) };
  }
}

/** Reads an event log while the engine writes it, stamping each line when it appears. */
function tailEvents(file: string): { stop(): EngineEvent[] } {
  const events: EngineEvent[] = [];
  let offset = 0;
  let partial = "";
  const read = () => {
    if (!fs.existsSync(file)) return;
    const size = fs.statSync(file).size;
    // `up` opens the log again (truncating it) for the update after its preview: start over.
    if (size < offset) {
      offset = 0;
      partial = "";
    }
    if (size === offset) return;
    const buffer = Buffer.alloc(size - offset);
    const fd = fs.openSync(file, "r");
    try {
      fs.readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      fs.closeSync(fd);
    }
    offset = size;
    const lines = (partial + buffer.toString()).split("\n");
    partial = lines.pop() ?? "";
    const now = performance.now();
    for (const line of lines) if (line.trim() !== "") events.push({ ...parse(line), seenAt: now });
  };
  const timer = setInterval(read, 10);
  return {
    stop() {
      clearInterval(timer);
      read();
      if (partial.trim() !== "") events.push({ ...parse(partial), seenAt: performance.now() });
      return events;
    },
  };
}

/** A kubeconfig that authenticates as a service account with a token, so its RBAC is all it holds. */
export function serviceAccountKubeconfig(c: Cluster, token: string, file: string): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: c.server, "certificate-authority": c.caFile } }],
    users: [{ name: "workspace", user: { token } }],
    contexts: [{ name: "workspace", context: { cluster: "test", user: "workspace" } }],
    "current-context": "workspace",
  };
  fs.writeFileSync(file, dump(config), { mode: 0o600 });
  return file;
}

/** The Stack's `config` as this project's `crdstack:*` keys (without the prefix). */
function stackConfig(spec: Record<string, any>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(spec.config ?? {}).map(([key, value]) => [key.replace(/^crdstack:/, ""), value]));
}

/** The Stack's `envRefs` (literals, and Secrets in its namespace), read as the operator reads them. */
async function stackEnv(c: Cluster, stack: KubeObject): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [name, ref] of Object.entries<any>(stack.spec.envRefs ?? {})) {
    if (ref.type === "Literal") {
      env[name] = String(ref.literal?.value ?? "");
      continue;
    }
    if (ref.type !== "Secret") throw new Error(`envRefs.${name}: only Secret and Literal references are played here`);
    const secret = await readObject(c, { apiVersion: "v1", kind: "Secret", metadata: { name: ref.secret.name, namespace: stack.metadata.namespace } });
    const value = secret?.data?.[ref.secret.key];
    if (value === undefined) throw new Error(`envRefs.${name}: Secret ${ref.secret.name} has no key ${ref.secret.key}`);
    env[name] = Buffer.from(value, "base64").toString();
  }
  return env;
}

export class OperatorLoop {
  readonly runs: LoopRun[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private handled: string | undefined;
  private lastRunAt = 0;
  private readonly waiters: (() => void)[] = [];

  private constructor(
    private readonly c: Cluster,
    public stackObject: KubeObject,
    readonly stack: PulumiStack,
    private readonly pollMs: number,
  ) {}

  /**
   * Sets up the stack of one Stack object (which must exist in the cluster): its config and env, the
   * workspace service account's token. `start()` begins the loop.
   */
  static async create(c: Cluster, stackObject: KubeObject, options: { pollMs?: number } = {}): Promise<OperatorLoop> {
    const { namespace } = stackObject.metadata;
    const token = await serviceAccountToken(c, namespace!, stackObject.spec.serviceAccountName);
    const env = await stackEnv(c, stackObject);
    // The stack's folder is made first; its kubeconfig goes there, removed with it.
    const stack = await newStack(c.toolchain, { config: stackConfig(stackObject.spec), kubeconfig: c.kubeconfig, env });
    const kubeconfig = serviceAccountKubeconfig(c, token, path.join(stack.folder, "workspace.kubeconfig"));
    // PULUMI_DEBUG_COMMANDS makes `up` take `--event-log`, for the time split.
    const asWorkspace = new PulumiStack(c.toolchain, stack.name, stack.folder, { config: stackConfig(stackObject.spec), kubeconfig, env: { ...env, PULUMI_DEBUG_COMMANDS: "true" } });
    return new OperatorLoop(c, stackObject, asWorkspace, options.pollMs ?? 50);
  }

  /**
   * Takes the Stack object's current config, as the operator does (it replaces the workspace pod when a
   * Stack's config changes): the next run uses it, on the same state.
   */
  async reload(): Promise<void> {
    const current = await readObject(this.c, this.stackObject);
    if (current === undefined) throw new Error(`Stack ${this.stackObject.metadata.name} is gone`);
    this.stackObject = current;
    this.stack.setConfig(stackConfig(current.spec));
  }

  /** Starts serving the Stack: a run for every new reconciliation request, and on the resync. */
  start(): void {
    void this.loop();
  }

  private async currentRequest(): Promise<string | undefined> {
    const current = await readObject(this.c, this.stackObject);
    return current?.metadata.annotations?.[RECONCILIATION_REQUEST];
  }

  private async loop(): Promise<void> {
    const spec = this.stackObject.spec;
    const resyncMs = Math.max(60, spec.resyncFrequencySeconds ?? 60) * 1000;
    while (!this.stopped) {
      let request: string | undefined;
      try {
        request = await this.currentRequest();
      } catch {
        request = this.handled;
      }
      const resync = spec.continueResyncOnCommitMatch === true && this.lastRunAt > 0 && performance.now() - this.lastRunAt > resyncMs;
      if ((request !== undefined && request !== this.handled) || resync) {
        this.handled = request;
        this.running = this.runOnce(request, performance.now());
        await this.running;
        this.running = undefined;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }

  private async runOnce(request: string | undefined, seenAt: number): Promise<void> {
    const eventLog = path.join(this.stack.folder, `events-${this.runs.length}.jsonl`);
    const startedAt = performance.now();
    // The operator's workspace runs the update through the Automation API, which skips the preview, and
    // passes `--refresh` when the Stack asks for it (crdstack's Stacks do not: see model/markers.ts).
    const extra = ["--skip-preview", ...(this.stackObject.spec.refresh === true ? ["--refresh"] : [])];
    const tail = tailEvents(eventLog);
    let result: RunResult;
    try {
      result = await this.stack.tryUp("--event-log", eventLog, ...extra);
    } catch (error) {
      result = { code: 1, stdout: "", stderr: (error as Error).message };
    }
    const events = tail.stop();
    fs.rmSync(eventLog, { force: true });
    this.lastRunAt = performance.now();
    this.runs.push({ request, seenAt, startedAt, endedAt: this.lastRunAt, code: result.code, events, output: `${result.stdout}\n${result.stderr}` });
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once a run has ended after `index` runs (`runs.length > index`). */
  async waitForRun(index: number, timeoutMs = 120_000): Promise<LoopRun> {
    const deadline = Date.now() + timeoutMs;
    while (this.runs.length <= index) {
      if (Date.now() > deadline) throw new Error(`no run ${index + 1} of ${this.stackObject.metadata.name} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
    return this.runs[index];
  }

  /** Waits until no run is going on and none is due. */
  async idle(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.running === undefined && (await this.currentRequest()) === this.handled) return;
      if (Date.now() > deadline) throw new Error(`${this.stackObject.metadata.name} still busy after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Runs that failed, with the end of their output. */
  failures(): string[] {
    return this.runs.filter((run) => run.code !== 0).map((run) => run.output.slice(-4000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.stack.remove();
  }
}
