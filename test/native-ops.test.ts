// The native op table and its TypeScript declaration list the same functions: the names of
// `Object.keys(ops)` (the addon, loaded as lib/native.ts loads it) against the members of the
// `NativeOps` interface of lib/native.ts (and of the interfaces it extends), read from the source
// with the TypeScript compiler API. An op the addon registers without a declaration cannot be
// called from TypeScript; a declared op the addon lacks fails only when called.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

import { ops } from '../lib/native';

const NATIVE_TS = path.join(__dirname, '..', 'lib', 'native.ts');

/**
 * The member names of interface `name` in `source` (a file's text), with those of the
 * interfaces it extends, declared in the same file (all declarations of a name merge, as
 * TypeScript merges them).
 * @throws Error for what the comparison cannot account for: no such interface, a base declared
 *   elsewhere, a computed name, an index or call signature
 */
function interfaceMembers(source: string, name: string, fileName = 'source.ts'): Set<string> {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const declarations = new Map<string, ts.InterfaceDeclaration[]>();
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node)) declarations.set(node.name.text, [...(declarations.get(node.name.text) ?? []), node]);
    ts.forEachChild(node, visit);
  };
  visit(file);
  const members = new Set<string>();
  const seen = new Set<string>();
  const collect = (interfaceName: string, from: string): void => {
    if (seen.has(interfaceName)) return;
    seen.add(interfaceName);
    const found = declarations.get(interfaceName);
    if (found === undefined) throw new Error(`${from}: interface ${interfaceName} is not declared in ${fileName}, so its members cannot be listed`);
    for (const declaration of found) {
      for (const clause of declaration.heritageClauses ?? []) {
        for (const base of clause.types) collect(base.expression.getText(file), `interface ${interfaceName} extends ${base.getText(file)}`);
      }
      for (const member of declaration.members) {
        const where = `interface ${interfaceName}: ${member.getText(file).split('\n')[0]}`;
        if (!ts.isPropertySignature(member) && !ts.isMethodSignature(member)) throw new Error(`${where}: only named properties and methods can be compared`);
        if (!ts.isIdentifier(member.name) && !ts.isStringLiteral(member.name) && !ts.isNumericLiteral(member.name)) {
          throw new Error(`${where}: a computed name cannot be compared`);
        }
        members.add(member.name.text);
      }
    }
  };
  collect(name, fileName);
  return members;
}

describe('native op table', () => {
  it('the member names are read from interfaces, the bases they extend and merged declarations', () => {
    const source = `
      interface Base { inherited(): void; 'quoted': number; }
      export interface Ops extends Base { add(a: number): number; add(a: string): string; field: () => void; }
      interface Ops { merged(): void; }
      interface Other { notIncluded(): void; }`;
    assert.deepEqual([...interfaceMembers(source, 'Ops')].sort(), ['add', 'field', 'inherited', 'merged', 'quoted']);
    assert.throws(() => interfaceMembers('interface Ops extends Elsewhere { a(): void }', 'Ops'), /interface Elsewhere is not declared/);
    assert.throws(() => interfaceMembers('interface Ops { [name: string]: () => void }', 'Ops'), /only named properties and methods/);
    assert.throws(() => interfaceMembers('interface Other {}', 'Ops'), /interface Ops is not declared/);
  });

  it("lists the same functions as lib/native.ts's NativeOps", () => {
    const declared = interfaceMembers(fs.readFileSync(NATIVE_TS, 'utf8'), 'NativeOps', 'lib/native.ts');
    const registered = new Set(Object.keys(ops));
    assert.ok(registered.size > 0, 'the addon registers no ops at all');
    const undeclared = [...registered].filter((name) => !declared.has(name)).sort();
    const missing = [...declared].filter((name) => !registered.has(name)).sort();
    const problems = [
      ...(undeclared.length > 0 ? [`the addon has ops that NativeOps (lib/native.ts) does not declare: ${undeclared.join(', ')}`] : []),
      ...(missing.length > 0 ? [`NativeOps (lib/native.ts) declares ops that the addon lacks: ${missing.join(', ')}`] : []),
    ];
    assert.deepEqual(problems, [], problems.join('; '));
  });

  it('every op is a function', () => {
    const notFunctions = Object.entries(ops as unknown as Record<string, unknown>)
      .filter(([, value]) => typeof value !== 'function')
      .map(([name, value]) => `${name} (${typeof value})`);
    assert.deepEqual(notFunctions, [], `ops that are not functions: ${notFunctions.join(', ')}`);
  });
});
