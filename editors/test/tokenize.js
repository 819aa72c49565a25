// Tokenises every .kpi file of the repository with the TextMate grammar
// (editors/vscode/syntaxes/kpi.tmLanguage.json): proof that the grammar loads, and that its keywords,
// comments, strings, numbers and names get their scopes. Run by .ci/run.
'use strict';

const fs = require('fs');
const path = require('path');
const textmate = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.resolve(__dirname, '..', '..');
const grammarPath = path.join(root, 'editors', 'vscode', 'syntaxes', 'kpi.tmLanguage.json');

function kpiFiles(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    // Not build output, dependencies or the (uncommitted) fuzz corpus: the same files everywhere.
    if (entry.name.startsWith('.') || ['target', 'node_modules', 'corpus'].includes(entry.name)) {
      continue;
    }
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      kpiFiles(full, out);
    } else if (entry.name.endsWith('.kpi')) {
      out.push(full);
    }
  }
  return out;
}

// What each kind of word must be scoped as, wherever it stands outside comments and strings.
const expected = [
  // Item keywords start a line; elsewhere the words are names (`tags [sales, funnel]`).
  [/^(kpi|view|let|funnel|cohort)$/, 'keyword.declaration.kpi', 'first'],
  [/^(title|description|owner|tags|value|target|warn|every|by|when)$/, 'keyword'],
  [/^(where|join|per)$/, 'keyword.control.kpi'],
  [/^(and|or|not|between)$/, 'keyword.operator.word.kpi'],
  [/^(true|false|null)$/, 'constant.language.kpi'],
  [/^#/, 'comment.line.number-sign.kpi'],
  [/^"/, 'string.quoted.double.kpi'],
  [/^\d/, 'constant.numeric'],
];

async function main() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.kpi') {
        return null;
      }
      const text = fs.readFileSync(grammarPath, 'utf8');
      return textmate.parseRawGrammar(text, grammarPath);
    },
  });
  const grammar = await registry.loadGrammar('source.kpi');
  if (!grammar) {
    throw new Error('the grammar did not load');
  }
  const files = kpiFiles(root, []).sort();
  if (files.length < 10) {
    throw new Error(`only ${files.length} .kpi files found under ${root}`);
  }
  const failures = [];
  const seen = new Map();
  let tokens = 0;
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    let state = textmate.INITIAL;
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, state);
      state = result.ruleStack;
      for (const token of result.tokens) {
        tokens += 1;
        const text = line.slice(token.startIndex, token.endIndex).trim();
        const scopes = token.scopes.join(' ');
        // Inside a comment or a string, words are text; a declared name is a name.
        if ((/comment|string/.test(scopes) && !/^["#]/.test(text)) || /entity\.name/.test(scopes)) {
          continue;
        }
        const first = line.slice(0, token.startIndex).trim() === '';
        for (const [pattern, scope, where] of expected) {
          if (!pattern.test(text) || (where === 'first' && !first)) {
            continue;
          }
          seen.set(scope, (seen.get(scope) || 0) + 1);
          if (!scopes.includes(scope)) {
            failures.push(`${path.relative(root, file)}:${i + 1}: \`${text}\` is scoped ${scopes}, not ${scope}`);
          }
        }
      }
    });
  }
  // Declared names in any script are names: the whole word, not its ASCII part.
  for (const [line, name] of [['kpi выручка {', 'выручка'], ['view Оплаты_2026 = продажи', 'Оплаты_2026'], ['kpi 売上 {', '売上']]) {
    const token = grammar.tokenizeLine(line, textmate.INITIAL).tokens
      .find((t) => line.slice(t.startIndex, t.endIndex) === name);
    if (!token || !token.scopes.join(' ').includes('entity.name')) {
      failures.push(`\`${name}\` in \`${line}\` is not scoped as a declared name`);
    }
  }
  for (const [, scope] of expected) {
    if (!seen.has(scope)) {
      failures.push(`no token of the files was expected to be ${scope}: the check checked nothing`);
    }
  }
  if (failures.length > 0) {
    console.error(failures.slice(0, 40).join('\n'));
    console.error(`${failures.length} tokens scoped wrongly`);
    process.exit(1);
  }
  console.log(`the grammar scoped ${tokens} tokens of ${files.length} .kpi files as expected`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
