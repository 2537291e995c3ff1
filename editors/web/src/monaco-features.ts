// The syntax (Monarch grammars, each loaded when a file of its language
// opens) of the languages the page names in lsp.ts, instead of all ~80.

import "@codingame/monaco-vscode-standalone-languages/rust/rust.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/typescript/typescript.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/javascript/javascript.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/python/python.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/markdown/markdown.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/go/go.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/cpp/cpp.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/java/java.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/shell/shell.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/yaml/yaml.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/ini/ini.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/html/html.contribution.js";
import "@codingame/monaco-vscode-standalone-languages/css/css.contribution.js";
