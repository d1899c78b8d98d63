// `npm run bench`: for 10, 100 and 1000 TrackingServers plus as many EasyServices, the time and peak
// memory of (a) the program under Pulumi's mocks, (b) the floor: the very same Kubernetes resources
// registered with precomputed arguments under the same mocks (what the Pulumi SDK itself costs), and
// (c) render. Each measurement runs in a fresh process; the three modes alternate, and the median of
// the repetitions is reported, so that the ratios compare runs made side by side. Then the watcher's
// trigger latency against a real API server (bench/latency.ts), status writes sequential against parallel
// (bench/status.ts; BENCH_STATUS_OBJECTS, default 1000; BENCH_STATUS=0 skips it), and the real engine against the test
// cluster (bench/engine.ts; BENCH_ENGINE_SIZES, default 10,100; empty skips it), and the in-cluster loop
// (bench/inCluster.ts: latency of one change with 10 and 100 objects, and a run with one never-ready
// object against an all-healthy one; BENCH_LOOP_SIZES, BENCH_LOOP_CHANGES).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { measureEngine } from "./engine";
import { measureInCluster } from "./inCluster";
import { measureLatency } from "./latency";
import { measureStatusWrites } from "./status";
import { writeSpecs } from "./specs";

const SIZES = (process.env.BENCH_SIZES ?? "10,100,1000").split(",").filter(Boolean).map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const MODES = ["program", "floor", "render"] as const;
type Mode = (typeof MODES)[number];

interface Sample { ms: number; cpuMs: number; maxRssMB: number }

function measure(mode: Mode, folder: string): Sample {
  const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
  const out = execFileSync(tsx, [path.join(__dirname, "measure.ts"), mode, folder], { encoding: "utf8", maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split("\n").pop() as string);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const pct = (value: number, base: number) => `${value >= base ? "+" : ""}${(((value - base) / base) * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-bench-"));
  try {
    console.log(`crdstack bench: median of ${REPEAT} runs per mode, modes interleaved; node ${process.version}, ${os.cpus().length} cpus`);
    console.log("specs (TS+ES)   mode      time ms   cpu ms   peak RSS MB   vs floor (time, memory)");
    for (const size of SIZES) {
      const folder = path.join(root, String(size));
      writeSpecs(folder, size);
      const samples: Record<Mode, Sample[]> = { program: [], floor: [], render: [] };
      for (let i = 0; i < REPEAT; i++) for (const mode of MODES) samples[mode].push(measure(mode, folder));
      const pick = (mode: Mode, key: keyof Sample) => median(samples[mode].map((s) => s[key]));
      for (const mode of MODES) {
        const [ms, cpu, mb] = [pick(mode, "ms"), pick(mode, "cpuMs"), pick(mode, "maxRssMB")];
        const versus = mode === "program" ? `${pct(ms, pick("floor", "ms"))}, ${pct(mb, pick("floor", "maxRssMB"))}` : "";
        console.log(`${`${size}+${size}`.padEnd(15)} ${mode.padEnd(9)} ${ms.toFixed(0).padStart(8)} ${cpu.toFixed(0).padStart(8)} ${mb.toFixed(0).padStart(13)}   ${versus}`);
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (process.env.BENCH_LATENCY !== "0") console.log(await measureLatency(Number(process.env.BENCH_CHANGES ?? 200), 250));
  if (process.env.BENCH_STATUS !== "0") console.log(await measureStatusWrites(Number(process.env.BENCH_STATUS_OBJECTS ?? 1000)));
  const engineSizes = (process.env.BENCH_ENGINE_SIZES ?? "10,100").split(",").filter(Boolean).map(Number);
  if (engineSizes.length > 0) console.log(await measureEngine(engineSizes));
  const loopSizes = (process.env.BENCH_LOOP_SIZES ?? "10,100").split(",").filter(Boolean).map(Number);
  if (loopSizes.length > 0) console.log(await measureInCluster(loopSizes, Number(process.env.BENCH_LOOP_CHANGES ?? 20)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
