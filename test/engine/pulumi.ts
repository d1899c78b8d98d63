// The real `pulumi` CLI on a stack of this project, against the test cluster: a local file backend and
// passphrase secrets in a temporary folder, the toolchain's own PULUMI_HOME (its plugin cache holds the
// Kubernetes provider; nothing is downloaded, no update check), and the program run by ts-node without
// type-checking (`npm test` type-checks once with tsc). Each stack's config lives in its temporary
// folder, never in the checkout.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dump } from "js-yaml";
import { Toolchain } from "../cluster/toolchain";

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One step of a plan, from `pulumi preview --json`. */
export interface Step {
  op: string;
  /** The resource's type token, e.g. `kubernetes:apps/v1:Deployment`. */
  type: string;
  /** The resource's name: `<namespace>/<name>` for the program's namespaced objects. */
  name: string;
}

/** The object a Kubernetes step is about, as `<Kind> <namespace>/<name>` (namespace empty when cluster-scoped). */
export function stepObject(step: Step): string {
  const kind = step.type.split(":").pop();
  return `${kind} ${step.name.includes("/") ? step.name : `/${step.name}`}`;
}

export interface StackOptions {
  /** `crdstack:*` config, without the prefix; values as they would be written in Pulumi.<stack>.yaml. */
  config: Record<string, unknown>;
  /** The kubeconfig the program and the Kubernetes provider use. */
  kubeconfig: string;
  /** More environment for the program (e.g. a service account's). */
  env?: Record<string, string>;
  /** The Pulumi project's folder. @default this project */
  projectDir?: string;
}

/** The environment of every pulumi command: nothing from the machine's own Pulumi set-up. */
function pulumiEnv(toolchain: Toolchain, folder: string, options: StackOptions): NodeJS.ProcessEnv {
  const keep = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PULUMI_")));
  const nodeBin = path.dirname(process.execPath);
  // pulumi-language-nodejs from the toolchain; the dynamic-provider host ships in @pulumi/pulumi. Pulumi
  // prefers plugins on PATH to its plugin cache, so PATH holds nothing else but node and the system's tools.
  const pathList = [toolchain.pulumiBin, path.join(PROJECT_ROOT, "node_modules", "@pulumi", "pulumi"), nodeBin, "/usr/bin", "/bin"];
  return {
    ...keep,
    PATH: pathList.join(path.delimiter),
    PULUMI_HOME: toolchain.pulumiHome,
    PULUMI_BACKEND_URL: `file://${path.join(folder, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "crdstack-test-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    PULUMI_SUPPRESS_COPILOT_LINK: "true",
    KUBECONFIG: options.kubeconfig,
    ...options.env,
  };
}

export class PulumiStack {
  readonly configFile: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly projectDir: string;

  constructor(
    private readonly toolchain: Toolchain,
    readonly name: string,
    /** The temporary folder of the stack: its state, config and logs. */
    readonly folder: string,
    options: StackOptions,
  ) {
    this.configFile = path.join(folder, `Pulumi.${name}.yaml`);
    this.env = pulumiEnv(toolchain, folder, options);
    this.projectDir = options.projectDir ?? PROJECT_ROOT;
  }

  /** Runs `pulumi <args>` on this stack; throws with the output when it fails, unless `allowFailure`. */
  run(args: string[], allowFailure = false): Promise<RunResult> {
    return this.exec(path.join(this.toolchain.pulumiBin, "pulumi"), [...args, "--stack", this.name, "--non-interactive"], allowFailure);
  }

  /** The options that point a pulumi command at this stack, for scripts that run `pulumi` themselves. */
  get stackOptions(): string[] {
    return ["--stack", this.name, "--config-file", this.configFile];
  }

  /** Runs a command in the project with this stack's environment (its `pulumi` first on PATH). */
  async exec(command: string, args: string[], allowFailure = false, env: Record<string, string> = {}): Promise<RunResult> {
    const child = spawn(command, args, { cwd: this.projectDir, env: { ...this.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    const code = await new Promise<number>((resolve) => child.on("close", (exit) => resolve(exit ?? 1)));
    const result = { code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
    if (code !== 0 && !allowFailure) {
      throw new Error(`${path.basename(command)} ${args.join(" ")} exited ${code}:\n${result.stdout.slice(-6000)}\n${result.stderr.slice(-3000)}`);
    }
    return result;
  }

  /** Replaces the stack's `crdstack:*` config. */
  setConfig(config: Record<string, unknown>): void {
    const current = (fs.existsSync(this.configFile) ? fs.readFileSync(this.configFile, "utf8") : "").split("\n").filter((line) => line.startsWith("encryptionsalt:"));
    const values = Object.fromEntries(Object.entries(config).map(([key, value]) => [`crdstack:${key}`, value]));
    fs.writeFileSync(this.configFile, `${current.join("\n")}\n${dump({ config: values })}`);
  }

  private withConfig(args: string[]): string[] {
    return [...args, "--config-file", this.configFile];
  }

  preview(...extra: string[]): Promise<RunResult> {
    return this.run(this.withConfig(["preview", "--diff", ...extra]));
  }

  /** The steps `pulumi preview` plans, with their operation (`same`, `create`, `update`, `replace`, `delete`, …). */
  async plan(...extra: string[]): Promise<Step[]> {
    const preview = await this.run(this.withConfig(["preview", "--json", ...extra]));
    const steps = (JSON.parse(preview.stdout).steps ?? []) as { op: string; urn: string }[];
    return steps.map(({ op, urn }) => {
      const [, , types, name] = urn.split("::");
      return { op, type: types.split("$").pop()!, name };
    });
  }

  up(...extra: string[]): Promise<RunResult> {
    return this.run(this.withConfig(["up", "--yes", ...extra]));
  }

  /** `pulumi up` whose failure is an outcome to look at, not an error. */
  tryUp(...extra: string[]): Promise<RunResult> {
    return this.run(this.withConfig(["up", "--yes", ...extra]), true);
  }

  refresh(...extra: string[]): Promise<RunResult> {
    return this.run(this.withConfig(["refresh", "--yes", ...extra]));
  }

  destroy(...extra: string[]): Promise<RunResult> {
    return this.run(this.withConfig(["destroy", "--yes", ...extra]));
  }

  /** The stack's outputs, secret ones shown only with `showSecrets`. */
  async outputs(showSecrets = true): Promise<Record<string, unknown>> {
    return JSON.parse((await this.run(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])])).stdout);
  }

  /** The stack's state as the backend stores it (secrets encrypted). */
  async exportState(): Promise<string> {
    return (await this.run(["stack", "export"])).stdout;
  }

  /** Removes the stack (and its state) and the temporary folder. */
  async remove(): Promise<void> {
    await this.run(["stack", "rm", "--yes", "--force"], true);
    fs.rmSync(this.folder, { recursive: true, force: true });
  }
}

/** Creates a stack of this project in a temporary folder of its own. */
export async function newStack(toolchain: Toolchain, options: StackOptions): Promise<PulumiStack> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-stack-"));
  fs.mkdirSync(path.join(folder, "state"));
  const name = `test-${path.basename(folder).slice(-6).toLowerCase().replace(/[^a-z0-9]/g, "x")}`;
  const stack = new PulumiStack(toolchain, name, folder, options);
  await stack.run(["stack", "init", "--secrets-provider", "passphrase", "--no-select"]);
  // `stack init` writes the passphrase's salt next to Pulumi.yaml: move it to the stack's folder.
  fs.renameSync(path.join(options.projectDir ?? PROJECT_ROOT, `Pulumi.${name}.yaml`), stack.configFile);
  stack.setConfig(options.config);
  return stack;
}
