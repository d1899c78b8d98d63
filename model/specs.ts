// Collects custom-resource objects from any source into valid objects and per-object errors. One bad
// object never hides the others: it is reported and left out, and the rest go on.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { CustomObject, ObjectRef, parseObject } from "./objects";

export interface SpecError {
  /** The file the object came from, for the `files` source. */
  file?: string;
  ref: ObjectRef;
  path: string;
  message: string;
}

export interface Specs {
  /** Valid objects, in the order they were read. */
  objects: CustomObject[];
  errors: SpecError[];
}

/** A raw object and where it came from. */
export interface RawObject { raw: unknown; file?: string }

/** `<file>: <Kind> <namespace>/<name>: <field path>: <message>`, the line `validate` prints. */
export function formatError(error: SpecError): string {
  const where = error.file === undefined ? "" : `${error.file}: `;
  return `${where}${error.ref.kind} ${error.ref.namespace}/${error.ref.name}: ${error.path}: ${error.message}`;
}

/** The NodePorts an object asks for, with the field path of each. */
function nodePortsOf(object: CustomObject): [number, string][] {
  if (object.kind !== "EasyService") return [];
  return (object.spec.ports ?? []).flatMap((port, i) => (port.nodePort === undefined ? [] : [[port.nodePort, `spec.ports[${i}].nodePort`] as [number, string]]));
}

/**
 * Parses every object, then rejects the later of two objects that would clash in the cluster: the same
 * namespace and name, of either kind (both would make a Deployment and a Service of that name), or the
 * same NodePort, which is allocated cluster-wide.
 */
export function collectSpecs(entries: readonly RawObject[]): Specs {
  const objects: CustomObject[] = [];
  const errors: SpecError[] = [];
  const owners = new Map<string, CustomObject>();
  const nodePorts = new Map<number, CustomObject>();
  for (const { raw, file } of entries) {
    const parsed = parseObject(raw);
    if (!parsed.ok) {
      errors.push(...parsed.problems.map((problem) => ({ file, ref: parsed.ref, ...problem })));
      continue;
    }
    const key = `${parsed.ref.namespace}/${parsed.ref.name}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      errors.push({
        file,
        ref: parsed.ref,
        path: "metadata.name",
        message: `${JSON.stringify(parsed.ref.name)} is already used by ${owner.kind} ${key}, whose children have the same names`,
      });
      continue;
    }
    const taken = nodePortsOf(parsed.object).filter(([port]) => nodePorts.has(port));
    if (taken.length > 0) {
      for (const [port, path] of taken) {
        const holder = nodePorts.get(port)!;
        errors.push({ file, ref: parsed.ref, path, message: `${port} is already used by ${holder.kind} ${holder.metadata.namespace}/${holder.metadata.name}` });
      }
      continue;
    }
    for (const [port] of nodePortsOf(parsed.object)) nodePorts.set(port, parsed.object);
    owners.set(key, parsed.object);
    objects.push(parsed.object);
  }
  return { objects, errors };
}

/** The YAML files named, folders searched recursively, in a stable order. */
export function specFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const entry of paths) {
    if (!fs.existsSync(entry)) throw new Error(`${entry}: no such file or folder`);
    if (fs.statSync(entry).isDirectory()) {
      const children = fs.readdirSync(entry).sort().map((child) => path.join(entry, child));
      files.push(...specFiles(children.filter((child) => fs.statSync(child).isDirectory() || /\.ya?ml$/.test(child))));
    } else {
      files.push(entry);
    }
  }
  return files;
}

/** Reads the objects of every YAML document in `paths`; YAML syntax errors are reported per document. */
export function readSpecFiles(paths: readonly string[]): { entries: RawObject[]; errors: SpecError[] } {
  const entries: RawObject[] = [];
  const errors: SpecError[] = [];
  for (const file of specFiles(paths)) {
    parseAllDocuments(fs.readFileSync(file, "utf8")).forEach((document, index) => {
      const ref = { kind: "document", namespace: "-", name: String(index + 1) };
      if (document.errors.length > 0) {
        errors.push({ file, ref, path: "(yaml)", message: document.errors[0].message.split("\n")[0] });
        return;
      }
      const raw = document.toJS();
      if (raw !== null && raw !== undefined) entries.push({ raw, file });
    });
  }
  return { entries, errors };
}

/** The `files` source: every object in the YAML files under `paths`. */
export function loadSpecFiles(paths: readonly string[]): Specs {
  const { entries, errors } = readSpecFiles(paths);
  const specs = collectSpecs(entries);
  return { objects: specs.objects, errors: [...errors, ...specs.errors] };
}
