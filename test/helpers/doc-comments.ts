/**
 * Reads a module's exports with the TypeScript compiler API: which exports lack a doc comment or an `@example`,
 * and whether the examples type-check against the module. Used by the SDK reference tests.
 */
import { dirname, join } from "node:path";
import ts from "typescript";

/** One export that falls short of the documentation rule. */
export interface ExportDocProblem {
  name: string;
  problem: "no doc comment" | "no @example";
}

/** One fenced code block from an export's `@example` tag. */
export interface DocExample {
  /** The export it documents. */
  name: string;
  code: string;
}

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2023,
  lib: ["lib.es2023.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noEmit: true,
  allowImportingTsExtensions: true,
  skipLibCheck: true,
  // A skill runs in an isolate with no Node APIs: its examples get none either.
  types: [],
};

/** Every export of `entryFile` (following re-exports), with its resolved symbol. */
function exportsOf(entryFile: string): { checker: ts.TypeChecker; exports: Array<[string, ts.Symbol]> } {
  const program = ts.createProgram([entryFile], compilerOptions);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entryFile);
  if (source === undefined) throw new Error(`cannot read ${entryFile}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) return { checker, exports: [] };
  const exports = checker.getExportsOfModule(moduleSymbol).map((exported): [string, ts.Symbol] => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    return [exported.getName(), symbol];
  });
  return { checker, exports };
}

function exampleTexts(symbol: ts.Symbol, checker: ts.TypeChecker): string[] {
  return symbol
    .getJsDocTags(checker)
    .filter((tag) => tag.name === "example")
    .map((tag) => ts.displayPartsToString(tag.text));
}

/** The exports of `entryFile` without a doc comment, or without an `@example`, in export order. */
export function exportDocProblems(entryFile: string): ExportDocProblem[] {
  const { checker, exports } = exportsOf(entryFile);
  const problems: ExportDocProblem[] = [];
  for (const [name, symbol] of exports) {
    if (ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === "") {
      problems.push({ name, problem: "no doc comment" });
    } else if (exampleTexts(symbol, checker).every((text) => text.trim() === "")) {
      problems.push({ name, problem: "no @example" });
    }
  }
  return problems;
}

/** The fenced `ts` code blocks of every export's `@example` tags. */
export function docExamples(entryFile: string): DocExample[] {
  const { checker, exports } = exportsOf(entryFile);
  const examples: DocExample[] = [];
  for (const [name, symbol] of exports) {
    for (const text of exampleTexts(symbol, checker)) {
      for (const match of text.matchAll(/```(?:ts|typescript)\n([\s\S]*?)```/g))
        examples.push({ name, code: match[1]! });
    }
  }
  return examples;
}

/**
 * Type-check each example as a module of its own, with `importNames` resolving to `entryFile`. Returns the
 * diagnostics per example (empty when it compiles).
 */
export function checkExamples(options: {
  entryFile: string;
  examples: DocExample[];
  importNames: string[];
}): Array<{ name: string; errors: string[] }> {
  const { entryFile, examples, importNames } = options;
  // Virtual files next to the entry, so they are ES modules under the same package.json.
  const files = new Map(examples.map((example, i) => [join(dirname(entryFile), `__doc-example-${i}.ts`), example]));
  const paths = Object.fromEntries(importNames.map((name) => [name, [entryFile]]));
  const host = ts.createCompilerHost({ ...compilerOptions, paths });
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (fileName) => files.has(fileName) || fileExists(fileName);
  host.readFile = (fileName) => files.get(fileName)?.code ?? readFile(fileName);
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    const example = files.get(fileName);
    return example === undefined
      ? getSourceFile(fileName, languageVersion, ...rest)
      : ts.createSourceFile(fileName, example.code, languageVersion, true);
  };
  const program = ts.createProgram([...files.keys()], { ...compilerOptions, paths }, host);
  return [...files].map(([fileName, example]) => ({
    name: example.name,
    errors: ts
      .getPreEmitDiagnostics(program, program.getSourceFile(fileName))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")),
  }));
}
