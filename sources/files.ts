// The spec files: custom-resource objects read from YAML and JSON files and folders, as `validate`,
// `render` and the program's `files` source see them. A document that cannot be read costs only itself.
import * as fs from "node:fs";
import * as path from "node:path";
import { loadAll, YAMLException } from "js-yaml";
import { quote } from "../model/common";
import { collectSpecs, RawObject, SpecError, Specs } from "../model/specs";

/** The files a folder is searched for, as `kubectl apply -f <folder>` does. */
const SPEC_FILE = /\.(ya?ml|json)$/;

/**
 * The kinds whose `items` are objects: what `kubectl get -o yaml` prints (`List`) and what the API
 * server returns for a LIST of one kind.
 */
const LIST_KINDS = new Set(["List", "TrackingServerList", "EasyServiceList"]);

/** Something that stops a document (1-based, in its file), or a part of it, from being read as objects. */
export interface DocumentError {
  document: number;
  path: string;
  message: string;
}

/** The documents of one file, numbered from 1, and what could not be read. */
export interface Documents {
  documents: { document: number; value: unknown }[];
  errors: DocumentError[];
}

function searchFolder(folder: string): string[] {
  return fs.readdirSync(folder).sort().flatMap((name) => {
    const child = path.join(folder, name);
    if (fs.statSync(child).isDirectory()) return searchFolder(child);
    return SPEC_FILE.test(name) ? [child] : [];
  });
}

/**
 * The files named (whatever their extension) and the `.yaml`, `.yml` and `.json` files of the folders
 * named, searched recursively, in a stable order. A missing path, or a folder without such files, is an
 * error: reading nothing there would look like a folder whose objects were all removed.
 */
export function specFiles(paths: readonly string[]): string[] {
  return paths.flatMap((entry) => {
    if (!fs.existsSync(entry)) throw new Error(`${entry}: no such file or folder`);
    if (!fs.statSync(entry).isDirectory()) return [entry];
    const files = searchFolder(entry);
    if (files.length === 0) throw new Error(`${entry}: no .yaml, .yml or .json files`);
    return files;
  });
}

const at = (line: number, column: number) => `at line ${line}, column ${column}`;

function yamlMessage(error: unknown, firstLine: number): string {
  if (!(error instanceof YAMLException)) return (error as Error).message;
  if (error.mark === undefined) return error.reason;
  return `${error.reason} ${at(firstLine + error.mark.line + 1, error.mark.column + 1)}`;
}

/**
 * Where the documents of a YAML stream start: at each `---` line, and at the stream's start when
 * something other than comments and directives comes before the first `---`. `line` counts from 0.
 */
function documentParts(text: string): { text: string; line: number }[] {
  const starts = [...text.matchAll(/^---(?=\s|$)/gm)].map((match) => match.index);
  const preamble = text.slice(0, starts[0] ?? text.length).split("\n");
  if (starts.length > 0 && preamble.every((line) => /^\s*([#%][^\n]*)?$/.test(line))) starts[0] = 0;
  else starts.unshift(0);
  let line = 0;
  return starts.map((start, i) => {
    const part = { text: text.slice(start, starts[i + 1] ?? text.length), line };
    line += part.text.split("\n").length - 1;
    return part;
  });
}

/**
 * The documents of one YAML stream. A syntax error costs only its own document: the stream is then read
 * document by document, and each bad one is reported with js-yaml's reason and its line in the stream.
 */
export function parseDocuments(text: string): Documents {
  try {
    return { documents: loadAll(text).map((value, i) => ({ document: i + 1, value })), errors: [] };
  } catch {
    const result: Documents = { documents: [], errors: [] };
    let count = 0;
    for (const part of documentParts(text)) {
      try {
        for (const value of loadAll(part.text)) result.documents.push({ document: ++count, value });
      } catch (error) {
        result.errors.push({ document: ++count, path: "(yaml)", message: yamlMessage(error, part.line) });
      }
    }
    return result;
  }
}

/** JSON.parse stops at `prefix`'s end, or finds nothing wrong in it. */
function acceptedSoFar(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (error) {
    const message = (error as Error).message;
    const stated = / at position (\d+)/.exec(message);
    return message.startsWith("Unexpected end of JSON input") || (stated !== null && Number(stated[1]) >= prefix.length);
  }
}

/**
 * Where JSON.parse failed, as an offset in `text`: the position its message states, else (V8 names an
 * unexpected token without its position) the end of the shortest prefix it fails on before its end.
 */
function jsonErrorOffset(text: string, message: string): number {
  const stated = / at position (\d+)/.exec(message);
  if (stated !== null) return Number(stated[1]);
  if (message.startsWith("Unexpected end of JSON input")) return text.length;
  let accepted = 0;
  let rejected = text.length;
  while (rejected - accepted > 1) {
    const middle = Math.floor((accepted + rejected) / 2);
    if (acceptedSoFar(text.slice(0, middle))) accepted = middle;
    else rejected = middle;
  }
  return rejected - 1;
}

/**
 * The one document of a JSON file. A syntax error names its line and column; the message never quotes
 * the text around it (V8 does, and a spec may hold keys).
 */
export function parseJson(text: string): Documents {
  const json = text.replace(/^\uFEFF/, "");
  try {
    return { documents: [{ document: 1, value: JSON.parse(json) }], errors: [] };
  } catch (error) {
    const message = (error as Error).message;
    const offset = jsonErrorOffset(json, message);
    const before = json.slice(0, offset).split("\n");
    const token = /^Unexpected token '(.+?)', /s.exec(message);
    const reason = token === null ? message.replace(/ at position \d+.*$/s, "").replace(/ in JSON$/, "") : `Unexpected token ${JSON.stringify(token[1])}`;
    return { documents: [], errors: [{ document: 1, path: "(json)", message: `${reason} ${at(before.length, before[before.length - 1].length + 1)}` }] };
  }
}

/** `5`, `"text"`, `null`, or what a collection is (its content may hold keys). */
function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return quote(value);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The objects of one document: the document itself, or the items of a List (`kind: List`,
 * `TrackingServerList`, `EasyServiceList`), a List in a List included. Anything else is an object for
 * `parseObject` to judge; an empty document has none.
 */
export function objectsOf(value: unknown, document: number, where = ""): { objects: unknown[]; errors: DocumentError[] } {
  if (value === null || value === undefined) return { objects: [], errors: [] };
  if (!isRecord(value) || typeof value.kind !== "string" || !LIST_KINDS.has(value.kind)) return { objects: [value], errors: [] };
  const items = value.items;
  const itemsPath = `${where}items`;
  if (items === undefined) return { objects: [], errors: [{ document, path: itemsPath, message: "is required" }] };
  if (!Array.isArray(items)) return { objects: [], errors: [{ document, path: itemsPath, message: `${describe(items)} is not an array` }] };
  const result: { objects: unknown[]; errors: DocumentError[] } = { objects: [], errors: [] };
  items.forEach((item, i) => {
    if (!isRecord(item)) {
      result.errors.push({ document, path: `${itemsPath}[${i}]`, message: `${describe(item)} is not an object` });
      return;
    }
    const found = objectsOf(item, document, `${itemsPath}[${i}].`);
    result.objects.push(...found.objects);
    result.errors.push(...found.errors);
  });
  return result;
}

/**
 * Reads the objects of every document of the files in `paths` (`.json` files as JSON, the others as
 * YAML). What stops a document from being read is an error of that document; a run that finds neither
 * an object nor such an error throws, like a missing path or an empty folder.
 */
export function readSpecFiles(paths: readonly string[]): { entries: RawObject[]; errors: SpecError[] } {
  const entries: RawObject[] = [];
  const errors: SpecError[] = [];
  const files = specFiles(paths);
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    const parsed = file.endsWith(".json") ? parseJson(text) : parseDocuments(text);
    const problems = [...parsed.errors];
    for (const { document, value } of parsed.documents) {
      const found = objectsOf(value, document);
      entries.push(...found.objects.map((raw) => ({ raw, file })));
      problems.push(...found.errors);
    }
    problems.sort((a, b) => a.document - b.document);
    errors.push(...problems.map((problem) => ({ file, ref: { document: problem.document }, path: problem.path, message: problem.message })));
  }
  if (entries.length === 0 && errors.length === 0) throw new Error(`${paths.join(", ")}: no objects in ${files.length === 1 ? "1 file" : `${files.length} files`}`);
  return { entries, errors };
}

/** Every object in the files under `paths`: the valid ones, and the errors of the others. */
export function loadSpecFiles(paths: readonly string[]): Specs {
  const { entries, errors } = readSpecFiles(paths);
  const specs = collectSpecs(entries);
  return { objects: specs.objects, errors: [...errors, ...specs.errors] };
}
